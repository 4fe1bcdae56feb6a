"""Operando spectroscopy: Raman/FTIR, XPS, XAS, NMR, Mössbauer and EPR readers and analyses.

Generic baselines, peak shapes and fits live in :mod:`battlab.peaks`; series tools
(stacking, PCA, linear-combination fits) in :mod:`battlab.series`. Both are shared
with diffraction. :func:`analyse_spectra` runs a technique's whole analysis (the app and
``battlab spectra`` call it).
"""

from battlab.spectra.analysis import (
    BASELINE_METHODS,
    SpectrumFit,
    baseline,
    fit_spectrum,
    normalize,
    smooth,
    subtract_baseline,
    track_bands,
)
from battlab.spectra.epr import (
    double_integral,
    epr_series,
    fit_epr_lines,
    g_factor,
    peak_to_peak,
    read_bes3t,
    spin_count,
)
from battlab.spectra.io import (
    AXES,
    describe,
    load_spectra_series,
    load_spectrum,
    make_spectrum,
    read_jcamp,
    read_text_spectrum,
    read_vamas,
    read_xas,
    stack_spectra,
)
from battlab.spectra.mossbauer import (
    calibrate_velocity,
    channels_to_spectrum,
    fit_mossbauer,
    fold_channels,
    mossbauer_series,
    normalize_transmission,
    read_channels,
)
from battlab.spectra.nmr import LI_WINDOWS_PPM, integrate_windows, lithium_metal_amount
from battlab.spectra.presets import PRESETS, preset
from battlab.spectra.raman import d_to_g_ratio
from battlab.spectra.workflow import (
    SpectraAnalysis,
    analyse_spectra,
    as_regions,
    preprocess,
)
from battlab.spectra.xas import find_e0, normalize_xas, xas_lcf, xas_series_table
from battlab.spectra.xps import (
    RSF_SCOFIELD,
    SEI_COMPONENTS,
    composition,
    fit_xps,
    shirley_background,
    tougaard_background,
)

__all__ = [
    "AXES", "BASELINE_METHODS", "LI_WINDOWS_PPM", "PRESETS", "RSF_SCOFIELD", "SEI_COMPONENTS", "SpectraAnalysis",
    "SpectrumFit", "analyse_spectra", "as_regions", "baseline", "composition", "d_to_g_ratio", "describe",
    "find_e0", "fit_spectrum", "fit_xps", "integrate_windows", "lithium_metal_amount", "load_spectra_series",
    "load_spectrum", "make_spectrum", "normalize", "normalize_xas", "preprocess", "preset", "read_jcamp",
    "read_text_spectrum", "read_vamas", "read_xas", "shirley_background", "smooth", "stack_spectra",
    "subtract_baseline", "tougaard_background", "track_bands", "xas_lcf", "xas_series_table",
    "calibrate_velocity", "channels_to_spectrum", "fit_mossbauer", "fold_channels", "mossbauer_series",
    "normalize_transmission", "read_channels", "double_integral", "epr_series", "fit_epr_lines", "g_factor",
    "peak_to_peak", "read_bes3t", "spin_count",
]
