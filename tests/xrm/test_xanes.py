"""XANES imaging: per-pixel normalisation, edge maps, LCF state-of-charge map, PCA."""

import numpy as np
import pytest

from battlab.datasets.xrm import fe_k_edge_references, make_xanes_stack
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.spectra.xas import find_e0, normalize_xas
from battlab.xrm import (
    edge_energy_map,
    lcf_maps,
    make_xanes_stack_array,
    normalize_stack,
    particle_soc,
    soc_histogram,
    stack_pca,
    white_line_map,
)


@pytest.fixture(scope="module")
def demo():
    return make_xanes_stack()


@pytest.fixture(scope="module")
def norm(demo):
    return normalize_stack(demo.data)


def test_pixel_normalisation_matches_the_single_spectrum_one(demo, norm):
    stack, step = norm
    assert step.dims == ("y", "x") and step.attrs["pixel_size_um"] == 0.05
    spectrum = demo.data[:, 14, 14]
    one, info = normalize_xas(spectrum, e0=stack.attrs["e0_eV"], pre=(-20, -8), post=(15, 70), pre_order=0,
                              post_order=1)
    np.testing.assert_allclose(stack[:, 14, 14].values, one.values, rtol=1e-10)
    assert step.values[14, 14] == pytest.approx(info["edge_step"])
    # Background pixels (no edge) are masked, sample pixels are not.
    inside = np.isfinite(demo.truth["soc"])
    assert np.array_equal(np.isfinite(step.values), inside)


def test_soc_map_rmse_below_0_05(demo, norm):
    maps = lcf_maps(norm[0], demo.truth["references"], charged="FePO4")
    soc, truth = maps["soc"].values, demo.truth["soc"]
    both = np.isfinite(truth)
    assert np.array_equal(np.isfinite(soc), both)
    rmse = np.sqrt(np.mean((soc[both] - truth[both]) ** 2))
    assert rmse < 0.05  # known answer: SOC map RMSE < 0.05
    assert np.nanmean(maps["weight_sum"].values) == pytest.approx(1.0, abs=0.02)
    total = maps["fractions"]["FePO4"].values + maps["fractions"]["LiFePO4"].values
    np.testing.assert_allclose(total[both], 1.0)
    assert maps["soc"].dims == ("y", "x") and maps["soc"].attrs["units"] == "fraction"
    assert maps["soc"]["x_um"].values[1] == pytest.approx(0.05)
    per = particle_soc(maps["soc"], demo.truth["particles"]).set_index("particle")
    for k, value in demo.truth["particle_soc"].items():
        assert per.loc[k, "mean_soc"] == pytest.approx(value, abs=0.02)
    hist = soc_histogram(maps["soc"], bins=10)
    assert hist["pixels"].sum() == both.sum() and hist["fraction"].sum() == pytest.approx(1.0)
    # Residuals are noise-sized: the model reproduces every pixel.
    assert np.nanmedian(maps["r_factor"].values) < 1e-3


def test_edge_and_white_line_maps_follow_the_soc(demo, norm):
    stack = norm[0]
    edge = edge_energy_map(stack)
    truth = demo.truth["soc"]
    ok = np.isfinite(truth) & np.isfinite(edge.values)
    assert ok.sum() > 0.95 * np.isfinite(truth).sum()
    assert np.corrcoef(truth[ok], edge.values[ok])[0, 1] > 0.95  # the edge moves up with the Fe3+ fraction
    refs = fe_k_edge_references()
    lo, hi = (find_e0(refs[n]) for n in ("LiFePO4", "FePO4"))  # 7121 and 7125 eV by construction
    assert lo - 1 < np.nanmin(edge.values) and np.nanmax(edge.values) < hi + 1
    energy, height = white_line_map(stack)
    assert np.nanmin(height.values) > 1.0 and energy.attrs["units"] == "eV"


def test_pca_finds_a_two_end_member_mixture(norm):
    result, maps = stack_pca(norm[0])
    assert result.explained_variance_ratio[0] > 0.9
    assert 1 <= result.n_significant <= 2
    assert maps["pc1"].dims == ("y", "x")


def test_bad_inputs(demo, norm):
    with pytest.raises(MissingDataError, match="two reference"):
        lcf_maps(norm[0], {"LiFePO4": demo.truth["references"]["LiFePO4"]})
    with pytest.raises(InvalidParameterError):
        lcf_maps(norm[0], demo.truth["references"], charged="NMC")
    with pytest.raises(InvalidParameterError):
        normalize_stack(demo.data.transpose("y", "x", "energy_eV"))
    with pytest.raises(InvalidParameterError, match="pixel_size_um"):
        make_xanes_stack_array(np.zeros((10, 4, 4)), energies_eV=np.arange(10), pixel_size_um=None)
    stack = make_xanes_stack_array(demo.data.values[::-1], energies_eV=demo.data["energy_eV"].values[::-1],
                                   pixel_size_um=0.05)
    np.testing.assert_array_equal(stack.values, demo.data.values)  # sorted by energy
