"""GITT/PITT: known-answer tests on simulated films, detection rules, real EC-Lab files.

The GITT demo solves Fick's second law with a known D(x) and OCV(x) (finite volumes,
BDF2), so Weppner–Huggins is checked against the diffusion coefficient that generated
the data, not against the formula that analyses it.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.datasets import make_gitt, make_pitt
from battlab.datasets.gitt import OCV_PARAMS, film_ocv
from battlab.echem import gitt
from battlab.errors import InvalidParameterError, MissingDataError

D_TOLERANCE = 0.10  # per pulse, on every pulse that passes the validity checks


def _geometry(truth, thickness=True):
    g = {k: truth[k] for k in ("molar_mass_g_mol", "molar_volume_cm3_mol", "area_cm2")}
    g["mass_mg"] = truth["active_mass_mg"]
    if thickness:
        g["thickness_um"] = truth["thickness_um"]
    return g


@pytest.fixture(scope="module", params=["discharge", "charge"])
def titration(request):
    demo = make_gitt(direction=request.param)
    res = gitt.analyze_gitt(demo.data, x_initial=demo.truth["x_initial"], **_geometry(demo.truth))
    return demo, res


def test_pulses_are_all_found(titration):
    demo, res = titration
    truth = demo.truth["pulses"]
    assert len(res) == len(truth) == 190
    np.testing.assert_allclose(res["tau_s"], 60.0, rtol=1e-9)
    np.testing.assert_allclose(res["current_A"], truth["current_A"], rtol=1e-9)
    assert set(res["direction"]) == {demo.truth["direction"]}
    np.testing.assert_allclose(res["rest_s"], 2400.0, rtol=1e-9)


def test_weppner_huggins_recovers_D_within_10_percent_away_from_plateaus(titration):
    demo, res = titration
    truth = demo.truth["pulses"]
    d_true = truth["diffusion_coefficient_cm2_s"].to_numpy()
    valid = res["valid"].to_numpy()
    off_plateau = ~truth["plateau"].to_numpy()
    # The validity checks keep most pulses of the sloping regions ...
    assert valid[off_plateau].mean() >= 0.7
    # ... reject every pulse on (or at the edge of) the two-phase plateau ...
    assert not valid[truth["plateau"].to_numpy()].any()
    # ... and every kept pulse is within 10 % for the mass form, the L² form and the √t fit.
    for col in ("diffusion_coefficient_cm2_s", "diffusion_coefficient_L_cm2_s", "diffusion_coefficient_sqrt_t_cm2_s"):
        err = res[col].to_numpy()[valid] / d_true[valid] - 1.0
        assert np.abs(err).max() < D_TOLERANCE, (col, np.abs(err).max())
    # A dense film: m·V_M/(M·S) is its thickness, so both Weppner–Huggins forms agree.
    np.testing.assert_allclose(res["diffusion_coefficient_cm2_s"], res["diffusion_coefficient_L_cm2_s"], rtol=1e-9)


def test_plateau_pulses_are_reported_but_flagged(titration):
    demo, res = titration
    plateau = demo.truth["pulses"]["plateau"].to_numpy()
    on = res[plateau]
    assert on["diffusion_coefficient_cm2_s"].notna().all()  # reported ...
    assert (on["flags"] != "").all()  # ... but flagged
    assert on["flags"].str.contains("small_delta_Es|ocv_curvature|sqrt_t_nonlinear").all()


def test_ir_drop_resistance_ocv_and_composition(titration):
    demo, res = titration
    truth = demo.truth["pulses"]
    r = demo.truth["resistance_ohm"]
    # The IR drop is only 0.27 mV against 10 µV noise: single pulses scatter, the set does not.
    # (At the end the relaxation is √t-like only at first: a 5 % median tolerance there.)
    for col, tol in (("resistance_start_ohm", 0.02), ("resistance_end_ohm", 0.05)):
        rel = res[col].to_numpy() / r - 1
        assert abs(np.median(rel)) < tol and np.mean(np.abs(rel)) < 0.12, col
    np.testing.assert_allclose(res["ocv_V"], truth["ocv_V"], atol=1e-4)  # 0.1 mV, noise is 10 µV
    np.testing.assert_allclose(res["x_start"], truth["x_before"], atol=1e-9)
    np.testing.assert_allclose(res["x_end"], truth["x_after"], atol=1e-9)
    # ΔEs is the step between consecutive relaxation ends.
    np.testing.assert_allclose(res["delta_Es_V"].to_numpy()[1:], np.diff(res["ocv_V"].to_numpy()), atol=1e-12)
    # ΔEt and ΔEs move the same way; OCV falls on lithiation and rises on delithiation.
    sign = -1 if demo.truth["direction"] == "discharge" else 1
    assert (np.sign(res["delta_Et_V"]) == sign).all()
    soc = np.r_[res["soc_start"], res["soc_end"]]
    assert soc.min() == pytest.approx(0.0) and soc.max() == pytest.approx(1.0)
    # SOC rises on charge, falls on discharge.
    assert (np.sign(np.diff(res["soc_end"])) == sign).all()
    ocv = gitt.ocv_curve(res)
    assert len(ocv) == len(res) + 1
    assert ocv["ocv_V"].iat[0] == pytest.approx(film_ocv(demo.truth["x_initial"]), abs=1e-4)


def test_detection_tolerates_noise_and_no_leading_rest():
    demo = make_gitt(n_pulses=6, noise_V=2e-4)
    df = demo.data
    rng = np.random.default_rng(1)
    i = df["current_A"].to_numpy().copy()
    on = i != 0
    i[on] *= 1 + rng.normal(0, 0.005, on.sum())  # 0.5 % current ripple
    i[~on] = rng.normal(0, 1e-8, (~on).sum())  # offset noise on the rests
    noisy = df.assign(current_A=i)
    p = gitt.find_pulses(noisy)
    assert len(p) == 6
    np.testing.assert_allclose(p["tau_s"], 60.0, rtol=1e-9)
    # Without the leading OCV rest the first pulse has no starting equilibrium.
    first_pulse = int(np.flatnonzero(on)[0])
    cut = noisy.iloc[first_pulse:].reset_index(drop=True)
    res = gitt.analyze_gitt(cut, **_geometry(demo.truth))
    assert len(res) == 6
    assert "no_rest_before" in res["flags"].iat[0] and np.isnan(res["delta_Es_V"].iat[0])
    assert np.isfinite(res["delta_Es_V"].iloc[1:]).all()


def test_formulas_agree_and_reject_bad_geometry():
    tau, es, et = 600.0, 0.004, 0.012
    d_mass = gitt.weppner_huggins(tau, es, et, mass_mg=2.0, molar_mass_g_mol=100.0, molar_volume_cm3_mol=20.0,
                                  area_cm2=2.0)
    length_um = 2.0e-3 * 20.0 / (100.0 * 2.0) * 1e4
    assert d_mass == pytest.approx(gitt.weppner_huggins_thickness(tau, es, et, thickness_um=length_um), rel=1e-12)
    assert d_mass == pytest.approx(4 / (np.pi * tau) * (2e-3 * 20 / (100 * 2)) ** 2 * (es / et) ** 2, rel=1e-12)
    # √t form with dE/dx = ΔEs/Δx and dE/d√t = ΔEt/√τ reproduces Weppner–Huggins.
    n = 2e-3 / 100.0
    current = 1e-4
    dx = current * tau / (gitt.FARADAY * n)
    d_sqrt = gitt.sqrt_time_diffusion(current, es / dx, et / np.sqrt(tau), molar_volume_cm3_mol=20.0, area_cm2=2.0)
    assert d_sqrt == pytest.approx(d_mass, rel=1e-12)
    with pytest.raises(InvalidParameterError, match="mass_mg"):
        gitt.weppner_huggins(tau, es, et, mass_mg=-1, molar_mass_g_mol=1, molar_volume_cm3_mol=1, area_cm2=1)
    demo = make_gitt(n_pulses=3)
    with pytest.raises(InvalidParameterError, match="fit_window"):
        gitt.analyze_gitt(demo.data, fit_window=(0.9, 0.1))
    # Without geometry, D is NaN (never a default) but the voltages are there.
    res = gitt.analyze_gitt(demo.data)
    assert res["diffusion_coefficient_cm2_s"].isna().all() and res["x_mid"].isna().all()
    assert res["delta_Et_V"].notna().all()


def test_fit_window_changes_the_sqrt_t_fit():
    demo = make_gitt(n_pulses=4)
    early = gitt.analyze_gitt(demo.data, fit_window=(0.02, 0.3), **_geometry(demo.truth))
    late = gitt.analyze_gitt(demo.data, fit_window=(0.5, 1.0), **_geometry(demo.truth))
    assert not np.allclose(early["dE_dsqrt_t_V_s05"], late["dE_dsqrt_t_V_s05"])
    # the Weppner–Huggins ratio does not depend on the window
    np.testing.assert_allclose(early["diffusion_coefficient_cm2_s"], late["diffusion_coefficient_cm2_s"])


def test_file_without_rests_names_what_is_missing():
    demo = make_gitt(n_pulses=5)
    pulses_only = demo.data[demo.data["current_A"] != 0].reset_index(drop=True)
    with pytest.raises(MissingDataError, match="no open-circuit rest"):
        gitt.analyze_gitt(pulses_only)
    ocv_only = demo.data[demo.data["current_A"] == 0].reset_index(drop=True)
    with pytest.raises(MissingDataError, match="no current flows"):
        gitt.find_pulses(ocv_only)
    with pytest.raises(MissingDataError, match="lacks current_A"):
        gitt.find_pulses(demo.data.drop(columns=["current_A"]))


# --------------------------------------------------------------------------- PITT


@pytest.mark.parametrize("kw", [{}, {"direction": "charge", "start_V": 3.75}])
def test_pitt_recovers_D(kw):
    demo = make_pitt(**kw)
    t = demo.truth
    res = gitt.analyze_pitt(demo.data, thickness_um=t["thickness_um"])
    assert len(res) == 20
    np.testing.assert_allclose(res["step_V"].iloc[1:].abs(), 0.010, rtol=1e-6)
    np.testing.assert_allclose(res["diffusion_coefficient_cm2_s"], t["diffusion_coefficient_cm2_s"], rtol=0.01)
    np.testing.assert_allclose(res["charge_mAh"] * 3.6, t["steps"]["charge_C"], rtol=1e-6)
    mass_form = gitt.analyze_pitt(demo.data, mass_mg=t["active_mass_mg"], molar_mass_g_mol=t["molar_mass_g_mol"],
                                  molar_volume_cm3_mol=t["molar_volume_cm3_mol"], area_cm2=t["area_cm2"])
    np.testing.assert_allclose(mass_form["diffusion_coefficient_cm2_s"], res["diffusion_coefficient_cm2_s"],
                               rtol=1e-9)


def test_pitt_with_current_noise_within_5_percent():
    demo = make_pitt(noise_A=2e-8)
    res = gitt.analyze_pitt(demo.data, thickness_um=demo.truth["thickness_um"])
    np.testing.assert_allclose(res["diffusion_coefficient_cm2_s"], demo.truth["diffusion_coefficient_cm2_s"],
                               rtol=0.05)


def test_pitt_needs_potential_steps():
    with pytest.raises(MissingDataError, match="no potential step"):
        gitt.analyze_pitt(make_gitt(n_pulses=3).data, thickness_um=2.0)


# --------------------------------------------------------------------------- real files


def _load(real_data, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return battlab.load(real_data / "biologic" / name)


def test_real_intermittent_titration_with_eis(real_data):
    """cellpy_biol.mpr: a Si/C half cell delithiated at C/20 in 4 h steps, each followed by
    ~30 min rest, a GEIS measurement and 5 min more rest (checked row by row by hand)."""
    data = _load(real_data, "cellpy_biol.mpr")
    p = gitt.find_pulses(data)
    assert len(p) == 4
    assert (p["direction"] == "charge").all()
    np.testing.assert_allclose(p["current_A"], 3.247e-4, rtol=2e-3)
    np.testing.assert_allclose(p["tau_s"].iloc[:3], 14400.0, atol=0.01)
    assert p["tau_s"].iat[3] == pytest.approx(11983.36, abs=0.05)  # the last step stops at the 1 V cut-off
    assert p.attrs["battlab"]["gitt_segments"]["impedance_rows_dropped"] > 0  # the GEIS rows
    assert (p["rest_s"] > 1700).all()
    res = gitt.analyze_gitt(data, mass_mg=1.0, molar_mass_g_mol=28.09, molar_volume_cm3_mol=12.06, area_cm2=1.0)
    # Delithiation: every relaxation ends higher than the one before, x falls.
    assert (res["delta_Es_V"] > 0).all() and (np.diff(res["ocv_V"]) > 0).all()
    assert (np.diff(res["x_end"]) < 0).all()
    assert res["voltage_before_V"].iat[0] == pytest.approx(0.1269, abs=5e-4)  # leading OCV rest
    assert res["soc_end"].iat[-1] == pytest.approx(1.0)
    # With one-sample IR (no extrapolation) the jump equals the raw rows either side of the switch.
    raw = gitt.analyze_gitt(data, ir_points=1, end_points=1)
    clean = data[~(data["frequency_Hz"].fillna(0) > 0)].reset_index(drop=True)
    first = p["pulse_first_row"].to_numpy()
    v = clean["voltage_V"].to_numpy()
    np.testing.assert_allclose(raw["ir_drop_start_V"], v[first] - v[first - 1], atol=1e-12)
    assert ((raw["resistance_start_ohm"] > 1) & (raw["resistance_start_ohm"] < 100)).all()


@pytest.mark.parametrize("name", ["yadg_gcpl.issue_149.mpr", "yadg_gcpl.issue_149.mpt"])
def test_real_gcpl_pulse_pattern(real_data, name):
    """GCPL issue_149: 4 × (10 s rest, +30 µA 10 s, −30 µA 10 s); another technique ran
    between the −30 µA pulse and the next rest (170 s without samples)."""
    data = _load(real_data, name)
    p = gitt.find_pulses(data)
    counts = p.attrs["battlab"]["gitt_segments"]
    assert counts["constant_current"] == 8 and counts["rests"] == 4
    assert len(p) == 3 and counts["pulses_without_rest"] == 5  # the last −30 µA pulse ends the file
    assert (p["direction"] == "discharge").all()
    np.testing.assert_allclose(p["current_A"], -3.0e-5, rtol=2e-3)
    np.testing.assert_allclose(p["tau_s"], 10.0, atol=1e-3)
    assert p["other_current_before"].all() and p["gap_end"].all() and not p["gap_start"].any()
    res = gitt.analyze_gitt(data)
    assert not res["valid"].any()
    assert res["flags"].str.contains("other_current_before").all()
    assert res["flags"].str.contains("data_gap_end").all() and res["ir_drop_end_V"].isna().all()
    # The +30 → −30 µA switch: ΔI = −60 µA and the voltage drops, so R > 0.
    assert (res["ir_drop_start_V"] < 0).all() and (res["resistance_start_ohm"] > 0).all()


def test_real_file_without_rest_after_pulses(real_data):
    """yadg_mb.issue_95: rest, +100 mA for 10 s, −65 mA for 10 s, end: no relaxation."""
    data = _load(real_data, "yadg_mb.issue_95.mpr")
    with pytest.raises(MissingDataError, match="no open-circuit rest .* follows any of the 2 constant-current"):
        gitt.find_pulses(data)


def test_real_cycling_file_is_read_as_pulses_but_flagged(real_data):
    """gcpl.pr_182: ~10 h constant-current half cycles separated by 30 s rests."""
    res = gitt.analyze_gitt(_load(real_data, "yadg_gcpl.pr_182.1.mpr"))
    long = res[res["tau_s"] > 3e4]
    assert len(long) >= 3
    assert long["flags"].str.contains("pulse_too_long").all()
    assert long["flags"].str.contains("relaxation_incomplete").all()


def test_pulse_trace_and_plots():
    from battlab.plot import gitt as P
    from battlab.plot import to_html

    demo = make_gitt(n_pulses=4)
    res = gitt.analyze_gitt(demo.data, **_geometry(demo.truth))
    tr = gitt.pulse_trace(demo.data, res, 2)
    assert set(tr["phase"]) == {"pulse", "rest"}
    assert tr["time_s"].iloc[0] > 0 and tr.loc[tr["phase"] == "pulse", "time_s"].max() == pytest.approx(60.0)
    with pytest.raises(InvalidParameterError, match="pulse 9"):
        gitt.pulse_trace(demo.data, res, 9)
    pulse = tr[tr["phase"] == "pulse"]
    fit = gitt.fit_sqrt_time(pulse["time_s"], pulse["voltage_V"], 60.0)
    figs = [P.pulse_train(demo.data, res, selected=2), P.pulse_zoom(tr, res.iloc[1], fit),
            P.diffusion_vs_composition(res, truth=demo.truth["pulses"]), P.ocv_curve(gitt.ocv_curve(res))]
    for fig in figs:
        assert "cdn.bokeh.org" not in to_html(fig)
    assert isinstance(pd.DataFrame(res), pd.DataFrame)
    assert OCV_PARAMS["Ep_V"] == pytest.approx(3.86)


def test_random_tables_raise_only_battlab_errors():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from battlab.errors import BattlabError

    values = st.one_of(st.floats(min_value=-5, max_value=5), st.sampled_from([np.nan, np.inf, -np.inf]))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(values, values, st.sampled_from([0.0, 0.0, 1e-3, -1e-3, 2e-3])), min_size=0,
                    max_size=40))
    def check(rows):
        df = pd.DataFrame(rows, columns=["voltage_V", "current_A", "step_I"]) if rows else \
            pd.DataFrame(columns=["voltage_V", "current_A", "step_I"], dtype=float)
        df["current_A"] = df["step_I"]
        df["test_time_s"] = np.arange(len(df), dtype=float)
        for func in (gitt.analyze_gitt, gitt.analyze_pitt):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    func(df)
            except BattlabError:
                pass

    check()
