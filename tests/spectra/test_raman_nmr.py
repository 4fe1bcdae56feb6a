"""Known-answer tests for battlab.spectra.raman (D/G, G position vs lithiation) and
battlab.spectra.nmr (window integrals, plated lithium)."""

import numpy as np
import pytest

from battlab.datasets import DEMOS, load_demo
from battlab.datasets.spectra import make_nmr_plating_series, make_raman_graphite_series
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.spectra.io import make_spectrum
from battlab.spectra.nmr import integrate_windows, lithium_metal_amount
from battlab.spectra.presets import PRESETS, preset
from battlab.spectra.raman import d_to_g_ratio


@pytest.fixture(scope="module")
def raman():
    return make_raman_graphite_series(n_spectra=40)


@pytest.fixture(scope="module")
def nmr():
    return make_nmr_plating_series()


def test_raman_g_position_and_dg_ratio(raman):
    table = d_to_g_ratio(raman.data)
    truth = raman.truth["bands"]
    assert len(table) == 40 and {"time", "elapsed_s", "d_center_cm1", "g_center_cm1", "g_fwhm_cm1", "id_ig"} \
        <= set(table.columns)
    # band positions within 0.5 cm⁻¹
    assert np.max(np.abs(table["g_center_cm1"] - truth["g_center_cm1"])) < 0.5
    assert np.max(np.abs(table["d_center_cm1"] - truth["d_center_cm1"])) < 0.5
    # I_D/I_G (heights) within 3 %
    assert np.max(np.abs(table["id_ig"] / truth["id_ig_height"] - 1)) < 0.03
    assert np.max(np.abs(table["g_fwhm_cm1"] - 22.0)) < 1.0
    # the G band stiffens with lithiation: ≈ 1580 at x = 0, ≈ 1602 at x ≥ 0.5
    x = truth["x_in_LixC6"]
    assert table.loc[x.idxmin(), "g_center_cm1"] == pytest.approx(1580, abs=0.5)
    assert table.loc[x.idxmax(), "g_center_cm1"] == pytest.approx(1602, abs=0.5)
    one = d_to_g_ratio(raman.data.isel(time=5))
    assert len(one) == 1 and "time" not in one
    assert one["g_center_cm1"].iloc[0] == pytest.approx(truth["g_center_cm1"].iloc[5], abs=0.5)
    echem = raman.truth["echem"]
    assert {"voltage_V", "current_A", "test_time_s"} <= set(echem.columns)


def test_raman_bad_input(raman):
    with pytest.raises(InvalidParameterError):
        d_to_g_ratio(raman.data, measure="width")
    with pytest.raises(MissingDataError):
        d_to_g_ratio(raman.data, d_window=(100, 200))     # window outside the range
    with pytest.raises(InvalidParameterError):
        d_to_g_ratio(raman.data, g_window=(1700, 1500))   # reversed window
    nmr_like = make_spectrum(np.arange(100.0), np.ones(100), technique="nmr")
    with pytest.raises(InvalidParameterError):
        d_to_g_ratio(nmr_like)


def test_nmr_lithium_metal_amount_within_3_percent(nmr):
    cal = nmr.truth["calibration_umol_per_area"]
    table = lithium_metal_amount(nmr.data, calibration_umol_per_area=cal)
    truth = nmr.truth["lithium"]["li_metal_umol"]
    big = truth > 0.2 * truth.max()
    assert big.sum() >= 10
    # Li amount within 3 % wherever it exceeds 1/5 of the maximum, and within 3 % of the
    # maximum everywhere (including before plating, where the truth is zero)
    assert np.max(np.abs(table["li_metal_umol"] / truth - 1)[big]) < 0.03
    assert np.max(np.abs(table["li_metal_umol"] - truth)) < 0.03 * truth.max()
    # dead lithium left at the end
    assert table["li_metal_umol"].iloc[-1] == pytest.approx(nmr.truth["dead_umol"], rel=0.03)
    assert table["li_metal_change_umol"].iloc[0] == 0
    # relative amounts need a non-zero first spectrum: NaN here (no Li metal at the start)
    assert table["li_metal_relative"].isna().all()
    # with the (constant) diamagnetic line as an internal reference
    ref = lithium_metal_amount(nmr.data, reference_window=(-50, 50))
    ratio = ref["li_metal_area"] / table["li_metal_area"]
    assert np.allclose(ratio[big], ratio[big].iloc[0], rtol=0.03)


def test_nmr_integrate_windows(nmr):
    table = integrate_windows(nmr.data)
    assert list(table.columns) == ["time", "elapsed_s", "spectrum", "Li metal", "diamagnetic"]
    # constant diamagnetic line: area 2000, ±50 ppm window of a 6 ppm Lorentzian keeps
    # 1 − (2/π)·atan(50/3) ≈ 96.2 % of it, minus the linear baseline through the edges
    assert table["diamagnetic"].std() / table["diamagnetic"].mean() < 0.01
    single = integrate_windows(nmr.data.isel(time=-1), {"Li metal": (200, 300)}, baseline="none")
    assert list(single.columns) == ["spectrum", "Li metal"]


@pytest.mark.parametrize("windows,error", [
    ({}, MissingDataError),
    ({"x": (500, 600)}, MissingDataError),         # outside the range
    ({"x": (10, 10.2)}, MissingDataError),         # too few points
    ({"x": (300, 200)}, InvalidParameterError),    # reversed
])
def test_nmr_bad_windows(nmr, windows, error):
    with pytest.raises(error):
        integrate_windows(nmr.data, windows)


def test_nmr_bad_input(nmr):
    nan = nmr.data.isel(time=0).copy(data=np.full(nmr.data.sizes["shift_ppm"], np.nan))
    with pytest.raises(MissingDataError):
        integrate_windows(nan)
    with pytest.raises(InvalidParameterError):
        lithium_metal_amount(nmr.data, calibration_umol_per_area=-1)
    with pytest.raises(InvalidParameterError):
        integrate_windows(make_spectrum(np.arange(10.0), np.ones(10), technique="xas"))


def test_presets_and_demo_registry():
    assert set(PRESETS) == {"raman", "ftir", "xps", "xas", "nmr", "mossbauer", "epr"}
    assert PRESETS["xps"]["axis_reversed"] and not PRESETS["raman"]["axis_reversed"]
    assert PRESETS["xps"]["baseline"]["method"] == "shirley"
    p = preset("raman")
    p["windows"]["D"] = (0, 1)
    assert PRESETS["raman"]["windows"]["D"] == (1250.0, 1450.0)  # a copy
    with pytest.raises(InvalidParameterError):
        preset("mössbauer")
    kinds = {v[1] for v in DEMOS.values()}
    assert {"raman", "ftir", "xps", "xas", "nmr"} <= kinds
    name = next(k for k, v in DEMOS.items() if v[1] == "xps")
    assert set(load_demo(name).data) == {"C 1s", "F 1s"}
