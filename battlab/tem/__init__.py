"""In situ TEM: readers, electron optics and dose, SAED/FFT phase ID, fronts, nucleation, EELS.

``open_tem`` reads Gatan, FEI TIA, Velox/NCEM EMD, MRC, TIFF and .npy files into
calibrated ``xarray.DataArray`` objects (images, lazy movies, diffraction patterns,
spectra). The analyses are plain functions in the submodules:

* :mod:`battlab.tem.physics` — relativistic wavelength, camera equation, dose and budget;
* :mod:`battlab.tem.saed` — SAED centre, azimuthal profiles, rings, calibration, phase
  matching, ring intensities → phase fraction; HRTEM FFT spots and d(t);
* :mod:`battlab.tem.phases` — reference d-spacings of battery phases;
* :mod:`battlab.tem.movie` — drift correction, temporal/PCA denoising, polarity;
* :mod:`battlab.tem.fronts` — front detection and kinetic model fits;
* :mod:`battlab.tem.nucleation` — N(t), growth exponents, size distributions,
  Scharifker–Hills;
* :mod:`battlab.tem.morphometry` — per-frame size, named expansion, critical size;
* :mod:`battlab.tem.eels` — calibration, background, edges, maps, thickness, PCA/NMF of
  spectrum images (EELS and EDS);
* :mod:`battlab.tem.eds` — EDS two-line calibration, line integration with windows either
  side, Cliff–Lorimer at.%, element and composition maps chunk by chunk;
* :mod:`battlab.tem.stem4d` — 4D-STEM virtual BF/ADF/annulus images, mean/max patterns and
  centre-of-mass shift maps, block by block over scan positions;
* :mod:`battlab.tem.holography` — off-axis holograms → phase, phase profiles, projected
  and mean inner potential, potential steps across interfaces.

Kymographs and particle detection/linking are shared imaging tools
(:mod:`battlab.imaging.kymograph`, :mod:`battlab.imaging.particles`).
"""

from battlab.imaging.kymograph import kymograph
from battlab.imaging.particles import detect_particles, link_particles
from battlab.tem.eds import (
    K_FACTORS,
    XRAY_LINES,
    calibrate_eds_energy,
    cliff_lorimer,
    composition_maps,
    eds_element_maps,
    line_intensity,
    line_table,
)
from battlab.tem.eels import (
    EDGES,
    calibrate_energy,
    decompose_spectrum_image,
    edge_map,
    edge_onset,
    edge_shift_series,
    edge_signal,
    edge_table,
    log_ratio_thickness,
    powerlaw_background,
)
from battlab.tem.fronts import (
    detect_front,
    fit_front_models,
    fit_shrinking_core,
    fit_two_regime,
    front_velocity,
    shrinking_core_conversion,
)
from battlab.tem.holography import (
    as_phase_image,
    find_sideband,
    looks_like_hologram,
    mean_inner_potential,
    phase_profile,
    potential_step,
    projected_potential,
    reconstruct_phase,
)
from battlab.tem.io import open_tem
from battlab.tem.morphometry import (
    expansion_pct,
    fit_critical_size,
    frame_morphometry,
    volume_ratio,
    wire_width_profile,
)
from battlab.tem.movie import correct_drift, invert_polarity, pca_denoise, temporal_average
from battlab.tem.nucleation import (
    EXPECTED_EXPONENTS,
    classify_transient,
    count_vs_time,
    fit_growth_exponent,
    fit_nucleation,
    scharifker_hills,
    size_distribution,
)
from battlab.tem.phases import TEM_PHASES, reflections
from battlab.tem.physics import (
    camera_constant_px_A,
    camera_length_mm,
    cumulative_dose,
    d_from_radius_A,
    dose_budget,
    dose_rate_stem,
    dose_rate_tem,
    dose_rate_to_current_density_mA_cm2,
    electron_wavelength_pm,
    fit_dose_threshold,
    interaction_constant_rad_per_V_nm,
    radius_from_d_px,
)
from battlab.tem.saed import (
    GPA_COMPONENTS,
    azimuthal_profile,
    azimuthal_profiles,
    calibrate_camera,
    d_candidates,
    fft_spots,
    find_center,
    find_rings,
    gpa_strain,
    gpa_strain_tensor,
    lattice_spacing_series,
    match_phases,
    phase_fraction_from_rings,
    ring_intensities,
)
from battlab.tem.stem4d import center_of_mass, max_pattern, mean_pattern, virtual_image

__all__ = [
    "open_tem",
    # physics and dose
    "electron_wavelength_pm", "interaction_constant_rad_per_V_nm", "camera_constant_px_A", "camera_length_mm",
    "d_from_radius_A", "radius_from_d_px", "dose_rate_tem", "dose_rate_stem", "dose_rate_to_current_density_mA_cm2",
    "cumulative_dose", "dose_budget", "fit_dose_threshold",
    # diffraction and FFT
    "TEM_PHASES", "reflections", "find_center", "azimuthal_profile", "azimuthal_profiles", "find_rings",
    "calibrate_camera", "d_candidates", "match_phases", "ring_intensities", "phase_fraction_from_rings", "fft_spots", "gpa_strain",
    "gpa_strain_tensor", "GPA_COMPONENTS",
    "lattice_spacing_series",
    # movies, fronts, particles
    "kymograph", "detect_particles", "link_particles", "correct_drift", "temporal_average", "pca_denoise", "invert_polarity", "detect_front", "fit_front_models",
    "fit_two_regime", "front_velocity", "fit_shrinking_core", "shrinking_core_conversion",
    "count_vs_time", "fit_nucleation", "fit_growth_exponent", "size_distribution", "scharifker_hills",
    "classify_transient", "EXPECTED_EXPONENTS", "frame_morphometry", "volume_ratio", "expansion_pct",
    "wire_width_profile", "fit_critical_size",
    # EELS
    "EDGES", "calibrate_energy", "decompose_spectrum_image", "powerlaw_background", "edge_signal", "edge_onset", "edge_shift_series", "edge_table", "edge_map",
    "log_ratio_thickness",
    # EDS
    "XRAY_LINES", "K_FACTORS", "calibrate_eds_energy", "line_intensity", "line_table", "cliff_lorimer",
    "eds_element_maps", "composition_maps",
    # 4D-STEM
    "virtual_image", "mean_pattern", "max_pattern", "center_of_mass",
    # electron holography
    "as_phase_image", "find_sideband", "looks_like_hologram", "reconstruct_phase", "phase_profile",
    "projected_potential", "mean_inner_potential", "potential_step",
]
