"""Imaging foundation: lazy calibrated movies, frame timing against the cycler, drift.

``open_movie`` reads TIFF / OME-TIFF stacks, image sequences and AVI/MP4/MOV video into
a dask-backed ``xarray.DataArray`` (time, y, x, channel); ``per_frame_echem`` gives each
frame the cell's potential, current and charge; ``estimate_drift`` / ``apply_drift``
measure and undo stage drift. :mod:`battlab.imaging.presets` says what an image of each
technique means (neutron radiography/tomography, MRI, X-ray CT, electron holography) and
holds the radiography (Beer–Lambert, areal density) and ⁷Li chemical-shift-imaging steps.
"""

from battlab.imaging.drift import apply_drift, estimate_drift, phase_shift
from battlab.imaging.movie import frame_times_from_csv, open_movie
from battlab.imaging.presets import (
    IMAGING_PRESETS,
    NEUTRON_CROSS_SECTIONS_BARN,
    apply_preset,
    areal_density,
    attenuation_change,
    csi_signal_maps,
    display_limits,
    imaging_preset,
    li_metal_signal_fraction,
    radiograph_attenuation,
    roi_attenuation,
)
from battlab.imaging.timing import per_frame_echem

__all__ = ["open_movie", "frame_times_from_csv", "per_frame_echem", "estimate_drift", "apply_drift",
           "phase_shift", "IMAGING_PRESETS", "NEUTRON_CROSS_SECTIONS_BARN", "imaging_preset", "apply_preset",
           "display_limits", "radiograph_attenuation", "attenuation_change", "roi_attenuation", "areal_density",
           "csi_signal_maps", "li_metal_signal_fraction"]
