"""EC-AFM series (registration, SEI thickness, step swelling) and electrical modes."""

import numpy as np
import pytest

from battlab.afm.ecafm import register_series, stack_frames, step_height_series, thickness_series
from battlab.afm.electrical import current_statistics, iv_analysis, work_function_map
from battlab.datasets.afm import make_conductive_map, make_ecafm_series, make_iv_sweep, make_kpfm_map
from battlab.errors import BattlabError


@pytest.fixture(scope="module")
def ecafm():
    demo = make_ecafm_series()
    registered, drift = register_series(demo.data)
    return demo, registered, drift


def test_registration_recovers_drift(ecafm):
    demo, _, drift = ecafm
    # Known stage drift (0.6, −0.9) px per frame; the film growing between frames changes
    # the image, so the recovered shift is within 0.5 px over 12 frames.
    err = np.abs(drift[["dy_px", "dx_px"]].to_numpy() - demo.truth["drift_px"])
    assert err.max() < 0.5


def test_sei_thickness_within_half_nm(ecafm):
    demo, registered, _ = ecafm
    table = thickness_series(registered, film=demo.truth["film_mask"], reference=demo.truth["reference_mask"])
    assert np.abs(table["thickness_nm"] - demo.truth["sei_thickness_nm"]).max() < 0.5
    assert list(table.columns[:3]) == ["frame", "time_s", "potential_V"]
    # Without registration the drift ruins the region means.
    raw = thickness_series(demo.data, film=demo.truth["film_mask"], reference=demo.truth["reference_mask"])
    assert np.abs(raw["thickness_nm"] - demo.truth["sei_thickness_nm"]).max() > 0.5


def test_step_height_and_swelling(ecafm):
    demo, registered, _ = ecafm
    table = step_height_series(registered, upper=demo.truth["upper_mask"], lower=demo.truth["lower_mask"])
    # Registered frames: within 0.25 nm of the 3.35–3.92 nm step.
    assert np.abs(table["step_height_nm"] - demo.truth["step_height_nm"]).max() < 0.25
    still = make_ecafm_series(drift_px_per_frame=(0.0, 0.0))
    exact = step_height_series(still.data, upper=still.truth["upper_mask"], lower=still.truth["lower_mask"])
    # Without drift the swelling (17 % at the end) is recovered within 1 percentage point.
    assert np.abs(exact["swelling_pct"] - still.truth["swelling_pct"]).max() < 1.0


def test_stack_frames_and_bad_masks(ecafm):
    demo, registered, _ = ecafm
    from battlab.afm import height_map

    frames = [height_map(demo.data.values[i], pixel_size_um=0.04) for i in range(3)]
    series = stack_frames(frames, time_s=[0, 60, 120], potential_V=[1.0, 0.8, 0.6])
    assert series.dims == ("time", "y", "x") and series["potential_V"].values[-1] == 0.6
    with pytest.raises(BattlabError):
        stack_frames(frames, time_s=[0, 1])
    with pytest.raises(BattlabError):
        thickness_series(registered, film=np.zeros((3, 3), bool), reference=demo.truth["reference_mask"])
    with pytest.raises(BattlabError):
        register_series(demo.data.isel(time=0))


def test_current_map_statistics():
    demo = make_conductive_map()
    stats = current_statistics(demo.data["current"])
    assert stats["conductive_fraction"] == pytest.approx(demo.truth["conductive_fraction"], abs=0.01)
    assert stats["geometric_mean_nA"] < stats["mean_nA"]  # log-distributed currents


def test_iv_resistance_and_hysteresis():
    demo = make_iv_sweep()
    res = iv_analysis(demo.data)
    assert res["resistance_MOhm"] == pytest.approx(demo.truth["resistance_MOhm"], rel=0.02)
    assert res["hysteresis_area_nA_V"] == pytest.approx(demo.truth["hysteresis_area_nA_V"], rel=0.05)
    assert res["rectification_ratio"] == pytest.approx(1.0, abs=0.02)


def test_kpfm_work_function_against_reference():
    demo = make_kpfm_map()
    wf = work_function_map(demo.data["potential"], reference_mask=demo.truth["reference_mask"],
                           reference_work_function_eV=demo.truth["reference_work_function_eV"])
    assert float(wf.values[demo.truth["sample_mask"]].mean()) == pytest.approx(demo.truth["work_function_eV"],
                                                                                abs=0.005)
    assert wf.attrs["units"] == "eV"
    flipped = work_function_map(demo.data["potential"], reference_mask=demo.truth["reference_mask"],
                                reference_work_function_eV=4.6, bias_on="tip")
    assert float(flipped.values[demo.truth["sample_mask"]].mean()) == pytest.approx(
        4.6 + (4.6 - demo.truth["work_function_eV"]), abs=0.005)
    with pytest.raises(BattlabError):
        work_function_map(demo.data["potential"], reference_work_function_eV=4.6)


def test_volume_change_of_the_growing_film(ecafm):
    from battlab.afm.ecafm import volume_change_series

    demo, registered, _ = ecafm
    table = volume_change_series(registered, region=demo.truth["film_mask"], reference=demo.truth["reference_mask"])
    # Film volume = thickness × film area: within 0.1 nm mean height (the sub-pixel registration residual
    # of the drifting frames shifts the texture slightly).
    expected = demo.truth["sei_thickness_nm"] - demo.truth["sei_thickness_nm"][0]
    assert np.abs(table["mean_height_change_nm"] - expected).max() < 0.1
    np.testing.assert_allclose(table["volume_change_um3"], table["mean_height_change_nm"] * table["area_um2"] * 1e-3)
