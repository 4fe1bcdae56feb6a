"""X-ray diffraction: readers, peak fits, Bragg d-spacings, operando tracking, lattice
parameters, crystallite size and strain, reference sticks of battery phases.

Generic baselines and peak shapes live in :mod:`battlab.peaks` (shared with spectroscopy).
"""

from battlab.diffraction.analysis import (
                                          background,
                                          doublet_for,
                                          find_pattern_peaks,
                                          fit_pattern,
                                          lattice_series,
                                          phase_fractions,
                                          subtract_background,
                                          suggest_windows,
                                          track_peaks,
)
from battlab.diffraction.bragg import (
                                          ANODES,
                                          LatticeFit,
                                          d_hkl_A,
                                          d_spacing_A,
                                          fit_lattice,
                                          scherrer_size_nm,
                                          strain,
                                          two_theta_deg,
                                          wavelength_A,
                                          williamson_hall,
)
from battlab.diffraction.integrate import integrate_image, integrate_images, load_poni
from battlab.diffraction.io import (
                                          load_pattern,
                                          load_series,
                                          make_pattern,
                                          read_hdf5_series,
                                          read_xrdml,
                                          read_xy,
                                          stack_patterns,
)
from battlab.diffraction.references import PHASES, reference_sticks

__all__ = [
                                          "ANODES",
                                          "PHASES",
                                          "LatticeFit",
                                          "background",
                                          "d_hkl_A",
                                          "d_spacing_A",
                                          "doublet_for",
                                          "find_pattern_peaks",
                                          "fit_lattice",
                                          "fit_pattern",
                                          "integrate_image",
                                          "integrate_images",
                                          "lattice_series",
                                          "load_pattern",
                                          "load_poni",
                                          "load_series",
                                          "make_pattern",
                                          "phase_fractions",
                                          "read_hdf5_series",
                                          "read_xrdml",
                                          "read_xy",
                                          "reference_sticks",
                                          "scherrer_size_nm",
                                          "stack_patterns",
                                          "strain",
                                          "subtract_background",
                                          "suggest_windows",
                                          "track_peaks",
                                          "two_theta_deg",
                                          "wavelength_A",
                                          "williamson_hall",
]
