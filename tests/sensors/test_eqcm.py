"""EQCM: Sauerbrey mass, mass per electron and the dissipation check on known-answer data."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_eqcm
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors import align_to_cycling, analyze, eqcm


@pytest.fixture(scope="module")
def rigid():
    demo = make_eqcm()
    aligned = align_to_cycling(demo.data.sensor, demo.data.echem, clock_offset_s=demo.truth["clock_offset_s"])
    return demo, eqcm.eqcm_mass(aligned, f0_Hz=5e6, area_cm2=demo.truth["area_cm2"], overtone=3)


def test_sauerbrey_constant_from_crystal_constants():
    # C_f = sqrt(rho_q mu_q) / (2 f0^2): 17.7 ng/(cm2 Hz) at 5 MHz, 4x smaller at 10 MHz.
    assert eqcm.sauerbrey_constant(5e6) == pytest.approx(np.sqrt(2.648 * 2.947e11) / (2 * 25e12) * 1e9, rel=1e-12)
    assert eqcm.sauerbrey_constant(5e6) == pytest.approx(17.67, abs=0.01)
    assert eqcm.sauerbrey_constant(10e6) == pytest.approx(eqcm.sauerbrey_constant(5e6) / 4)
    # -10 Hz on overtone 3 of a 5 MHz crystal, 1.37 cm2: 17.67*10/3*1.37 ng.
    assert eqcm.sauerbrey_mass(-10.0, overtone=3, area_cm2=1.37) == pytest.approx(17.67 * 10 / 3 * 1.37, rel=1e-3)
    with pytest.raises(InvalidParameterError):
        eqcm.sauerbrey_mass(-1.0, overtone=2)
    with pytest.raises(InvalidParameterError):
        eqcm.sauerbrey_constant(-5e6)


def test_sauerbrey_mass_within_1_percent(rigid):
    demo, mass = rigid
    truth = np.interp(mass["sensor_time_s"], demo.truth["sensor_time_s"], demo.truth["mass_ng"])
    err = np.abs(mass["mass_ng"] - truth)
    assert err.max() < 0.01 * np.abs(truth).max()  # stated tolerance: 1 % of the mass change
    big = np.abs(truth) > 0.2 * np.abs(truth).max()
    assert (err[big] / np.abs(truth[big])).max() < 0.01


def test_mass_per_electron_identifies_li_within_2_percent(rigid):
    demo, mass = rigid
    mpe = eqcm.mass_per_electron(mass)
    truth = demo.truth["mass_per_electron"]
    assert len(mpe) == len(truth) == 6
    merged = mpe.merge(truth, on=["cycle", "direction"], suffixes=("", "_true"))
    np.testing.assert_allclose(merged["mass_per_electron_g_mol"], merged["mass_per_electron_g_mol_true"], rtol=0.02)
    li = merged.loc[merged["direction"] == "charge"]
    np.testing.assert_allclose(li["mass_per_electron_g_mol"], 6.94, rtol=0.02)
    assert (li["species"] == "Li⁺").all()
    # First lithiation carries LiF-like SEI: heavier than Li⁺, not assigned to it.
    first = merged.iloc[0]
    assert first["mass_per_electron_g_mol"] > 8.0 and first["species"] != "Li⁺"


def test_mass_per_electron_against_potential(rigid):
    _, mass = rigid
    by_v = eqcm.mass_per_electron(mass, by="potential", potential_step_V=0.05)
    assert by_v["voltage_V"].nunique() >= 3
    later = by_v.loc[(by_v["cycle"] >= 2) & (by_v["direction"] == "charge")]
    np.testing.assert_allclose(later["mass_per_electron_g_mol"], 6.94, rtol=0.03)


def test_dissipation_check_flags_viscoelastic_film():
    rigid = make_eqcm()
    soft = make_eqcm(viscoelastic=True)
    checks = []
    for demo in (rigid, soft):
        res = analyze("eqcm", demo.data.sensor, demo.data.echem, area_cm2=1.37,
                      clock_offset_s=demo.truth["clock_offset_s"])
        checks.append(res.extra["rigidity_check"].iloc[0])
    assert checks[0]["valid"] and checks[0]["median_ratio_per_Hz"] == pytest.approx(1e-8, rel=0.1)
    assert not checks[1]["valid"] and "viscoelastic warning" in checks[1]["message"]
    assert checks[1]["median_ratio_per_Hz"] == pytest.approx(1.5e-6, rel=0.05)


def test_species_lookup_and_missing_columns():
    assert eqcm.identify_species(6.9) == "Li⁺"
    assert eqcm.identify_species(26.5) == "LiF (SEI)"
    assert eqcm.identify_species(-150.0) == "PF₆⁻ (anion)"
    assert eqcm.identify_species(3.0) == "unassigned"
    with pytest.raises(MissingDataError):
        eqcm.eqcm_mass(pd.DataFrame({"x": [1.0]}), area_cm2=1.0)
    with pytest.raises(MissingDataError):
        eqcm.mass_per_electron(pd.DataFrame({"mass_ng": [1.0]}))


def test_area_is_required_in_the_pipeline():
    demo = make_eqcm()
    with pytest.raises(InvalidParameterError, match="area"):
        analyze("eqcm", demo.data.sensor, demo.data.echem)


def test_overtone_spread(test_data):
    from battlab.sensors import read_sensor_table

    t = read_sensor_table(test_data / "sensor_eqcm_overtones.tsv", kind="eqcm")
    spread = eqcm.overtone_spread(t, min_shift_Hz=0.5)
    # Δf3/3 = -1, -2, -3, -4 and Δf5/5 = -1.02, -2.04, ...: a 2 % spread.
    assert spread["overtones"] == [3, 5]
    assert spread["median_spread"] == pytest.approx(0.02 / 1.01, rel=1e-6)
    assert eqcm.overtone_spread(make_eqcm().data.sensor)["median_spread"] is None  # one overtone only
