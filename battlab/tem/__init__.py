"""In situ TEM: readers, electron optics and dose, SAED/FFT phase ID, fronts, nucleation, EELS.

``open_tem`` reads Gatan, FEI TIA, Velox/NCEM EMD, MRC, TIFF and .npy files into
calibrated ``xarray.DataArray`` objects (images, lazy movies, diffraction patterns,
spectra). The analyses are plain functions in the submodules:

* :mod:`battlab.tem.physics` — relativistic wavelength, camera equation, dose and budget;
"""

from battlab.tem.io import open_tem
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
    interaction_constant_rad_per_V_nm,
    radius_from_d_px,
)

__all__ = ["open_tem", "electron_wavelength_pm", "interaction_constant_rad_per_V_nm", "camera_constant_px_A",
           "camera_length_mm", "d_from_radius_A", "radius_from_d_px", "dose_rate_tem", "dose_rate_stem",
           "dose_rate_to_current_density_mA_cm2", "cumulative_dose", "dose_budget"]
