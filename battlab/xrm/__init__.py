"""X-ray microscopy and tomography: volumes, segmentation, microstructure metrics,
tortuosity, reconstruction for teaching, XANES chemical maps and calculators."""

from battlab.xrm.calc import attenuation_coefficient, effective_pixel_size_um, geometric_magnification, transmission
from battlab.xrm.io import VOLUME_SUFFIXES, describe_volume, make_volume, open_volume, write_zarr_volume
from battlab.xrm.metrics import (
    connected_porosity,
    crack_table,
    local_thickness,
    particle_changes,
    particle_table,
    phase_fractions,
    porosity,
    size_distribution,
    slice_profile,
    specific_surface_area,
)
from battlab.xrm.recon import (
    find_rotation_center,
    normalize_projections,
    reconstruct,
    reconstruction_error,
    remove_rings,
    sinogram,
)
from battlab.xrm.segment import (
    clean_labels,
    drop_small_labels,
    find_thresholds,
    histogram,
    label_polygon,
    phase_mask,
    polygon_mask,
    segment,
    split_particles,
)
from battlab.xrm.tortuosity import diffusivity_field, tortuosity
from battlab.xrm.xanes import (
    edge_energy_map,
    lcf_maps,
    make_xanes_stack_array,
    normalize_stack,
    particle_soc,
    sample_mask,
    soc_histogram,
    stack_pca,
    white_line_map,
)

__all__ = ["VOLUME_SUFFIXES", "describe_volume", "make_volume", "open_volume", "write_zarr_volume",
           "histogram", "find_thresholds", "segment", "clean_labels", "split_particles", "phase_mask", "drop_small_labels",
           "polygon_mask", "label_polygon",
           "phase_fractions", "porosity", "slice_profile", "connected_porosity", "specific_surface_area",
           "local_thickness", "size_distribution", "particle_table", "crack_table", "particle_changes",
           "tortuosity", "diffusivity_field",
           "normalize_projections", "sinogram", "reconstruct", "find_rotation_center", "remove_rings",
           "reconstruction_error",
           "transmission", "attenuation_coefficient", "geometric_magnification", "effective_pixel_size_um",
           "make_xanes_stack_array", "normalize_stack", "edge_energy_map", "white_line_map", "lcf_maps",
           "particle_soc", "soc_histogram", "stack_pca", "sample_mask"]
