"""Cyclic voltammetry: known answers from the synthetic generator, and the real EC-Lab CV."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import battlab
from battlab.datasets import make_cv
from battlab.echem import cv
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError

# The demo's couple sits at E0 = 3.45 V; its pseudocapacitive peak at 3.15 V.
ANODIC = {"window_V": (3.30, 3.70), "direction": "anodic", "baseline_window_V": (3.25, 3.30), "label": "diffusive"}
CATHODIC = {"window_V": (3.20, 3.60), "direction": "cathodic", "baseline_window_V": (3.60, 3.70), "label": "diffusive"}
PSEUDO = {"window_V": (3.00, 3.30), "direction": "anodic", "baseline_window_V": (2.93, 2.98), "label": "pseudo"}


@pytest.fixture(scope="module")
def demo():
    return make_cv()


@pytest.fixture(scope="module")
def labelled(demo):
    return cv.label_sweeps(demo.data)


@pytest.fixture(scope="module")
def peaks(labelled):
    return {"a": cv.find_peaks(labelled, **ANODIC), "c": cv.find_peaks(labelled, **CATHODIC),
            "p": cv.find_peaks(labelled, **PSEUDO)}


# --------------------------------------------------------------------------- sweeps


def test_sweeps_directions_cycles_and_scan_rates(demo, labelled):
    sweeps = labelled.attrs["battlab"]["sweeps"]
    truth = demo.truth
    assert len(sweeps) == 2 * truth["n_cycles"] * len(truth["scan_rates_mV_s"]) == 24
    assert list(sweeps["direction"]) == ["anodic", "cathodic"] * 12
    assert list(sweeps["cycle"]) == list(np.repeat(np.arange(1, 13), 2))
    expected = np.repeat(truth["scan_rates_mV_s"], 4)
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], expected, rtol=1e-3)  # 0.1 %
    assert sorted(labelled["scan_rate_group_mV_s"].unique()) == list(truth["scan_rates_mV_s"])
    np.testing.assert_allclose(sweeps["start_potential_V"].iloc[0], 2.9, atol=2e-3)
    np.testing.assert_allclose(sweeps.loc[sweeps["direction"] == "anodic", "end_potential_V"], 4.0, atol=2e-3)
    assert sweeps["is_complete"].all() and (sweeps["linearity_r2"] > 0.9999).all()


def test_scan_rate_robust_to_staircase_and_potential_noise():
    stair = make_cv(scan_rates_mV_s=(0.1, 1.0), staircase_step_V=0.005)  # 5 rows per 5 mV step
    sweeps = cv.label_sweeps(stair.data).attrs["battlab"]["sweeps"]
    assert len(sweeps) == 8
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], np.repeat([0.1, 1.0], 4), rtol=5e-3)  # 0.5 %

    noisy = make_cv(scan_rates_mV_s=(0.5, 2.0)).data.copy()
    noisy["voltage_V"] += np.random.default_rng(3).normal(0.0, 0.002, len(noisy))  # 2 mV rms
    sweeps = cv.label_sweeps(noisy).attrs["battlab"]["sweeps"]
    assert list(sweeps["direction"]) == ["anodic", "cathodic"] * 4  # no spurious vertices
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], np.repeat([0.5, 2.0], 4), rtol=1e-2)  # 1 %


def test_rounded_vertices_do_not_bias_the_rate():
    # A vertex that dwells and turns smoothly (cosine over the last 2 % of the sweep).
    t = np.linspace(0, 2000, 4001)
    tri = 1.0 - np.abs(((t / 1000) % 2) - 1.0)  # 0 -> 1 -> 0 over 2000 s at 1 mV/s
    rounded = np.where(tri > 0.98, 0.98 + 0.02 * np.sin(np.pi / 2 * (tri - 0.98) / 0.02), tri)
    df = pd.DataFrame({"test_time_s": t, "voltage_V": 3.0 + rounded, "current_A": 1e-6 * np.sign(np.cos(t))})
    sweeps = cv.label_sweeps(df).attrs["battlab"]["sweeps"]
    assert list(sweeps["direction"]) == ["anodic", "cathodic"]
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], 1.0, rtol=1e-3)


def test_list_of_files_equals_one_file(demo):
    parts = make_cv(separate_files=True)
    assert isinstance(parts.data, list) and len(parts.data) == 6
    lab = cv.label_sweeps(parts.data)
    assert sorted(lab["experiment"].unique()) == list(range(6))
    assert sorted(lab["scan_rate_group_mV_s"].unique()) == list(demo.truth["scan_rates_mV_s"])
    one = cv.dunn_decomposition(demo.data).fractions_
    many = cv.dunn_decomposition(parts.data).fractions_
    np.testing.assert_allclose(many["capacitive_fraction_pct"], one["capacitive_fraction_pct"], atol=1e-9)


# --------------------------------------------------------------------------- peaks


def test_peak_potentials_delta_ep_and_e_half(demo, peaks):
    truth = demo.truth
    exact = truth["peaks"].query("peak == 'diffusive' and direction == 'anodic' and cycle == 1")
    first = peaks["a"].groupby("scan_rate_group_mV_s").nth(0)
    np.testing.assert_allclose(first["peak_potential_V"], exact["peak_potential_V"], atol=2e-3)  # 2 mV
    pairs = cv.pair_peaks(peaks["a"], peaks["c"])
    assert len(pairs) == 12
    # Reversible one-electron couple: ΔEp = 2.22 RT/F = 57 mV, E½ = E0 (equal D).
    assert truth["delta_Ep_V"] == pytest.approx(0.0573, abs=5e-4)
    np.testing.assert_allclose(pairs["delta_Ep_V"], truth["delta_Ep_V"], atol=2e-3)
    np.testing.assert_allclose(pairs["E_half_V"], truth["formal_potential_V"], atol=1.5e-3)
    np.testing.assert_allclose(pairs["peak_current_ratio"], 1.0, atol=0.03)


def test_baseline_corrected_peak_current_matches_the_faradaic_peak(demo, peaks):
    # First cycle of each rate: before the wave there is no faradaic current, so the
    # extrapolated line is exactly the capacitive background. (In the second cycle the
    # tail of the previous reduction still flows there; a straight line cannot remove it.)
    exact = demo.truth["peaks"].query("peak == 'diffusive' and direction == 'anodic' and cycle == 1")
    first = peaks["a"].loc[peaks["a"]["cycle"] % 2 == 1]  # cycles run on through the file: 1, 3, 5 ...
    assert len(first) == 6
    np.testing.assert_allclose(first["peak_current_A"], exact["peak_current_A"], rtol=0.02)  # 2 %
    raw_minus_base = peaks["a"]["raw_current_A"] - peaks["a"]["baseline_current_A"]
    np.testing.assert_allclose(raw_minus_base, peaks["a"]["peak_current_A"], rtol=0.02)


def test_baseline_through_points_and_none(labelled, peaks):
    pts = cv.find_peaks(labelled, window_V=(3.3, 3.7), baseline="points", baseline_points_V=(3.25, 3.30))
    np.testing.assert_allclose(pts["peak_current_A"], peaks["a"]["peak_current_A"], rtol=0.03)
    raw = cv.find_peaks(labelled, window_V=(3.3, 3.7), baseline="none")
    assert (raw["peak_current_A"] > peaks["a"]["peak_current_A"]).all()  # the capacitive current adds
    assert (raw["baseline_current_A"] == 0).all()


# --------------------------------------------------------------------------- kinetics


def test_randles_sevcik_recovers_d_within_5_percent(demo, peaks):
    t = demo.truth
    for form in ("general", "25C"):
        rs = cv.randles_sevcik(peaks["a"], n_electrons=t["n_electrons"], area_cm2=t["area_cm2"],
                               concentration_mol_cm3=t["concentration_mol_cm3"], temperature_K=t["temperature_K"],
                               form=form)
        assert rs["diffusion_coefficient_cm2_s"] == pytest.approx(t["diffusion_coefficient_cm2_s"], rel=0.05)
        assert rs["r_squared"] > 0.999 and rs["n_points"] == 6
        assert list(rs["points"]["scan_rate_mV_s"]) == list(t["scan_rates_mV_s"])


def test_b_values_within_003(demo, peaks):
    table = cv.power_law(pd.concat([peaks["a"], peaks["c"], peaks["p"]]))
    b = table.set_index(["peak", "direction"])["b_value"]
    assert b[("diffusive", "anodic")] == pytest.approx(demo.truth["b_values"]["diffusive"], abs=0.03)
    assert b[("diffusive", "cathodic")] == pytest.approx(0.5, abs=0.03)
    assert b[("pseudo", "anodic")] == pytest.approx(demo.truth["b_values"]["pseudocapacitive"], abs=0.03)
    assert len(table.attrs["battlab"]["points"]) == 18


@pytest.mark.parametrize("cycle, truth_cycle", [("last", 2), ("first", 1)])
def test_dunn_capacitive_fraction_within_2_points(demo, labelled, cycle, truth_cycle):
    model = cv.dunn_decomposition(labelled, cycle=cycle)
    truth = demo.truth["capacitive_fraction"].query("cycle == @truth_cycle")
    np.testing.assert_allclose(model.fractions_["scan_rate_mV_s"], truth["scan_rate_mV_s"])
    np.testing.assert_allclose(model.fractions_["capacitive_fraction_pct"], truth["capacitive_fraction_pct"],
                               atol=2.0)  # percentage points
    assert model.fractions_["capacitive_fraction_pct"].is_monotonic_increasing  # more capacitive when faster


def test_dunn_coefficients_and_decomposed_cv(demo, labelled):
    model = cv.dunn_decomposition(labelled)
    c = model.coefficients_
    # Far from both peaks k1 is the double-layer capacitance (signed by the sweep).
    flat = c.loc[(c["voltage_V"] > 2.92) & (c["voltage_V"] < 2.98)]
    sign = np.where(flat["direction"] == "anodic", 1.0, -1.0)
    np.testing.assert_allclose(flat["k1_A_s_V"] * sign, demo.truth["double_layer_F"], rtol=0.05)
    at_pseudo = c.loc[(c["direction"] == "anodic")].iloc[(c.loc[c["direction"] == "anodic", "voltage_V"] - 3.15)
                                                         .abs().argmin()]
    t = demo.truth
    assert at_pseudo["k1_A_s_V"] == pytest.approx(t["double_layer_F"] + t["pseudocapacitance_F"], rel=0.03)
    pred = model.predict(1.0)
    np.testing.assert_allclose(pred["current_A"], pred["measured_current_A"], atol=5 * t["noise_A"])
    np.testing.assert_allclose(pred["current_A"], pred["capacitive_current_A"] + pred["diffusive_current_A"])
    assert set(pred["direction"]) == {"anodic", "cathodic"}


# --------------------------------------------------------------------------- bad input


def test_one_scan_rate_gives_a_clear_message():
    single = make_cv(scan_rates_mV_s=(0.5,))
    lab = cv.label_sweeps(single.data)
    a = cv.find_peaks(lab, **ANODIC)
    assert len(a) == 2  # peaks still work
    with pytest.raises(MissingDataError, match="two or more scan rates"):
        cv.dunn_decomposition(lab)
    with pytest.raises(MissingDataError, match="two or more scan rates"):
        cv.power_law(a)
    with pytest.raises(MissingDataError, match="two or more scan rates"):
        cv.randles_sevcik(a, n_electrons=1, area_cm2=1, concentration_mol_cm3=1e-5)


def test_bad_parameters_raise_battlab_errors(labelled, peaks):
    with pytest.raises(InvalidParameterError):
        cv.find_peaks(labelled, window_V=(3.4, 3.4))
    with pytest.raises(InvalidParameterError):
        cv.find_peaks(labelled, window_V=(3.3, 3.7), direction="up")
    with pytest.raises(InvalidParameterError, match="area_cm2"):
        cv.randles_sevcik(peaks["a"], n_electrons=1, area_cm2=0, concentration_mol_cm3=1e-5)
    with pytest.raises(InvalidParameterError, match="cycle"):
        cv.dunn_decomposition(labelled, cycle="second")
    with pytest.raises(InvalidParameterError):
        cv.label_sweeps("not a table")
    flat = pd.DataFrame({"test_time_s": np.arange(50.0), "voltage_V": 3.0, "current_A": 1e-6})
    with pytest.raises(MissingDataError, match="never changes"):
        cv.label_sweeps(flat)


def test_galvanostatic_data_is_not_a_cv():
    t = np.linspace(0, 7200, 2000)
    v = 3.0 + 0.5 * np.sqrt(np.abs(np.sin(np.pi * t / 3600)))  # non-linear in time
    df = pd.DataFrame({"test_time_s": t, "voltage_V": v, "current_A": np.where(t % 3600 < 1800, 1e-3, -1e-3)})
    with pytest.raises(MissingDataError, match="not a cyclic voltammogram"):
        cv.check_cv(df)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))), min_size=0, max_size=60))
def test_arbitrary_potentials_raise_only_battlab_errors(values):
    n = len(values)
    df = pd.DataFrame({"test_time_s": np.arange(n, dtype=float), "voltage_V": values,
                       "current_A": np.linspace(-1e-6, 1e-6, n)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            lab = cv.check_cv(df)
            cv.find_peaks(lab, window_V=(-1, 1))
        except BattlabError:
            pass


# --------------------------------------------------------------------------- real file


@pytest.mark.parametrize("name", ["yadg_cv.mpr", "yadg_cv.mpt"])
def test_real_eclab_cv_sweeps_and_rate(real_data, name):
    data = battlab.load(real_data / "biologic" / name)
    assert data.attrs["battlab"]["technique"] == "cv"
    lab = cv.check_cv(data)
    sweeps = lab.attrs["battlab"]["sweeps"]
    # The header programs Ei = Eoc (2.48 V) -> E1 = 1.5 V -> E2 = 5.5 V at dE/dt = 0.100 mV/s;
    # the file ends during the second up-sweep.
    assert list(sweeps["direction"]) == ["cathodic", "anodic", "cathodic", "anodic"]
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], 0.100, rtol=5e-3)
    assert set(lab["scan_rate_group_mV_s"]) == {0.1}
    assert sweeps["start_potential_V"].iloc[0] == pytest.approx(2.481, abs=2e-3)
    np.testing.assert_allclose(sweeps["end_potential_V"].iloc[:3], [1.5, 5.5, 1.5], atol=2e-3)
    assert list(sweeps["is_complete"]) == [False, True, True, False]
    assert list(sweeps["cycle"]) == [0, 1, 1, 2]  # cycles open with the first full (anodic) sweep
    assert sweeps["duration_s"].iloc[1] == pytest.approx(4.0 / 0.1e-3, rel=2e-3)


def test_real_eclab_cv_peaks(real_data):
    lab = cv.label_sweeps(battlab.load(real_data / "biologic" / "yadg_cv.mpr"))
    # Second up-sweep: a sharp anodic current spike at 2.911 V (0.30 mA over a ~1 µA background).
    spike = cv.find_peaks(lab, window_V=(2.6, 3.1), baseline_window_V=(2.6, 2.8))
    row = spike.set_index("sweep").loc[4]
    assert row["peak_potential_V"] == pytest.approx(2.911, abs=2e-3)
    assert row["peak_current_A"] == pytest.approx(3.0e-4, rel=0.05)
    assert abs(row["baseline_current_A"]) < 2e-6
    # First full up-sweep: the current only grows towards 5.5 V (electrolyte oxidation), so the
    # maximum sits on the window edge and is reported as "no peak" rather than as a peak.
    onset = cv.find_peaks(lab, window_V=(4.5, 5.45), baseline="none").set_index("sweep").loc[2]
    assert np.isnan(onset["peak_current_A"])
    up = lab.loc[lab["sweep"] == 2]
    assert up.loc[up["voltage_V"] > 5.4, "current_A"].min() > 5 * up.loc[up["voltage_V"] < 4.0, "current_A"].max()


def test_real_cycling_file_is_refused(real_data):
    data = battlab.load(real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr")
    with pytest.raises(MissingDataError, match="not a cyclic voltammogram"):
        cv.check_cv(data)


def test_holds_at_the_vertices_do_not_bias_the_rate():
    # Long potentiostatic rests (as many rows as a whole sweep) at the lower vertex between rates.
    demo = make_cv(scan_rates_mV_s=(0.5, 1.0, 2.0), separate_files=True)
    pieces, t0 = [], 0.0
    for df in demo.data:
        rest = pd.DataFrame({"test_time_s": np.linspace(0, 3000, 1101), "voltage_V": df["voltage_V"].iloc[0],
                             "current_A": 0.0})
        for part in (rest, df):
            part = part[["test_time_s", "voltage_V", "current_A"]].copy()
            part["test_time_s"] += t0 - part["test_time_s"].iloc[0] + 10.0
            t0 = float(part["test_time_s"].iloc[-1])
            pieces.append(part)
    lab = cv.check_cv(pd.concat(pieces, ignore_index=True))
    sweeps = lab.attrs["battlab"]["sweeps"]
    assert len(sweeps) == 12
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], np.repeat([0.5, 1.0, 2.0], 4), rtol=5e-3)
    model = cv.dunn_decomposition(lab, cycle="first")
    exact = demo.truth["capacitive_fraction"].query("cycle == 1")["capacitive_fraction_pct"].to_numpy()
    np.testing.assert_allclose(model.fractions_["capacitive_fraction_pct"], exact, atol=2.0)


def test_gamry_dta_cv_fixture(test_data):
    # Hand-made Gamry CV: 0 -> 0.5 -> 0 V twice at 100 mV/s (SCANRATE in the header), 0.1 V per row.
    data = battlab.load(test_data / "gamry_cv_two_cycles.DTA")
    with pytest.warns(battlab.errors.BattlabWarning, match="shorter than 5 rows"):
        lab = cv.check_cv(data)  # the last down-sweep has only 4 rows and is left out
    sweeps = lab.attrs["battlab"]["sweeps"]
    assert list(sweeps["direction"]) == ["anodic", "cathodic", "anodic"]
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], 100.0, rtol=1e-6)
    peaks = cv.find_peaks(lab, window_V=(0.1, 0.45), baseline="none")
    np.testing.assert_allclose(peaks["peak_potential_V"], 0.3, atol=0.05)


@settings(max_examples=30, deadline=None)
@given(rate_mV_s=st.floats(0.01, 500.0), window=st.floats(0.05, 4.0), n_sweeps=st.integers(2, 6),
       rows=st.integers(40, 400), noise_frac=st.floats(0.0, 0.003), seed=st.integers(0, 2**16))
def test_triangle_waves_rate_recovered(rate_mV_s, window, n_sweeps, rows, noise_frac, seed):
    rng = np.random.default_rng(seed)
    sweep_s = window / (rate_mV_s * 1e-3)
    t = np.linspace(0.0, n_sweeps * sweep_s, n_sweeps * rows + 1)
    phase = (t / sweep_s) % 2.0
    v = 1.0 + window * np.where(phase <= 1.0, phase, 2.0 - phase) + rng.normal(0, noise_frac * window, len(t))
    df = pd.DataFrame({"test_time_s": t, "voltage_V": v, "current_A": 1e-6 * np.ones_like(t)})
    sweeps = cv.label_sweeps(df).attrs["battlab"]["sweeps"]
    assert len(sweeps) == n_sweeps
    assert list(sweeps["direction"]) == (["anodic", "cathodic"] * 3)[:n_sweeps]
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], rate_mV_s, rtol=0.01)  # 1 %
