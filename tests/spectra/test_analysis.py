"""Known-answer tests for battlab.spectra.analysis: baselines, smoothing, normalisation,
component fits, band tracking, and battlab's own errors for bad input."""

import numpy as np
import pytest

from battlab.datasets.spectra import make_ftir_series
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError
from battlab.peaks import pseudo_voigt
from battlab.spectra.analysis import (
    baseline,
    fit_spectrum,
    normalize,
    smooth,
    subtract_baseline,
    track_bands,
)
from battlab.spectra.io import make_spectrum, stack_spectra


def _raman(y=None, *, rng=0, noise=0.0):
    x = np.arange(1000.0, 1800.0, 1.0)
    base = 200 + 0.1 * (x - 1000) - 1e-4 * (x - 1400) ** 2
    if y is None:
        y = base + pseudo_voigt(x, 3000, 1350, 40, 0.3) + pseudo_voigt(x, 2000, 1582, 20, 0.3)
    y = y + np.random.default_rng(rng).normal(0, noise, x.size)
    return make_spectrum(x, y, technique="raman"), base


# Tolerances in counts on a ~200-count concave background: ALS and a polynomial through
# band-free anchor windows within 1.5 %; the self-clipping polynomial and SNIP (which
# undercuts concave backgrounds) within 4 %.
@pytest.mark.parametrize("method,options,tol", [
    ("als", {"lam": 1e6, "p": 0.001}, 3.0),
    ("polynomial", {"order": 2}, 8.0),
    ("polynomial", {"order": 2, "anchor_windows": [(1000, 1250), (1450, 1500), (1680, 1800)]}, 3.0),
    ("snip", {"half_width": 60, "lls": False}, 8.0),
])
def test_baselines_follow_a_curved_background_under_bands(method, options, tol):
    spec, base = _raman()
    x = spec["wavenumber_cm1"].to_numpy()
    b = baseline(spec, method=method, **options)
    assert b.shape == spec.shape
    away = (np.abs(x - 1350) > 150) & (np.abs(x - 1582) > 80)
    assert np.max(np.abs(b.to_numpy() - base)[away]) < tol, method
    sub = subtract_baseline(spec, method=method, **options)
    np.testing.assert_allclose(sub.to_numpy(), spec.to_numpy() - b.to_numpy())


def test_linear_and_none_baselines_and_series_shape():
    x = np.linspace(0, 10, 101)
    spec = make_spectrum(x, 2 + 0.5 * x, technique="generic")
    np.testing.assert_allclose(baseline(spec, method="linear", end_points=3).to_numpy(), 2 + 0.5 * x, atol=1e-12)
    assert np.all(baseline(spec, method="none").to_numpy() == 0)
    series = stack_spectra([spec, spec * 2], times=["2026-01-01T00:00Z", "2026-01-01T00:01Z"])
    b = baseline(series, method="linear")
    assert b.dims == series.dims and b.shape == series.shape
    np.testing.assert_allclose(b.isel(time=1).to_numpy(), 2 * (2 + 0.5 * x), atol=1e-12)


def test_smoothing_keeps_band_position_and_height():
    spec, _ = _raman(noise=5.0, rng=1)
    clean, _ = _raman()
    sm = smooth(spec, window_points=11, order=3)
    x = spec["wavenumber_cm1"].to_numpy()
    band = np.abs(x - 1582) < 30
    # Savitzky–Golay keeps the G-band maximum within 1 cm⁻¹ (grid step) and 2 % of its height
    assert abs(x[band][np.argmax(sm.to_numpy()[band])] - 1582) <= 1.0
    assert sm.to_numpy()[band].max() == pytest.approx(clean.to_numpy()[band].max(), rel=0.02)
    assert np.std(sm.to_numpy() - clean.to_numpy()) < 0.6 * 5.0  # noise reduced
    with pytest.raises(InvalidParameterError):
        smooth(spec, window_points=3, order=3)
    tiny = make_spectrum(np.arange(6.0), np.ones(6), technique="raman")
    with pytest.raises(MissingDataError):
        smooth(tiny, window_points=11)


def test_normalisations():
    x = np.linspace(0, 100, 1001)
    y = pseudo_voigt(x, 50, 40, 5, 0.0) + pseudo_voigt(x, 10, 70, 5, 0.0)
    spec = make_spectrum(x, y, technique="generic")
    assert normalize(spec, method="max").max() == pytest.approx(1.0)
    area = normalize(spec, method="area")
    assert np.trapezoid(area.to_numpy(), x) == pytest.approx(1.0, rel=1e-9)
    band = normalize(spec, method="band", window=(60, 80))
    assert band.sel(x=70).item() == pytest.approx(1.0, rel=1e-3)
    snv = normalize(spec, method="snv").to_numpy()
    assert snv.mean() == pytest.approx(0, abs=1e-12) and snv.std() == pytest.approx(1)
    with pytest.raises(InvalidParameterError):
        normalize(spec, method="band")  # needs a window
    with pytest.raises(InvalidParameterError):
        normalize(spec, method="bogus")
    with pytest.raises(MissingDataError):
        normalize(spec, method="max", window=(200, 300))  # outside the data


def test_fit_spectrum_recovers_overlapping_components():
    x = np.arange(1500.0, 1700.0, 0.5)
    truth = [(1000.0, 1582.0, 18.0), (600.0, 1605.0, 18.0)]
    y = sum(pseudo_voigt(x, a, c, w, 0.7) for a, c, w in truth) + 5 + 0.01 * (x - 1500)
    y = y + np.random.default_rng(2).normal(0, 0.3, x.size)
    spec = make_spectrum(x, y, technique="raman")
    comps = [{"name": "G", "center": 1580, "center_tolerance": 10, "fwhm": 15}, {"name": "D'", "center": 1608}]
    for shared in (False, True):
        fit = fit_spectrum(spec, comps, shared_fwhm=shared)
        t = fit.table.set_index("name")
        # positions within 0.5 cm⁻¹, areas within 2 %, fractions within 2 percentage points
        assert t.loc["G", "center"] == pytest.approx(1582.0, abs=0.5)
        assert t.loc["D'", "center"] == pytest.approx(1605.0, abs=0.5)
        assert t.loc["G", "area"] == pytest.approx(1000, rel=0.02)
        assert t.loc["G", "fraction"] == pytest.approx(1000 / 1600, abs=0.02)
        assert t["fraction"].sum() == pytest.approx(1.0)
        if shared:
            assert t.loc["G", "fwhm"] == t.loc["D'", "fwhm"]
        assert fit.r_squared > 0.999
        np.testing.assert_allclose(fit.evaluate(), fit.peak_fit.model + fit.baseline, rtol=1e-9)
        parts = fit.evaluate(components=True)
        assert set(parts) == {"G", "D'"}
    # plain list of centres, windowed
    fit = fit_spectrum(spec, [1582.0], window=(1540, 1595))
    assert fit.table["name"].tolist() == ["peak_1"] and fit.x.min() >= 1540


def test_track_bands_on_ftir_demo():
    demo = make_ftir_series(n_spectra=24)
    tracked = track_bands(demo.data, demo.truth["windows"])
    assert set(tracked.columns) >= {"time", "elapsed_s", "band", "center", "fwhm", "area", "height", "present"}
    assert len(tracked) == 24 * 3
    merged = tracked.merge(demo.truth["bands"], on=["spectrum", "band"], suffixes=("", "_true"))
    strong = merged["area_true"] > 1.0
    assert strong.sum() > 40
    # Band positions within 0.5 cm⁻¹. Areas (above 1/4 of full growth) within 10 %: the
    # free Lorentzian fraction of a weak band trades off against the local linear
    # background and takes its tails with it; the strong electrolyte band within 2 %.
    assert np.max(np.abs(merged["center"] - merged["center_cm1"])[strong]) < 0.5
    assert np.max(np.abs(merged["area"] / merged["area_true"] - 1)[strong]) < 0.10
    co = merged["band"] == "C=O (electrolyte)"
    assert np.max(np.abs(merged["area"] / merged["area_true"] - 1)[co]) < 0.02
    grow = tracked[tracked["band"] == "ROCO2Li"]["area"].to_numpy()
    assert grow[-1] > 3.5  # the decomposition band grows from nothing (absent at first)
    assert not tracked[tracked["band"] == "ROCO2Li"]["present"].iloc[0]
    echem = demo.truth["echem"]
    assert tracked["elapsed_s"].max() == pytest.approx(echem["test_time_s"].iloc[-1] - echem["test_time_s"].iloc[0])
    one = track_bands(demo.data.isel(time=-1), demo.truth["windows"])
    assert len(one) == 3
    preset_tracked = track_bands(demo.data.isel(time=-1), "ftir")   # windows of the FTIR preset
    assert "ROCO2Li / Li2CO3" in set(preset_tracked["band"])


@pytest.mark.parametrize("windows,error", [
    ({}, MissingDataError),                                  # empty window set
    ({"x": (1700, 1600)}, InvalidParameterError),            # reversed
    ({"x": (3000, 3100)}, MissingDataError),                 # outside the range
    ({"x": (1650.0, 1652.0)}, MissingDataError),             # too few points
])
def test_track_bands_bad_windows(windows, error):
    demo = make_ftir_series(n_spectra=3)
    with pytest.raises(error):
        track_bands(demo.data, windows)


def test_bad_inputs_raise_battlab_errors():
    spec, _ = _raman()
    nan = spec.copy(data=np.full(spec.shape, np.nan))
    with pytest.raises(MissingDataError):
        baseline(nan, method="als")
    with pytest.raises(MissingDataError):
        fit_spectrum(nan, [1582])
    with pytest.raises(MissingDataError):
        track_bands(nan, {"G": (1500, 1700)})
    with pytest.raises(InvalidParameterError):
        baseline(spec, method="magic")
    with pytest.raises(MissingDataError):
        fit_spectrum(spec, [])
    with pytest.raises(InvalidParameterError):
        fit_spectrum(spec, [2500.0])                       # component outside the data
    with pytest.raises(MissingDataError):
        fit_spectrum(spec, [1582.0], window=(1581, 1583))  # too few points
    with pytest.raises(MissingDataError):
        fit_spectrum(spec, [1582.0], window=(3000, 3100))  # window outside the range
    with pytest.raises(InvalidParameterError):
        fit_spectrum(spec, [{"name": "a", "center": 1580}, {"name": "a", "center": 1590}])
    few = make_spectrum(np.arange(3.0), np.ones(3), technique="raman")
    with pytest.raises(MissingDataError):
        baseline(few, method="linear")
    # some NaNs are tolerated (interpolated over for baselines, ignored by fits)
    holes = spec.copy()
    holes[100:105] = np.nan
    fit = fit_spectrum(holes, [1582.0], window=(1500, 1700))
    assert fit.table["center"].iloc[0] == pytest.approx(1582, abs=0.5)
    assert np.all(np.isfinite(baseline(holes, method="als").to_numpy()))
    assert issubclass(MissingDataError, BattlabError)
    with pytest.raises(InvalidParameterError):
        baseline(np.arange(10.0))        # not a spectrum
    with pytest.raises(InvalidParameterError):
        track_bands(spec, "mössbauer")   # no such preset
