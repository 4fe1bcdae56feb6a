"""MOSS: spot spacing -> curvature -> Stoney stress, and stress per cycle, on known answers."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_moss
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors import analyze, stress

SUB = dict(substrate_modulus_GPa=130.0, substrate_poisson=0.28, substrate_thickness_um=500.0)


def test_stoney_closed_form():
    # sigma h_f = E/(1-nu) h_s^2 dk / 6 ; 130 GPa, 0.28, 500 µm, 0.01 1/m -> 75.23 N/m; /100 nm = 0.7523 GPa.
    m = 130e9 / 0.72
    assert stress.stoney_stress_thickness(0.01, **SUB) == pytest.approx(m * 25e-8 * 0.01 / 6, rel=1e-12)
    assert stress.stoney_stress(0.01, film_thickness_nm=100.0, **SUB) == pytest.approx(m * 25e-8 * 0.01 / 6 / 100)
    assert stress.biaxial_modulus_GPa(130.0, 0.28) == pytest.approx(180.556, rel=1e-4)
    with pytest.raises(InvalidParameterError):
        stress.biaxial_modulus_GPa(130.0, 0.6)


def test_spot_spacing_to_curvature():
    # d/d0 - 1 = 2 L dk / cos(phi): 1 % change at L = 0.5 m, phi = 0 -> dk = 0.01 1/m.
    dk = stress.curvature_from_spot_spacing([100.0, 101.0], distance_m=0.5)
    np.testing.assert_allclose(dk, [0.0, 0.01])
    dk = stress.curvature_from_spot_spacing([101.0], reference_spacing=100.0, distance_m=0.5, incidence_angle_deg=60)
    np.testing.assert_allclose(dk, [0.005])


@pytest.fixture(scope="module")
def moss():
    demo = make_moss()
    t = demo.truth
    res = analyze("stress", demo.data.sensor, demo.data.echem, clock_offset_s=t["clock_offset_s"],
                  **{k: t[k] for k in ("substrate_modulus_GPa", "substrate_poisson", "substrate_thickness_um",
                                       "film_thickness_nm", "distance_m", "incidence_angle_deg")})
    return demo, res


def test_stoney_stress_within_1_percent(moss):
    demo, res = moss
    truth = demo.truth["stress_GPa"]
    got = res.aligned["stress_GPa"].to_numpy()
    assert len(got) == len(truth)
    big = np.abs(truth) > 0.2
    assert (np.abs(got[big] - truth[big]) / np.abs(truth[big])).max() < 0.01  # stated: 1 %


def test_yield_stresses_per_cycle(moss):
    demo, res = moss
    c = res.cycles
    np.testing.assert_allclose(c["max_compressive_GPa"], demo.truth["compressive_yield_GPa"], rtol=0.01)
    np.testing.assert_allclose(c["max_tensile_GPa"], demo.truth["tensile_yield_GPa"], rtol=0.01)
    np.testing.assert_allclose(c["stress_hysteresis_GPa"], 2.75, rtol=0.01)
    assert (c["stress_capacity_loop_GPa_mAh"] > 0).all()


def test_modified_stoney_thicker_film_lowers_stress(moss):
    demo, res = moss
    t = demo.truth
    thick = stress.film_stress(res.aligned.drop(columns=["stress_GPa"]), thickness_expansion=2.0,
                               film_thickness_nm=t["film_thickness_nm"], distance_m=t["distance_m"],
                               incidence_angle_deg=t["incidence_angle_deg"], **SUB)
    lithiated = thick["soc"] < 0.05
    expected = t["film_thickness_nm"] * (1 + 2 * (1 - thick.loc[lithiated, "soc"]))
    np.testing.assert_allclose(thick.loc[lithiated, "film_thickness_nm"], expected)
    assert (np.abs(thick.loc[lithiated, "stress_GPa"]) < np.abs(res.aligned.loc[lithiated, "stress_GPa"])).all()


def test_missing_inputs():
    with pytest.raises(MissingDataError):
        stress.film_stress(pd.DataFrame({"x": [1.0]}), film_thickness_nm=100, **SUB)
    with pytest.raises(InvalidParameterError, match="distance"):
        stress.film_stress(pd.DataFrame({"spot_spacing": [1.0, 1.1]}), film_thickness_nm=100, **SUB)
    demo = make_moss(n_cycles=1)
    with pytest.raises(InvalidParameterError, match="no default"):
        analyze("stress", demo.data.sensor, demo.data.echem, film_thickness_nm=100.0)
