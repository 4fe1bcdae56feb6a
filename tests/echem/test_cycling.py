"""Known-answer and property tests for battlab.echem.cycling.

Ground truth comes from battlab.datasets.make_cycling, whose capacities are exact sums
of I·Δt and whose dQ/dV peaks sit at the staging potentials shifted by ±|I|·R.
Tolerances: capacities 0.1 %, CE exact (1e-9) for constructed cycles, peaks 5 mV.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from battlab.datasets import make_cycling
from battlab.echem import cycling
from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError
from battlab.io import schema as S


@pytest.fixture(scope="module")
def demo():
    return make_cycling()


@pytest.fixture(scope="module")
def summary(demo):
    return cycling.summarize_cycles(demo.data, active_mass_mg=demo.truth["active_mass_mg"])


def test_capacities_match_integral_of_current(demo, summary):
    truth = demo.truth["cycles"]
    assert list(summary["cycle"]) == list(truth["cycle"])
    # Anode half cell: lithiation is discharge (in), delithiation is charge (out).
    np.testing.assert_allclose(summary["discharge_capacity_mAh"], truth["lithiation_capacity_mAh"], rtol=1e-3)
    np.testing.assert_allclose(summary["charge_capacity_mAh"], truth["delithiation_capacity_mAh"], rtol=1e-3)


def test_coulombic_efficiency_and_first_cycle_loss(demo, summary):
    truth = demo.truth["cycles"]
    assert summary.attrs["battlab"]["opening_half"] == "discharge"
    np.testing.assert_allclose(summary["coulombic_efficiency_pct"], 100 * truth["coulombic_efficiency"], rtol=1e-9)
    assert summary["coulombic_efficiency_pct"].iloc[0] == pytest.approx(92.0, abs=0.01)  # 8 % first-cycle loss (CV hold adds a little)
    irreversible = truth["lithiation_capacity_mAh"] - truth["delithiation_capacity_mAh"]
    np.testing.assert_allclose(summary["cumulative_irreversible_capacity_mAh"], irreversible.cumsum(), rtol=1e-6)


def test_specific_capacity_and_retention(demo, summary):
    mass_g = demo.truth["active_mass_mg"] * 1e-3
    np.testing.assert_allclose(summary["charge_capacity_mAh_g"], summary["charge_capacity_mAh"] / mass_g)
    # First delithiation equals the nominal capacity (no fade yet, C/10 reaches the cut-off).
    assert summary["out_capacity_mAh_g"].iloc[0] == pytest.approx(demo.truth["specific_capacity_mAh_g"], rel=2e-3)
    assert summary["capacity_retention_pct"].iloc[0] == pytest.approx(100.0)
    assert 85 < summary["capacity_retention_pct"].iloc[-1] < 95


def test_c_rates_and_rate_capability_table(demo, summary):
    truth = demo.truth["cycles"]
    s = cycling.summarize_cycles(demo.data, nominal_capacity_mAh=demo.truth["nominal_capacity_mAh"])
    # Mean current while flowing / nominal capacity = programmed C-rate (CV holds lower it).
    cc_only = truth["cv_capacity_mAh"] == 0
    np.testing.assert_allclose(s.loc[cc_only.values, "charge_c_rate"], truth.loc[cc_only, "c_rate"], rtol=1e-6)
    table = cycling.rate_capability(s)
    assert list(table["c_rate_label"][:7]) == ["C/10", "C/5", "C/2", "1C", "2C", "5C", "C/10"]
    assert list(table["n_cycles"][:7]) == [5, 3, 3, 3, 3, 3, 3]  # formation merges with the first C/10 block
    five_c = table.loc[table["c_rate_label"] == "5C", "retention_pct"].iloc[0]
    assert five_c < 50  # ohmic drop hits the cut-off early at 5C
    assert table["retention_pct"].iloc[0] == pytest.approx(100.0)


def test_dqdv_peaks_at_staging_potentials(demo):
    truth = demo.truth
    ica = cycling.incremental_capacity(demo.data, cycles=[3, 10, 40])
    peaks = cycling.find_dqdv_peaks(ica)
    rates = truth["cycles"].set_index("cycle")["current_A"]
    for (cycle, direction), group in peaks.groupby(["cycle", "direction"]):
        shift = rates[cycle] * truth["resistance_ohm"] * (1 if direction == "charge" else -1)
        expected = np.array(truth["plateau_potentials_V"]) + shift
        found = np.sort(group["voltage_V"].to_numpy())
        assert len(found) == 3, (cycle, direction, found)
        np.testing.assert_allclose(found, np.sort(expected), atol=0.005)


@pytest.mark.parametrize("smoothing", ["savgol", "spline"])
def test_dqdv_smoothing_choices_agree(demo, smoothing):
    ica = cycling.incremental_capacity(demo.data, cycles=[3], smoothing=smoothing)
    peaks = cycling.find_dqdv_peaks(ica)
    charge = np.sort(peaks.loc[peaks.direction == "charge", "voltage_V"].to_numpy())
    np.testing.assert_allclose(charge, np.array([0.085, 0.12, 0.21]) + 0.0035, atol=0.005)
    # Integral of dQ/dV over the grid recovers the capacity swept (smoothing keeps area).
    g = ica[ica.direction == "charge"]
    area = np.trapezoid(g["dqdv_mAh_V"], g["voltage_V"])
    assert area == pytest.approx(g["capacity_mAh"].iloc[-1] - g["capacity_mAh"].iloc[0], rel=0.02)


def test_dqdv_excludes_cv_hold_and_reversals(demo):
    ica = cycling.incremental_capacity(demo.data, cycles=[40])
    dropped = ica.attrs["battlab"]["dropped_rows"]
    # The generator's 50-point hold at 5 mV; its first points still carry ~I0 and are
    # removed as non-advancing instead.
    assert 45 <= dropped["cv_hold"] <= 50
    assert ica.attrs["battlab"]["pooled_rows"] > 0  # noise reversals on the plateaus, pooled not dropped
    assert np.isfinite(ica["dqdv_mAh_V"]).all()


def test_dqdv_peaks_survive_heavy_voltage_noise():
    # 5 mV of noise (about 17x the demo's): the monotone pooling must not drag the peaks
    # towards the noise extremes; same 5 mV tolerance as the clean known-answer test.
    noisy = make_cycling(n_cycles=12, rate_block=(), noise_V=0.005)
    truth = noisy.truth
    rates = truth["cycles"].set_index("cycle")["current_A"]
    # Heavy noise calls for a wider smoothing window than the 15 mV default.
    ica = cycling.incremental_capacity(noisy.data, cycles=[3, 11], window_V=0.02)
    peaks = cycling.find_dqdv_peaks(ica)
    for (cycle, direction), group in peaks.groupby(["cycle", "direction"]):
        shift = rates[cycle] * truth["resistance_ohm"] * (1 if direction == "charge" else -1)
        expected = np.sort(np.array(truth["plateau_potentials_V"]) + shift)
        found = np.sort(group["voltage_V"].to_numpy())
        assert len(found) == 3, (cycle, direction, found)
        np.testing.assert_allclose(found, expected, atol=0.005)


def test_dvdq_is_inverse_of_slope(demo):
    dvdq = cycling.differential_voltage(demo.data, cycles=[3])
    g = dvdq[dvdq.direction == "charge"]
    slope = np.gradient(g["voltage_V"], g["capacity_mAh"])
    mid = slice(len(g) // 10, -len(g) // 10)
    np.testing.assert_allclose(g["dvdq_V_mAh"].to_numpy()[mid].mean(), slope[mid].mean(), rtol=0.05)


def test_voltage_profiles_axes(demo):
    prof = cycling.voltage_profiles(demo.data, cycles=[2], active_mass_mg=12.5)
    ch = prof[prof.direction == "charge"]
    assert ch["soc"].iloc[-1] == pytest.approx(1.0)
    assert ch["capacity_mAh"].iloc[-1] == pytest.approx(demo.truth["cycles"].loc[1, "delithiation_capacity_mAh"])
    dis = prof[prof.direction == "discharge"]
    assert dis["soc"].iloc[-1] == pytest.approx(0.0)
    assert (np.diff(ch["time_h"]) > 0).all()
    thin = cycling.voltage_profiles(demo.data, cycles=[2], max_points_per_half=50)
    assert thin.groupby("half_cycle").size().max() <= 60


def test_cell_type_full_cell_swaps_in_and_out(demo):
    s = cycling.summarize_cycles(demo.data, cell_type="full_cell")
    # Forcing charge-first pairs each delithiation with the next lithiation.
    assert s.attrs["battlab"]["opening_half"] == "charge"
    assert s["cycle"].iloc[0] == 0 or s["coulombic_efficiency_pct"].iloc[0] > 99


def test_bad_parameters_and_missing_columns(demo):
    with pytest.raises(InvalidParameterError, match="active_mass_mg"):
        cycling.summarize_cycles(demo.data, active_mass_mg=-1)
    with pytest.raises(InvalidParameterError, match="cell_type"):
        cycling.summarize_cycles(demo.data, cell_type="cathode")
    with pytest.raises(MissingDataError, match="current_A"):
        cycling.summarize_cycles(demo.data.drop(columns=[S.CURRENT]))


# --- properties: messy tables give deterministic answers or a clear warning ------------

SMALL = make_cycling(n_cycles=3, rate_block=(), points_per_half_cycle=40).data


def _summary_quiet(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BattlabWarning)
        return cycling.summarize_cycles(df)


BASE = _summary_quiet(SMALL)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_shuffled_rows_give_identical_summary(rnd):
    order = list(range(len(SMALL)))
    rnd.shuffle(order)
    if order == sorted(order):
        order = order[::-1]
    shuffled = SMALL.iloc[order].reset_index(drop=True)
    with pytest.warns(BattlabWarning, match="sorted"):
        s = cycling.summarize_cycles(shuffled)
    pd.testing.assert_frame_equal(s, BASE)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=1, max_value=len(SMALL) - 1), min_size=1, max_size=20, unique=True))
def test_duplicate_timestamps_are_dropped_with_warning(rows):
    dup = pd.concat([SMALL, SMALL.iloc[rows]]).sort_values(S.TEST_TIME, kind="stable").reset_index(drop=True)
    with pytest.warns(BattlabWarning, match="repeat an earlier timestamp"):
        s = cycling.summarize_cycles(dup)
    pd.testing.assert_frame_equal(s, BASE)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=0, max_value=len(SMALL) - 1), min_size=1, max_size=10, unique=True))
def test_nan_current_never_silently_becomes_capacity(rows):
    bad = SMALL.copy()
    bad.loc[rows, S.CURRENT] = np.nan
    with pytest.warns(BattlabWarning, match="non-finite"):
        s = cycling.summarize_cycles(bad)
    assert np.isfinite(s["charge_capacity_mAh"]).all()


def test_time_restart_rebuilt_from_unix_time():
    restarted = SMALL.copy()
    half = len(restarted) // 2
    restarted.loc[half:, S.TEST_TIME] -= restarted.loc[half, S.TEST_TIME]
    with pytest.warns(BattlabWarning, match="restarts"):
        s = cycling.summarize_cycles(restarted)
    pd.testing.assert_frame_equal(s, BASE)


def test_summary_is_idempotent_on_labelled_input():
    lab = cycling.label_cycles(SMALL)
    pd.testing.assert_frame_equal(cycling.summarize_cycles(lab), BASE)


def test_many_cycles_share_one_glyph_coloured_by_cycle(demo):
    """Over ten cycles: one multi-line coloured by cycle number with a colour bar, whose
    figure a new cycle selection patches in place; up to ten: one named line per cycle."""
    import holoviews as hv
    from bokeh.models import ColorBar, MultiLine

    from battlab.apps._base import PlotPane
    from battlab.plot import cycling as P

    hv.extension("bokeh")
    prof = cycling.voltage_profiles(demo.data, cycles=list(range(1, 31)), max_points_per_half=50)
    model = hv.render(P.voltage_profile(prof))
    glyphs = [r.glyph for r in model.renderers]
    assert len(glyphs) == 1 and isinstance(glyphs[0], MultiLine) and model.select({"type": ColorBar})
    source = model.renderers[0].data_source.data
    assert len(source["xs"]) == 30  # one line per cycle, its half cycles split by a NaN gap
    np.testing.assert_array_equal(sorted(set(np.asarray(source["color"]).tolist())), np.arange(1, 31))
    few = cycling.voltage_profiles(demo.data, cycles=[1, 2, 3], max_points_per_half=50)
    labels = [item.label["value"] for item in hv.render(P.voltage_profile(few)).legend[0].items]
    assert labels == ["cycle 1", "cycle 2", "cycle 3"]
    pane = PlotPane()
    pane.update(P.voltage_profile(prof))
    pane.update(P.voltage_profile(cycling.voltage_profiles(demo.data, cycles=list(range(1, 31, 2)),
                                                           max_points_per_half=50)))
    assert pane.patched == 1
    assert len(pane.model.renderers[0].data_source.data["xs"]) == 15
