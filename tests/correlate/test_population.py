"""Known-answer tests for battlab.correlate.population and the population demo: ΔQ(V),
knee, cycle life, population summary (serial and on a dask LocalCluster), the imaged
cell's place in its population, Faraday and Bland–Altman reality checks."""

import time

import numpy as np
import pandas as pd
import pytest

from battlab.correlate.population import (
    agreement,
    capacity_knee,
    cycle_life,
    delta_q_v,
    faraday_check,
    highlight_cell,
    population_summary,
)
from battlab.datasets.cycling import V_MAX, graphite_ocv
from battlab.datasets.population import knee_fade, make_fading_cell, population_demo
from battlab.errors import InvalidParameterError, MissingDataError


@pytest.fixture(scope="module")
def demo():
    return population_demo(n_cells=24, seed=0)


@pytest.fixture(scope="module")
def summary(demo):
    return population_summary(demo.data)


# --------------------------------------------------------------------------- demo


def test_population_demo_is_fast_and_carries_its_truth(demo):
    started = time.perf_counter()
    small = population_demo(n_cells=24, seed=1)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0  # about 0.2 s on an idle core; generous for a shared machine
    assert len(small.data) == 24 and list(small.data) == list(small.truth["cells"]["cell"])
    cells = demo.truth["cells"]
    assert cells["knee_cycle"].between(100, 260).all()
    assert demo.truth["imaged_cell"] in demo.data
    # Faster early fade -> earlier knee -> shorter life, as the generator intends.
    assert np.corrcoef(cells["fade_per_cycle"], cells["cycle_life"])[0, 1] < -0.5
    df = demo.data["cell_01"]
    assert {"test_time_s", "unix_time_s", "voltage_V", "current_A", "step"} <= set(df.columns)
    assert (np.diff(df["test_time_s"].to_numpy()) > 0).all()


def test_cycling_summary_recovers_the_generated_capacity(demo):
    # The cell's capacities come from I·Δt; with 0.05 % capacity scatter the summary
    # must match the noise-free truth to 0.25 % (5 sd) on every cycle.
    from battlab.echem.cycling import summarize_cycles

    truth = demo.truth["capacity"]
    for name in ("cell_01", "cell_16"):
        s = summarize_cycles(demo.data[name])
        q = truth.loc[truth["cell"] == name, "out_capacity_mAh"].to_numpy()
        assert len(s) == len(q)
        assert np.max(np.abs(s["out_capacity_mAh"].to_numpy() / q - 1)) < 2.5e-3


# --------------------------------------------------------------------------- ΔQ(V)


def test_delta_q_of_a_known_capacity_loss_is_exact():
    # Cycle 3 keeps 90 % of the active capacity of cycle 2 (both start from the same
    # delithiated state): every discharge row sits at the same voltage with 90 % of the
    # charge, so ΔQ(V) = −0.1·Q₂(V) to rounding.
    df = make_fading_cell([1.0, 1.0, 0.9, 0.9], noise_V=0.0, points_per_half_cycle=200)
    res = delta_q_v(df, cycle_a=2, cycle_b=3)
    c = res.curve.dropna()
    assert len(c) == 1000
    np.testing.assert_allclose(c["delta_q_mAh"], -0.1 * c["q_a_mAh"], atol=1e-9)
    assert res.features["delta_q_variance_mAh2"] == pytest.approx(0.01 * np.var(c["q_a_mAh"], ddof=1), rel=1e-9)
    assert res.features["delta_q_min_mAh"] == pytest.approx(-0.1 * c["q_a_mAh"].max(), rel=1e-9)
    assert res.features["delta_q_mean_mAh"] < 0


def test_delta_q_of_a_known_voltage_shift_follows_the_ocv():
    # Resistance 8 → 20 Ω at 0.5C moves the discharge curve down by I·ΔR, so
    # Q_b(V) = Q_a(V + I·ΔR). Expected ΔQ from the model OCV; tolerance 1 % of max |ΔQ|
    # (interpolation between 2000 rows per half cycle).
    nominal, c_rate, side = 4.375, 0.5, 0.002
    r = np.array([8.0, 8.0, 20.0])
    df = make_fading_cell([1.0, 1.0, 1.0], resistance_ohm=r, noise_V=0.0, points_per_half_cycle=2000,
                          nominal_capacity_mAh=nominal, c_rate=c_rate, side_reaction_fraction=side)
    current = c_rate * nominal * 1e-3
    grid = np.linspace(0.05, 0.6, 400)
    res = delta_q_v(df, cycle_a=2, cycle_b=3, voltage_grid_V=grid)
    xg, vg = graphite_ocv(n_points=30_001)
    x_of_ocv = lambda v: np.interp(v, vg[::-1], xg[::-1])  # noqa: E731
    x_start = x_of_ocv(V_MAX - current * 8.0)  # both cycles start where an 8 Ω delithiation ended

    def q(v, r_ohm):  # discharge: V = OCV − I·R
        return nominal * (1 + side) * (x_of_ocv(v + current * r_ohm) - x_start)

    expected = q(grid, 20.0) - q(grid, 8.0)
    got = res.curve["delta_q_mAh"].to_numpy()
    assert np.max(np.abs(got - expected)) < 0.01 * np.max(np.abs(expected))
    assert np.max(np.abs(expected)) > 0.5  # the shift is large at the staging plateaus


def test_delta_q_errors():
    df = make_fading_cell([1.0, 0.99, 0.98], noise_V=0.0)
    with pytest.raises(MissingDataError, match="cycle 7"):
        delta_q_v(df, cycle_a=1, cycle_b=7)
    with pytest.raises(InvalidParameterError, match="differ"):
        delta_q_v(df, cycle_a=2, cycle_b=2)
    with pytest.raises(InvalidParameterError, match="direction"):
        delta_q_v(df, cycle_a=1, cycle_b=2, direction="up")
    with pytest.raises(MissingDataError, match="inside both curves"):
        delta_q_v(df, cycle_a=1, cycle_b=2, voltage_grid_V=[5.0, 6.0])


# --------------------------------------------------------------------------- knee and life


def test_knee_of_a_noisy_two_slope_fade():
    # Sharp knee at 153.4 with 0.05 % noise: found within ±1 cycle and inside its 95 %
    # profile-likelihood interval; slopes within 5 %.
    rng = np.random.default_rng(2)
    k = np.arange(1, 201)
    f = knee_fade(k, fade_per_cycle=4e-4, knee_cycle=153.4, fade_after_knee=5e-3, transition_cycles=0)
    y = 4.4 * f * (1 + 5e-4 * rng.standard_normal(k.size))
    knee = capacity_knee(k, y)
    assert knee.detected
    assert knee.knee_cycle == pytest.approx(153.4, abs=1.0)
    assert knee.ci_low <= 153.4 <= knee.ci_high
    assert knee.slope_before == pytest.approx(-4.4 * 4e-4, rel=0.05)
    assert knee.slope_after == pytest.approx(-4.4 * 5e-3, rel=0.05)
    # A straight fade has no knee.
    straight = capacity_knee(k, 4.4 - 0.002 * k + 0.002 * rng.standard_normal(k.size))
    assert not straight.detected and np.isnan(straight.knee_cycle)
    with pytest.raises(MissingDataError, match="too few"):
        capacity_knee(k[:6], y[:6])


def test_knee_interval_covers_the_true_knee():
    # 100 seeded draws of a sharp knee (cycle 153.4) with 0.2 % capacity noise: the 95 %
    # profile-likelihood interval must contain it in at least 88 % of them.
    k = np.arange(1, 201)
    f = 4.4 * knee_fade(k, fade_per_cycle=4e-4, knee_cycle=153.4, fade_after_knee=5e-3, transition_cycles=0)
    hits = 0
    for seed in range(100):
        y = f * (1 + 2e-3 * np.random.default_rng(100 + seed).standard_normal(k.size))
        knee = capacity_knee(k, y)
        hits += knee.ci_low <= 153.4 <= knee.ci_high
    assert hits >= 88


def test_cycle_life_exact_and_censored():
    k = np.arange(1, 101)
    y = 2.0 - 0.0173 * (k - 1)  # reference (median of cycles 1–5) = 2.0 − 0.0346
    life = cycle_life(k, y)
    threshold = 0.8 * (2.0 - 2 * 0.0173)
    assert life.threshold_capacity == pytest.approx(threshold)
    assert life.cycle_life == int(np.flatnonzero(y < threshold)[0]) + 1 == 26
    assert not life.censored
    # Against a nominal capacity, and a test stopped before the threshold: censored.
    assert cycle_life(k, y, reference_capacity=2.0).cycle_life == int(np.flatnonzero(y < 1.6)[0]) + 1
    short = cycle_life(k[:15], y[:15])
    assert short.censored and short.cycle_life == 15
    # One bad cycle does not end the life (running median of 5).
    spiky = y.copy()
    spiky[5] = 0.5
    assert cycle_life(k, spiky).cycle_life == 26
    with pytest.raises(InvalidParameterError, match="threshold_fraction"):
        cycle_life(k, y, threshold_fraction=80)


# --------------------------------------------------------------------------- population


def test_population_summary_recovers_each_cells_truth(demo, summary):
    truth = demo.truth["cells"].set_index("cell")
    s = summary.set_index("cell")
    assert list(s.index) == list(truth.index)
    # Knee within ±5 % of the generated knee (the softplus bend, 5 cycles wide, sampled
    # 20–40 cycles past the knee pulls the two-line estimate 1–2 % early).
    assert s["knee_detected"].all()
    rel = (s["knee_cycle"] - truth["knee_cycle"]) / truth["knee_cycle"]
    assert rel.abs().max() < 0.05
    # Cycle life within one cycle; the censoring flag exact.
    assert (s["cycle_life"] - truth["cycle_life"]).abs().max() <= 1
    assert (s["censored"] == truth["censored"]).all() and truth["censored"].sum() == 1
    # Initial capacity within 0.5 %; early fade within 10 % (resistance growth adds a little).
    assert ((s["initial_capacity_mAh"] / truth["initial_capacity_mAh"] - 1).abs() < 5e-3).all()
    assert ((s["fade_per_cycle"] / truth["fade_per_cycle"] - 1).abs() < 0.10).all()
    # The Severson-style feature: log10 var ΔQ(V) between cycles 10 and 100 falls with
    # log cycle life across the population.
    r = np.corrcoef(s["delta_q_log10_variance"], np.log10(s["cycle_life"]))[0, 1]
    assert r < -0.5
    assert (s["notes"] == "").all()


def test_censored_cells_in_a_short_test():
    short = population_demo(n_cells=6, seed=3, max_cycles=150)
    s = population_summary(short.data, cycle_b=60).set_index("cell")
    truth = short.truth["cells"].set_index("cell")
    assert truth["censored"].any()
    assert (s["censored"] == truth["censored"]).all()
    censored = truth.index[truth["censored"]]
    assert (s.loc[censored, "cycle_life"] == truth.loc[censored, "n_cycles"]).all()


def test_per_cycle_tables_and_bad_populations():
    k = np.arange(1, 121)
    table = pd.DataFrame({"cycle": k, "out_capacity_mAh": 4.4 * knee_fade(k, fade_per_cycle=5e-4, knee_cycle=90,
                                                                           fade_after_knee=8e-3)})
    s = population_summary({"a": table})
    assert s.loc[0, "knee_cycle"] == pytest.approx(90, rel=0.05)
    assert np.isnan(s.loc[0, "delta_q_log10_variance"]) and "no voltage curves" in s.loc[0, "notes"]
    with pytest.raises(MissingDataError, match="non-empty"):
        population_summary({})
    with pytest.raises(MissingDataError, match="neither"):
        population_summary({"a": pd.DataFrame({"x": [1, 2]})})


def test_cells_given_as_files_are_read_where_they_are_summarised(demo, summary, tmp_path):
    # A campaign passes paths, so each worker reads its own file; the result is the same.
    paths = {}
    for name in ("cell_03", "cell_16"):
        paths[name] = tmp_path / f"{name}.csv"
        demo.data[name].to_csv(paths[name], index=False)
    from_files = population_summary(paths)
    expected = summary.set_index("cell").loc[list(paths)].reset_index()
    pd.testing.assert_frame_equal(from_files, expected, check_exact=False, rtol=1e-9)


@pytest.mark.slow
def test_population_summary_on_a_dask_local_cluster_equals_the_serial_result():
    distributed = pytest.importorskip("distributed")
    demo = population_demo(n_cells=8, seed=4)
    serial = population_summary(demo.data)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        parallel = population_summary(demo.data, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(parallel, serial)


def test_highlight_places_the_imaged_cell_in_its_population(demo, summary):
    small = pd.DataFrame({"cell": list("abcde"), "cycle_life": [100, 300, 200, 400, 200],
                          "censored": [False, False, False, True, False]})
    h = highlight_cell(small, "c", columns=["cycle_life"]).iloc[0]
    assert h["value"] == 200 and h["rank"] == 3 and h["n"] == 5
    assert h["percentile"] == pytest.approx(100 * (1 + 0.5 * 2) / 5)
    assert h["population_median"] == 200
    assert "censored" in highlight_cell(small, "d", columns=["cycle_life"]).iloc[0]["note"]
    # The demo's imaged cell is an ordinary one: near the median cycle life.
    imaged = highlight_cell(summary, demo.truth["imaged_cell"]).set_index("metric")
    assert 30 <= imaged.loc["cycle_life", "percentile"] <= 70
    assert set(imaged.index) == {"initial_capacity_mAh", "fade_per_cycle", "knee_cycle", "cycle_life",
                                 "delta_q_log10_variance"}
    with pytest.raises(InvalidParameterError, match="no cell named"):
        highlight_cell(summary, "cell_99")


# --------------------------------------------------------------------------- reality checks


def test_faraday_check_on_a_constructed_case():
    # 1000 µm³ of a phase with molar volume 35 cm³/mol holds 1e-9/35 mol; one electron
    # per formula unit needs F·n coulombs.
    n = 1e-9 / 35.0
    q = 96485.33212 * n
    out = faraday_check([q, -1.5 * q, 0.5 * q, 1.05 * q], volume_um3=1000.0, molar_volume_cm3_mol=35.0)
    assert out["moles"].iloc[0] == pytest.approx(n, rel=1e-12)
    assert out["ratio"].to_numpy() == pytest.approx([1.0, 1.5, 0.5, 1.05], rel=1e-12)
    assert list(out["verdict"]) == ["consistent", "more charge than imaged", "less charge than imaged",
                                    "consistent"]
    two = faraday_check(2 * q, moles=n, electrons_per_formula=2)
    assert two.loc[0, "ratio"] == pytest.approx(1.0) and two.loc[0, "moles_from_charge"] == pytest.approx(n)
    assert faraday_check(q, moles=0.0).loc[0, "verdict"] == "undetermined"
    with pytest.raises(InvalidParameterError, match="either moles or volume"):
        faraday_check(q, moles=n, volume_um3=1.0)
    with pytest.raises(InvalidParameterError, match="molar_volume"):
        faraday_check(q, volume_um3=1.0)


def test_agreement_of_three_soc_estimates():
    # Optical SOC reads 0.02 high with 0.01 scatter; XRD is unbiased with 0.03 scatter.
    # With 4000 points the bias is known to ±0.002 and the SD to ±5 %.
    rng = np.random.default_rng(9)
    soc = rng.uniform(0, 1, 4000)
    table = pd.DataFrame({"echem": soc, "optical": soc + 0.02 + rng.normal(0, 0.01, soc.size),
                          "xrd": soc + rng.normal(0, 0.03, soc.size)})
    out = agreement(table, ["echem", "optical", "xrd"], tolerance=0.05).set_index(["a", "b"])
    row = out.loc[("echem", "optical")]
    assert row["mean_difference"] == pytest.approx(0.02, abs=0.002)
    assert row["sd_difference"] == pytest.approx(0.01, rel=0.05)
    assert row["loa_high"] == pytest.approx(0.02 + 1.96 * 0.01, abs=0.003)
    assert row["rms_difference"] == pytest.approx(np.hypot(0.02, 0.01), rel=0.05)
    assert row["agrees"]  # limits within ±0.05
    assert out.loc[("optical", "xrd"), "sd_difference"] == pytest.approx(np.hypot(0.01, 0.03), rel=0.05)
    assert not out.loc[("echem", "xrd"), "agrees"]  # ±1.96·0.03 exceeds 0.05
    with pytest.raises(MissingDataError, match="no column"):
        agreement(table, ["echem", "afm"])
    with pytest.raises(InvalidParameterError, match="two"):
        agreement(table, ["echem"])
