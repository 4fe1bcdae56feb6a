"""PCA of a diffraction series (battlab.series.pca) and the waterfall / PCA figures."""

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.diffraction import make_pattern, stack_patterns
from battlab.plot.diffraction import pca_plot, waterfall
from battlab.series import pca


def two_phase_series(n=12, noise=0.5, seed=3):
    """Mixtures of two fixed patterns (phase A at 26.5°, phase B at 25.2° and 33.0°) with known fractions."""
    x = np.linspace(20, 40, 2001)
    a = 50 * np.exp(-0.5 * ((x - 26.5) / 0.08) ** 2) * 20
    b = 40 * np.exp(-0.5 * ((x - 25.2) / 0.1) ** 2) * 20 + 300 * np.exp(-0.5 * ((x - 33.0) / 0.1) ** 2)
    frac = np.linspace(0, 1, n)
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-03-01T08:00:00Z", periods=n, freq="20min")
    pats = [make_pattern(x, 100 + (1 - f) * a + f * b + rng.normal(0, noise, x.size), wavelength_A=1.540598)
            for f in frac]
    return stack_patterns(pats, times=list(times)), frac


def test_two_phase_mixture_has_exactly_two_components_uncentered_one_centered():
    series, frac = two_phase_series()
    raw = pca(series, center=False)
    # Each curve is (1 − f)·(A + bg) + f·(B + bg): two fixed shapes, so exactly two components.
    assert raw.n_significant == 2
    centred = pca(series, center=True)
    assert centred.n_significant == 1
    # The centred first score is linear in the known fraction.
    assert abs(np.corrcoef(centred.scores["pc1"], frac)[0, 1]) > 0.9999


def test_waterfall_and_pca_plot_render():
    series, _ = two_phase_series()
    wf = waterfall(series, every=3)
    assert isinstance(wf, hv.Path) and len(wf.data) == 4
    hv.render(wf, backend="bokeh")
    fig = pca_plot(pca(series))
    assert len(fig) == 2
    hv.render(fig, backend="bokeh")
    assert "No PCA" in pca_plot(None).text
