"""Known answers of the SAXS/SANS analyses (tolerances stated at each assertion)."""

import numpy as np
import pytest

from battlab.datasets.scattering import make_saxs_reduction, make_saxs_series
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.scattering import (
    fit_globule,
    fit_guinier,
    fit_porod,
    fit_saxs_series,
    globule_model,
    invariant,
    make_curve,
    mask_q,
    merge_curves,
    reduce_saxs,
)


def _sphere(q, radius):
    x = q * radius
    return (3 * (np.sin(x) - x * np.cos(x)) / x ** 3) ** 2


@pytest.mark.parametrize("radius", [25.0, 50.0, 120.0])
def test_guinier_recovers_sphere_rg_within_2_percent(radius):
    rng = np.random.default_rng(int(radius))
    q = np.geomspace(0.1 / radius, 8 / radius, 300)
    clean = 500 * _sphere(q, radius)
    curve = make_curve(q, clean * (1 + 0.01 * rng.standard_normal(q.size)), sigma=0.01 * clean)
    fit = fit_guinier(curve)
    rg = np.sqrt(3 / 5) * radius
    assert abs(fit.Rg_A / rg - 1) < 0.02  # 2 %
    assert abs(fit.I0 / 500 - 1) < 0.02  # 2 %
    assert fit.qRg_max <= 1.3 and fit.Rg_err_A > 0
    assert abs(fit.Rg_A - rg) < 5 * fit.Rg_err_A + 0.015 * rg  # the error bar is of the right size


def test_guinier_of_an_exact_guinier_curve_and_no_guinier_region():
    q = np.linspace(0.002, 0.05, 100)
    fit = fit_guinier(make_curve(q, 7.0 * np.exp(-(q * 30.0) ** 2 / 3)))
    assert fit.Rg_A == pytest.approx(30.0, rel=1e-6) and fit.I0 == pytest.approx(7.0, rel=1e-6)
    with pytest.raises(MissingDataError):
        fit_guinier(make_curve(q, 1 + q ** 2))  # rising: no Guinier region


def test_porod_constant_and_background_within_3_percent():
    rng = np.random.default_rng(4)
    q = np.linspace(0.05, 0.4, 200)
    K, B = 3.2e-5, 0.04
    clean = K / q ** 4 + B
    fit = fit_porod(make_curve(q, clean * (1 + 0.01 * rng.standard_normal(q.size)), sigma=0.01 * clean), fraction=0.6)
    assert abs(fit.K / K - 1) < 0.03  # 3 %
    assert abs(fit.background / B - 1) < 0.03  # 3 %


def test_specific_surface_and_invariant_of_reduced_spheres():
    demo = make_saxs_reduction()
    t = demo.truth
    reduced = reduce_saxs(demo.data, background=t["background"], sample_transmission=t["sample_transmission"],
                          background_transmission=t["background_transmission"], thickness_cm=t["thickness_cm"],
                          calibration_factor=t["calibration_factor"])
    # Reduction reproduces the absolute curve: every point within 5 propagated σ, median bias < 0.5 %.
    diff = reduced.to_numpy() - t["absolute"].to_numpy()
    assert np.all(np.abs(diff) < 5 * reduced["sigma"].to_numpy())
    assert abs(np.median(diff / t["absolute"].to_numpy())) < 0.005
    assert reduced.attrs["units"] == "cm⁻¹"
    flat = t["flat_background"]
    gu = fit_guinier(reduced - flat)
    assert abs(gu.Rg_A / t["Rg_A"] - 1) < 0.02  # 2 %
    # Sphere oscillations at high q: the Porod law holds on average; S/V within 10 %.
    por = fit_porod(reduced, q_min_inv_A=0.2, contrast_1e6_per_A2=t["contrast_1e6_per_A2"])
    assert abs(por.specific_surface_cm2_per_cm3 / t["specific_surface_cm2_per_cm3"] - 1) < 0.10
    inv = invariant(reduced, background=flat, porod_K=por.K, guinier=gu,
                    contrast_1e6_per_A2=t["contrast_1e6_per_A2"])
    assert abs(inv["volume_fraction"] / t["volume_fraction"] - 1) < 0.05  # φ from Q = 2π²Δρ²φ(1−φ), 5 %


def test_reduction_checks_its_inputs_and_masks_q():
    demo = make_saxs_reduction()
    with pytest.raises(InvalidParameterError):
        reduce_saxs(demo.data, sample_transmission=1.5)
    with pytest.raises(InvalidParameterError):
        reduce_saxs(demo.data, thickness_cm=-1)
    out = reduce_saxs(demo.data, q_min_inv_A=0.01, q_max_inv_A=0.2)
    q = out["q_inv_A"].to_numpy()
    assert q.min() >= 0.01 and q.max() <= 0.2
    with pytest.raises(InvalidParameterError):
        mask_q(demo.data, q_min_inv_A=0.3, q_max_inv_A=0.1)


def test_merge_recovers_scale_of_second_q_range():
    q = np.geomspace(0.003, 0.5, 240)
    clean = globule_model(q, A_Porod=1e-7, A_globule=10.0, R_g_A=50.0, B_inc=0.01)
    low = make_curve(q[:150], clean[:150], sigma=0.01 * clean[:150])
    high = make_curve(q[110:], 3.7 * clean[110:], sigma=0.037 * clean[110:])
    merged, factors = merge_curves([high, low])
    assert factors[1] == 1.0 and factors[0] == pytest.approx(1 / 3.7, rel=1e-6)
    np.testing.assert_allclose(merged.to_numpy(), clean, rtol=1e-6)
    with pytest.raises(InvalidParameterError):
        merge_curves([make_curve(q[:50], clean[:50]), make_curve(q[100:], clean[100:])])


def test_eq1_parameters_recovered_from_noisy_curve():
    rng = np.random.default_rng(8)
    q = np.geomspace(0.004, 0.35, 200)
    truth = {"A_Porod": 3e-7, "A_globule": 35.0, "R_g_A": 75.0, "B_inc": 0.06}
    clean = globule_model(q, **truth)
    fit = fit_globule(make_curve(q, clean * (1 + 0.02 * rng.standard_normal(q.size)), sigma=0.02 * clean))
    for name, value in truth.items():
        assert abs(fit.params[name] / value - 1) < 0.03, name  # 3 % on every Eq. (1) parameter
        assert fit.errors[name] > 0
    assert 0.7 < fit.reduced_chi_squared < 1.4
    parts = fit.predict(q, components=True)
    np.testing.assert_allclose(parts["Porod"] + parts["globule"] + parts["background"], parts["total"])
    held = fit_globule(make_curve(q, clean, sigma=0.02 * clean), fixed={"B_inc": 0.06})
    assert held.params["B_inc"] == 0.06 and held.errors["B_inc"] == 0.0
    with pytest.raises(InvalidParameterError):
        fit_globule(make_curve(q, clean), fixed={"Rg": 3})


def test_series_trends_follow_swelling_and_fracture():
    demo = make_saxs_series(n_curves=12)
    table = fit_saxs_series(demo.data, echem=demo.truth["echem"], contrast_1e6_per_A2=3.0)
    truth = demo.truth["params"]
    # Eq. (1) on every curve: R_g within 2 %, amplitudes within 5 %.
    np.testing.assert_allclose(table["R_g_A"], truth["R_g_A"], rtol=0.02)
    np.testing.assert_allclose(table["A_Porod"], truth["A_Porod"], rtol=0.05)
    np.testing.assert_allclose(table["A_globule"], truth["A_globule"], rtol=0.05)
    np.testing.assert_allclose(table["volume_ratio"], truth["volume_ratio"] / truth["volume_ratio"][0], rtol=0.06)
    # The cycling joined at each curve: voltage within 1 mV of the record.
    t = demo.truth["echem"]
    times = np.linspace(t["test_time_s"].iloc[0], t["test_time_s"].iloc[-1], 12)
    expected_v = np.interp(times, t["test_time_s"], t["voltage_V"])
    np.testing.assert_allclose(table["voltage_V"], expected_v, atol=1e-3)
    # Swelling peaks at full lithiation; the surface ends above its start (fracture).
    assert table["volume_change_pct"].idxmax() == truth["x_lithiation"].idxmax()
    assert table["A_Porod_ratio"].iloc[-1] > 1.2
    assert table["specific_surface_cm2_per_cm3"].notna().all() and table["invariant"].notna().all()


def test_rg_stays_finite_and_bounded_when_the_q_range_misses_the_shoulder():
    q = np.geomspace(0.004, 0.35, 200)
    clean = globule_model(q, A_Porod=2e-7, A_globule=20.0, R_g_A=60.0, B_inc=0.05)
    high_q_only = mask_q(make_curve(q, clean, sigma=0.02 * clean), q_min_inv_A=0.08)
    fit = fit_globule(high_q_only)
    assert np.isfinite(fit.params["R_g_A"]) and fit.params["R_g_A"] <= 10 / 0.08 + 1e-9
    table = fit_saxs_series(high_q_only)
    assert np.isfinite(table["R_g_A"]).all()
