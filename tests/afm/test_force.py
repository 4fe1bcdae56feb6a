"""Known answers for force-curve fits, force-volume maps and modulus vs depth."""

import numpy as np
import pytest

from battlab.afm.force import fit_force_curve, fit_force_map, modulus_vs_depth, prepare_curve
from battlab.datasets.afm import make_force_curve, make_force_map, make_layered_curve
from battlab.errors import BattlabError

GEOMETRY = {"tip_radius_nm": 20.0, "half_angle_deg": 20.0, "poisson": 0.3}


@pytest.mark.parametrize("model", ["hertz", "sneddon", "dmt", "jkr"])
@pytest.mark.parametrize("seed", [1, 2])
def test_modulus_within_5pct_and_contact_within_1nm(model, seed):
    demo = make_force_curve(model=model, modulus_GPa=1.5, max_indentation_nm=10.0 if model == "sneddon" else 6.0,
                            noise_nN=0.2, seed=seed)
    res = fit_force_curve(demo.data, model=model, **GEOMETRY)
    assert res["modulus_GPa"] == pytest.approx(demo.truth["modulus_GPa"], rel=0.05)
    assert abs(res["contact_point_nm"] - demo.truth["contact_point_nm"]) < 1.0
    assert res["r_squared"] > 0.99
    # Adhesion: the retract minimum, within 0.5 nN of the pull-off put in (noise 0.2 nN).
    assert res["adhesion_nN"] == pytest.approx(demo.truth["adhesion_nN"], abs=0.5)
    assert res["indentation_nm"] == pytest.approx(demo.truth["indentation_nm"], abs=1.0)


def test_stiff_sei_modulus_and_depth():
    demo = make_force_curve(model="hertz", modulus_GPa=30.0, max_indentation_nm=3.0, noise_nN=0.5, seed=4)
    res = fit_force_curve(demo.data, model="hertz", **GEOMETRY)
    assert res["modulus_GPa"] == pytest.approx(30.0, rel=0.05)
    assert abs(res["contact_point_nm"] - 250.0) < 1.0


def test_baseline_tilt_and_offset_are_removed():
    demo = make_force_curve(model="hertz", seed=3)
    curve = demo.data.copy()
    # Virtual deflection: a force offset and a slope along the travel.
    curve["force_nN"] = curve["force_nN"] + 5.0 + 0.01 * (curve["tip_height_nm"] - 250.0)
    res = fit_force_curve(curve, model="hertz", **GEOMETRY)
    assert res["modulus_GPa"] == pytest.approx(1.5, rel=0.05)
    t, f, coef = prepare_curve(curve)
    assert abs(np.median(f[t < t.min() + 100])) < 0.05


def test_modulus_vs_depth_resolves_two_layers():
    demo = make_layered_curve(top_modulus_GPa=30.0, bottom_modulus_GPa=2.0, thickness_nm=3.0)
    prof = modulus_vs_depth(demo.data, tip_radius_nm=20.0, poisson=0.3, step_nm=1.0)
    top = prof[prof["depth_nm"] < 2.5]["modulus_GPa"]
    bottom = prof[prof["depth_nm"] > 3.5]["modulus_GPa"]
    assert np.allclose(top, 30.0, rtol=0.05) and np.allclose(bottom, 2.0, rtol=0.05)


@pytest.mark.slow
def test_two_phase_force_map():
    demo = make_force_map(shape=(12, 12))
    maps = fit_force_map(demo.data, tip_radius_nm=20.0, poisson=0.3)
    phase = demo.truth["phase"]
    e = maps["modulus_GPa"].values
    for p, expected in enumerate(demo.truth["moduli_GPa"]):
        assert np.nanmedian(e[phase == p]) == pytest.approx(expected, rel=0.05)
        assert np.nanmedian(maps["adhesion_nN"].values[phase == p]) == pytest.approx(
            demo.truth["adhesion_nN"][p], abs=0.5)
    # Classifying pixels by modulus recovers the phase map exactly.
    assert np.array_equal(e > np.sqrt(np.prod(demo.truth["moduli_GPa"])), phase == 1)
    assert maps["fit_ok"].values.all()
    assert np.nanmax(np.abs(maps["contact_point_nm"].values - demo.truth["contact_point_nm"])) < 1.0


def test_fit_quality_mask_flags_bad_curves():
    demo = make_force_map(shape=(3, 3), n_points=200)
    curves = demo.data.copy()
    rng = np.random.default_rng(0)
    bad = curves["curve"] == 4
    curves.loc[bad, "force_nN"] = rng.normal(0, 5, bad.sum())  # pure noise: no contact
    maps = fit_force_map(curves, tip_radius_nm=20.0, poisson=0.3, min_r_squared=0.9)
    assert not maps["fit_ok"].values[1, 1] and np.isnan(maps["modulus_GPa"].values[1, 1])
    assert maps["fit_ok"].values.sum() == 8


def test_bad_parameters():
    demo = make_force_curve()
    with pytest.raises(BattlabError):
        fit_force_curve(demo.data, model="oliver")
    with pytest.raises(BattlabError):
        fit_force_curve(demo.data, tip_radius_nm=-1)
    with pytest.raises(BattlabError):
        fit_force_curve(demo.data.iloc[:5])
    with pytest.raises(BattlabError):
        fit_force_map(demo.data)
