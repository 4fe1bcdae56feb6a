"""Per-technique defaults the apps and the command line start from.

Each entry: ``axis`` (coordinate name), ``axis_reversed`` (plotted high → low, as is the
convention for FTIR, XPS and NMR), ``baseline`` (method and options for
:func:`battlab.spectra.analysis.baseline`), ``smoothing`` (Savitzky–Golay points and
order, ``None`` = off by default), ``windows`` (band name -> (low, high) in axis units
for :func:`~battlab.spectra.analysis.track_bands`/integration) and, where a fit is the
usual analysis, ``components`` or ``regions``. Numbers are typical literature values,
meant as starting points.
"""

from __future__ import annotations

import copy

from battlab.errors import InvalidParameterError
from battlab.spectra.epr import LI_METAL_COMPONENTS
from battlab.spectra.mossbauer import LFP_SITES
from battlab.spectra.xps import SEI_COMPONENTS

__all__ = ["PRESETS", "preset"]

PRESETS = {
    "raman": {
        "axis": "wavenumber_cm1", "units": "cm⁻¹", "axis_reversed": False,
        # λ = 1e7: stiff enough to pass under the broad (≈ 50 cm⁻¹) D band; 1e6 takes ~4 % of its height.
        "baseline": {"method": "als", "lam": 1e7, "p": 0.01},
        "smoothing": {"window_points": 7, "order": 3},
        "model": "lorentzian",
        # Graphite/carbon: D ≈ 1350, G ≈ 1580 (→ ≈ 1600 cm⁻¹ when lithiated); Si: c-Si ≈ 520, a-Si ≈ 480.
        "windows": {"D": (1250.0, 1450.0), "G": (1500.0, 1700.0)},
        "other_windows": {"c-Si": (490.0, 550.0), "a-Si": (400.0, 510.0)},
    },
    "ftir": {
        "axis": "wavenumber_cm1", "units": "cm⁻¹", "axis_reversed": True,
        "baseline": {"method": "polynomial", "order": 2},
        "smoothing": None,
        "model": "pseudo_voigt",
        # Carbonate-electrolyte decomposition and SEI bands (absorbance, ATR).
        "windows": {"C=O (EC/DMC)": (1700.0, 1850.0), "ROCO2Li / Li2CO3": (1550.0, 1700.0),
                    "Li2CO3 CO3 stretch": (1380.0, 1550.0), "P–F (PF6⁻)": (800.0, 900.0)},
    },
    "xps": {
        "axis": "binding_energy_eV", "units": "eV", "axis_reversed": True,
        "baseline": {"method": "shirley", "n_iter": 50, "tol": 1e-6},
        "smoothing": None,
        "model": "pseudo_voigt",
        "charge_reference_eV": 284.8,  # adventitious C–C/C–H
        "regions": {"C 1s": (280.0, 295.0), "F 1s": (680.0, 692.0), "O 1s": (525.0, 537.0),
                    "P 2p": (130.0, 141.0), "Li 1s": (50.0, 60.0)},
        "components": SEI_COMPONENTS,
    },
    "xas": {
        "axis": "energy_eV", "units": "eV", "axis_reversed": False,
        "baseline": {"method": "none"},
        "smoothing": None,
        "normalization": {"pre": (-150.0, -30.0), "post": (50.0, 300.0), "pre_order": 1, "post_order": 2},
        "e0_method": "max_derivative",
        "lcf_window": (-20.0, 50.0),
        "white_line_range": (-5.0, 30.0),
    },
    "nmr": {
        "axis": "shift_ppm", "units": "ppm", "axis_reversed": True,
        "baseline": {"method": "linear"},
        "smoothing": None,
        "windows": {"Li metal": (200.0, 300.0), "diamagnetic": (-50.0, 50.0)},
    },
    "mossbauer": {
        "axis": "velocity_mm_s", "units": "mm/s", "axis_reversed": False,
        "baseline": {"method": "none"},  # the off-resonance level is part of the fit
        "smoothing": None,
        # ⁵⁷Fe, vs α-Fe: LiFePO4 (Fe²⁺) and FePO4 (Fe³⁺) quadrupole doublets.
        "sites": LFP_SITES,
        "fit_baseline": "constant",
        "weights": "poisson",
        "shift_reference_mm_s": 0.0,
    },
    "epr": {
        "axis": "field_mT", "units": "mT", "axis_reversed": False,
        "baseline": {"method": "none"},  # the double integration corrects its own baselines
        "smoothing": None,
        # Conduction electrons of Li metal: narrow (microstructured) and broad (bulk) lines.
        "components": LI_METAL_COMPONENTS,
        "line_shape": "dysonian",
        "baseline_fraction": 0.1,
    },
}


def preset(technique: str) -> dict:
    """A deep copy of :data:`PRESETS` ``[technique]`` (safe to modify)."""
    if technique not in PRESETS:
        raise InvalidParameterError(f"no preset for {technique!r}; choose one of {list(PRESETS)}.")
    return copy.deepcopy(PRESETS[technique])
