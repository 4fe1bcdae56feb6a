"""Atomic force microscopy: readers, topography, nanomechanics, EC-AFM series, electrical modes.

``read_afm`` reads image channels (Gwyddion, Nanoscope, JPK, text/TIFF maps) into
calibrated ``xarray.DataArray`` maps; ``read_force_curves`` reads force–distance curves
into a tidy table. Analyses are plain functions on those objects.
"""

from battlab.afm.ecafm import (
    frame_potentials,
    line_step_series,
    register_series,
    stack_frames,
    step_height_series,
    thickness_series,
    volume_change_series,
)
from battlab.afm.electrical import current_statistics, iv_analysis, work_function_map
from battlab.afm.force import fit_force_curve, fit_force_curves, fit_force_map, modulus_vs_depth
from battlab.afm.io import height_map, read_afm, read_afm_frames, read_force_curves
from battlab.afm.topography import (
    feature_mask,
    grain_summary,
    height_histogram,
    level,
    level_lines,
    level_plane,
    level_polynomial,
    line_profile,
    line_roughness,
    profile_roughness,
    profile_step_height,
    psd,
    region_mask,
    remove_scars,
    roughness,
    segment_grains,
    step_height,
)

__all__ = ["read_afm", "read_afm_frames", "read_force_curves", "height_map",
           "level", "level_plane", "level_polynomial", "level_lines", "feature_mask", "remove_scars",
           "roughness", "line_roughness", "height_histogram", "psd", "segment_grains", "grain_summary", "step_height",
           "line_profile", "profile_roughness", "profile_step_height", "region_mask",
           "fit_force_curve", "fit_force_curves", "fit_force_map", "modulus_vs_depth",
           "register_series", "stack_frames", "frame_potentials", "line_step_series", "thickness_series",
           "step_height_series", "volume_change_series",
           "current_statistics", "iv_analysis", "work_function_map"]
