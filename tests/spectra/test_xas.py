"""Known-answer tests for battlab.spectra.xas: E0, edge step, series table, LCF and PCA."""

import numpy as np
import pytest

from battlab.datasets.spectra import make_xas_mixture_series
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.series import pca
from battlab.spectra.analysis import normalize
from battlab.spectra.io import make_spectrum
from battlab.spectra.xas import find_e0, normalize_xas, xas_lcf, xas_series_table


@pytest.fixture(scope="module")
def demo():
    return make_xas_mixture_series()


def _noisy(ref, sigma, seed):
    return ref.copy(data=ref.to_numpy() + np.random.default_rng(seed).normal(0, sigma, ref.size))


def test_e0_and_edge_step_of_noisy_references(demo):
    for k, (name, ref) in enumerate(demo.truth["references"].items()):
        noisy = _noisy(ref, demo.truth["noise"], k)
        # E0 within 0.5 eV of the maximum of dμ/dE of the noise-free reference
        assert find_e0(noisy) == pytest.approx(demo.truth["e0_eV"][name], abs=0.5)
        assert find_e0(noisy, method="half_step") == pytest.approx(demo.truth["edge_center_eV"][name], abs=0.5)
        norm, info = normalize_xas(noisy)
        # edge step within 2 %
        assert info["edge_step"] == pytest.approx(demo.truth["edge_step"], rel=0.02)
        x = norm["energy_eV"].to_numpy()
        pre = (x > info["e0_eV"] - 150) & (x < info["e0_eV"] - 30)
        post = (x > info["e0_eV"] + 50) & (x < info["e0_eV"] + 60)
        assert abs(norm.to_numpy()[pre].mean()) < 0.01 and norm.to_numpy()[post].mean() == pytest.approx(1, abs=0.03)
    same = normalize(demo.data.isel(time=0), method="edge")
    np.testing.assert_allclose(same.to_numpy(), normalize_xas(demo.data.isel(time=0))[0].to_numpy())


def test_series_table_tracks_the_edge_shift(demo):
    tab = xas_series_table(demo.data)
    f = demo.truth["fractions"]["fraction_Mn4"].to_numpy()
    assert list(tab.columns[:3]) == ["time", "elapsed_s", "spectrum"]
    assert tab["edge_shift_eV"].iloc[0] == 0
    # Edge position follows the Mn4+ fraction: strongly correlated, and the spread of
    # fractions (0.5 → 0.95) moves E0 by about that share of the 3 eV reference shift.
    assert np.corrcoef(tab["e0_eV"], f)[0, 1] > 0.95
    span = tab["e0_eV"].max() - tab["e0_eV"].min()
    assert 0.6 * 0.45 * 3.0 < span < 1.6 * 0.45 * 3.0
    assert tab["edge_step"].to_numpy() == pytest.approx(1.0, rel=0.02)
    assert np.all((tab["white_line_eV"] > tab["e0_eV"]) & (tab["white_line_height"] > 1.1))


def test_lcf_recovers_fractions_within_2_points(demo):
    fit = xas_lcf(demo.data, demo.truth["references"])
    truth = demo.truth["fractions"]
    # LCF fractions within 2 percentage points, and weights summing to 1 within 2 %
    assert np.max(np.abs(fit.weights["Mn4+_fraction"] - truth["fraction_Mn4"])) < 0.02
    assert np.max(np.abs(fit.weights["Mn3+_fraction"] - truth["fraction_Mn3"])) < 0.02
    assert np.max(np.abs(fit.weights["sum"] - 1)) < 0.02
    assert "time" in fit.weights


def test_pca_finds_two_components(demo):
    # two references mixed linearly + white noise: exactly two significant components
    assert pca(demo.data, center=False).n_significant == 2


def test_bad_inputs(demo):
    ref = demo.truth["references"]["Mn3+"]
    with pytest.raises(InvalidParameterError):
        find_e0(ref, method="inflection-ish")
    with pytest.raises(MissingDataError):
        find_e0(ref, search=(7000, 7100))                     # search window outside the data
    with pytest.raises(MissingDataError):
        normalize_xas(ref, post=(400, 600))                   # post-edge range beyond the data
    with pytest.raises(InvalidParameterError):
        normalize_xas(ref, e0=7000.0)                         # E0 outside the data
    with pytest.raises(InvalidParameterError):
        normalize_xas(ref, pre_order=5)
    with pytest.raises(MissingDataError):
        find_e0(make_spectrum(np.arange(10.0), np.arange(10.0), technique="xas"))  # too few points
    nan = ref.copy(data=np.full(ref.size, np.nan))
    with pytest.raises(MissingDataError):
        find_e0(nan)
    with pytest.raises(MissingDataError):
        xas_lcf(demo.data, {})
    with pytest.raises(InvalidParameterError):
        xas_lcf(demo.data, demo.truth["references"], window=(50, -20))
    flat = make_spectrum(np.arange(6400.0, 6900.0, 0.5), np.ones(1000), technique="xas")
    with pytest.raises(MissingDataError):
        normalize_xas(flat, e0=6550.0)                        # no edge
    with pytest.raises(InvalidParameterError):
        find_e0(make_spectrum(np.arange(100.0), np.ones(100), technique="raman"))
