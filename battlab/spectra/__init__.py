"""Operando spectroscopy: Raman/FTIR, XPS, XAS and NMR readers and analyses.

Generic baselines, peak shapes and fits live in :mod:`battlab.peaks`; series tools
(stacking, PCA, linear-combination fits) in :mod:`battlab.series`. Both are shared
with diffraction.
"""

from battlab.spectra.io import AXES, make_spectrum, stack_spectra

__all__ = ["AXES", "make_spectrum", "stack_spectra"]
