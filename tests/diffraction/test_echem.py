"""Diffraction results on the cycling timeline: tracked peaks against capacity and SOC."""

import warnings

import numpy as np
import pytest

from battlab.correlate.timeline import charge_timeline
from battlab.datasets.diffraction import make_operando_graphite
from battlab.diffraction import lattice_series, phase_fractions, track_peaks
from battlab.errors import BattlabWarning, InvalidParameterError
from battlab.series import ECHEM_COLUMNS, curve_echem


@pytest.fixture(scope="module")
def tracked():
    demo = make_operando_graphite(n_patterns=40)
    return demo, track_peaks(demo.data, demo.truth["windows"], doublet=None, echem=demo.truth["echem"])


def _x_from_capacity(table, echem):
    """Lithiation x in LixC6 from the capacity column: the generator's definition (charge / lithiation charge)."""
    return -table["capacity_mAh"].to_numpy() / -float(charge_timeline(echem)["charge_mAh"].min())


def test_every_row_gets_the_cells_state(tracked):
    demo, table = tracked
    assert set(ECHEM_COLUMNS) <= set(table.columns) and len(table) == 3 * 40
    assert table.attrs["battlab"]["alignment"]["time_basis"] == "unix"
    g = table[table["peak"] == "graphite"].reset_index(drop=True)
    truth = demo.truth["peaks"]
    # Instants to float precision and x from the capacity to 1e-6 (the generator's own definition).
    np.testing.assert_allclose(g["test_time_s"], truth["test_time_s"], atol=1e-3)
    np.testing.assert_allclose(_x_from_capacity(g, demo.truth["echem"]), truth["x_in_LixC6"], atol=1e-6)
    assert g["capacity_mAh"].iloc[0] == 0.0


def test_002_position_and_phase_fractions_follow_the_law_vs_capacity(tracked):
    demo, table = tracked
    echem = demo.truth["echem"]
    g = table[table["peak"] == "graphite"].reset_index(drop=True)
    x = _x_from_capacity(g, echem)
    dilute = (x <= 0.2) & g["present"].to_numpy()
    law = 26.55 - 0.35 * x / 0.2  # generator: solid solution 26.55° → 26.20° over x = 0–0.2
    assert dilute.sum() >= 5
    assert np.max(np.abs(g["two_theta_deg"].to_numpy() - law)[dilute]) < 0.01  # issue tolerance 0.01°
    frac = phase_fractions(table, ["graphite", "LiC12", "LiC6"])
    assert {"capacity_mAh", "soc", "voltage_V"} <= set(frac.columns)
    xf = _x_from_capacity(frac, echem)
    lic6 = np.where(xf > 0.5, (xf - 0.5) / 0.5, 0.0)  # generator: LiC12 → LiC6 over x = 0.5–1
    assert np.nanmax(np.abs(frac["fraction_LiC6"].to_numpy() - lic6)) < 0.05  # 5 points, as without echem


def test_test_clock_basis_with_the_offset_gives_the_same_join(tracked):
    demo, table = tracked
    offset = float(demo.truth["peaks"]["test_time_s"].iloc[0])  # cycler test time at the first pattern
    per = curve_echem(demo.data, demo.truth["echem"], time_basis="test", clock_offset_s=offset)
    g = table[table["peak"] == "graphite"].reset_index(drop=True)
    np.testing.assert_allclose(per["capacity_mAh"], g["capacity_mAh"], atol=1e-6)
    np.testing.assert_allclose(per["voltage_V"], g["voltage_V"], atol=1e-6)


def test_patterns_outside_the_record_keep_their_rows_with_a_warning(tracked):
    demo, _ = tracked
    with pytest.warns(BattlabWarning, match="outside the cycling record"):
        per = curve_echem(demo.data, demo.truth["echem"], clock_offset_s=-3600.0)
    assert len(per) == 40 and per["voltage_V"].isna().sum() > 0 and per["voltage_V"].notna().sum() > 0
    with pytest.raises(InvalidParameterError, match="time_basis"):
        curve_echem(demo.data, demo.truth["echem"], time_basis="gps")


def test_lattice_table_carries_the_electrochemistry():
    from battlab.datasets.diffraction import make_lto_series

    demo = make_lto_series(n_patterns=4, doublet=False)
    echem = make_operando_graphite(n_patterns=4).truth["echem"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BattlabWarning)
        table = track_peaks(demo.data, demo.truth["windows"], doublet=None, echem=echem,
                            time_basis="test", clock_offset_s=60.0)
    lat = lattice_series(table, demo.truth["hkl"], system="cubic")
    np.testing.assert_allclose(lat["a_A"], demo.truth["a_A"], atol=1e-3)
    # The LTO patterns are 10 min apart from test time 60 s: the cycler's test time at each.
    np.testing.assert_allclose(lat["test_time_s"], 60.0 + 600.0 * np.arange(4), atol=1e-6)


def test_map_against_capacity_has_one_panel_per_half_cycle(tracked):
    """Capacity falls on lithiation and rises on delithiation: two map panels, each beside its voltage."""
    from battlab.plot import diffraction as P
    from battlab.plot.series import _monotonic_runs

    demo, table = tracked
    layout = P.contour_with_voltage(demo.data, demo.truth["echem"], x="capacity_mAh", current=5)
    assert len(layout) == 4  # (map, voltage) × (discharge, charge)
    titles = [t for el in layout for t in el.traverse(lambda e: e.opts.get().kwargs.get("title", ""))]
    assert any("discharge" in t for t in titles) and any("(charge)" in t for t in titles), titles
    g = table[table["peak"] == "graphite"]
    runs = _monotonic_runs(g["capacity_mAh"].to_numpy())
    assert len(runs) == 2 and runs[0][-1] == runs[1][0]  # the turning point shared
    assert np.all(np.diff(g["capacity_mAh"].to_numpy()[runs[0]]) < 0)
    # A repeated value (a rest) and NaN are left out; a single point is no run.
    assert [list(r) for r in _monotonic_runs(np.array([0.0, 0.0, 1.0, np.nan, 2.0, 1.0]))] == [[0, 2, 4], [4, 5]]
    assert _monotonic_runs(np.array([1.0, np.nan])) == []
    # Without a cycling table only the time axis can be drawn, with a message for the others.
    assert "needs the cycling file" in P.contour_with_voltage(demo.data, None, x="soc").text


def test_waterfall_beside_the_voltage_puts_each_pattern_at_its_capacity(tracked):
    from battlab.plot.series import waterfall_with_voltage

    demo, table = tracked
    layout = waterfall_with_voltage(demo.data, demo.truth["echem"], x="capacity_mAh", every=2)
    assert len(layout) == 4
    path = layout[0]  # the discharge run's patterns
    g = table[table["peak"] == "graphite"].reset_index(drop=True)
    baselines = [float(np.nanmin(p.dimension_values(1))) for p in path.split()]
    # Each drawn pattern's lowest point lies on its own capacity (background minus its own minimum).
    np.testing.assert_allclose(baselines, g["capacity_mAh"].to_numpy()[0:len(baselines) * 2:2], atol=1e-9)
    time_view = waterfall_with_voltage(demo.data, demo.truth["echem"])
    assert len(time_view) == 2
