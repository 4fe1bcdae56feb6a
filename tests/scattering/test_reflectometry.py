"""Parratt reflectivity against analytic cases, SLD profiles and SEI fits (tolerances stated)."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.scattering import make_reflectivity_series
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.scattering import (
    critical_q,
    fit_reflectivity,
    fit_reflectivity_series,
    fresnel_reflectivity,
    layer_table,
    parratt,
    read_layers,
    reflectivity,
    sld_profile,
)


@pytest.mark.parametrize("delta_sld", [2.07, 6.36, 0.5])
def test_bare_substrate_is_the_fresnel_curve_to_1e_6(delta_sld):
    q = np.linspace(0.001, 0.4, 2000)
    r = parratt(q, [0, 0], [0.0, delta_sld], [0, 0])
    # Independent analytic form: R = ((q − √(q² − q_c²))/(q + √(q² − q_c²)))², 1 below q_c = 4√(πΔρ).
    qc = 4 * np.sqrt(np.pi * delta_sld * 1e-6)
    assert critical_q(delta_sld) == pytest.approx(qc, rel=1e-12)
    above = q > qc * 1.0001
    qp = np.sqrt(q[above] ** 2 - qc ** 2)
    np.testing.assert_allclose(r[above], ((q[above] - qp) / (q[above] + qp)) ** 2, rtol=1e-6)
    np.testing.assert_allclose(r[q < qc * 0.9999], 1.0, rtol=1e-6)  # total reflection below the edge
    np.testing.assert_allclose(fresnel_reflectivity(q, delta_sld), r, rtol=1e-6)
    # Far above the edge R → (q_c/2q)⁴ (1 % at q = 20 q_c)
    far = q > 20 * qc
    np.testing.assert_allclose(r[far], (qc / (2 * q[far])) ** 4, rtol=0.01)


def test_fronting_medium_shifts_the_edge_and_roughness_damps():
    q = np.linspace(0.005, 0.3, 500)
    # A Si block fronting a D2O backing has the edge of Δρ = 6.36 − 2.07.
    np.testing.assert_allclose(parratt(q, [0, 0], [2.07, 6.36], [0, 0]), fresnel_reflectivity(q, 6.36 - 2.07),
                               rtol=1e-6)
    rough = parratt(q, [0, 0], [0.0, 2.07], [0, 10.0])
    smooth = parratt(q, [0, 0], [0.0, 2.07], [0, 0])
    high = q > 0.05
    # Névot–Croce at q ≫ q_c tends to the Debye–Waller factor exp(−q²σ²) (2 %).
    np.testing.assert_allclose(rough[high] / smooth[high], np.exp(-(q[high] * 10.0) ** 2), rtol=0.02)


@pytest.mark.parametrize("thickness", [150.0, 300.0, 600.0])
def test_kiessig_fringe_spacing_is_2pi_over_d(thickness):
    q = np.linspace(0.06, 0.3, 20000)
    r = reflectivity(q, [("air", 0, 0.0, 0), ("film", thickness, 4.5, 0), ("Si", 0, 2.07, 0)])
    minima = q[1:-1][(r[1:-1] < r[:-2]) & (r[1:-1] < r[2:])]
    assert abs(np.mean(np.diff(minima)) / (2 * np.pi / thickness) - 1) < 0.01  # 1 % well above q_c


def test_resolution_smearing_conserves_smooth_curves_and_fills_fringes():
    q = np.linspace(0.03, 0.25, 400)
    layers = [("air", 0, 0.0, 0), ("film", 300.0, 4.5, 3), ("Si", 0, 2.07, 3)]
    sharp = reflectivity(q, layers)
    smeared = reflectivity(q, layers, resolution_pct=8.0)
    depth = lambda r: np.log10(r.max() / r.min()) if r.size else 0  # noqa: E731
    window = (q > 0.1) & (q < 0.14)
    assert depth(smeared[window]) < depth(sharp[window])
    # Fresnel decay (no fringes) changes by < 2 % under 2 % resolution.
    bare = [("air", 0, 0.0, 0), ("Si", 0, 2.07, 0)]
    np.testing.assert_allclose(reflectivity(q, bare, resolution_pct=2.0), reflectivity(q, bare), rtol=0.02)


def test_sld_profile_steps_and_error_functions():
    layers = [("Si", 0, 2.07, 0), ("Cu", 500.0, 6.55, 0), ("SEI", 100.0, 3.0, 5.0), ("electrolyte", 0, 5.8, 8.0)]
    prof = sld_profile(layers, z_A=np.array([-50.0, 250.0, 500.0, 550.0, 600.0, 700.0]))
    sld = prof["sld_1e-6_per_A2"].to_numpy()
    assert sld[0] == pytest.approx(2.07) and sld[1] == pytest.approx(6.55)
    assert sld[2] == pytest.approx((6.55 + 3.0) / 2, abs=1e-9)  # mid-point of an erf interface
    assert sld[3] == pytest.approx(3.0, abs=1e-6) and sld[5] == pytest.approx(5.8, abs=1e-9)
    assert prof.attrs["interfaces_A"] == [0.0, 500.0, 600.0]


def test_layer_table_checks():
    with pytest.raises(MissingDataError):
        layer_table(pd.DataFrame({"name": ["a", "b"], "thickness_A": [0, 0]}))
    with pytest.raises(InvalidParameterError):
        layer_table([("a", 0, 1.0, 0), ("f", -5, 2.0, 0), ("b", 0, 1.0, 0)])
    with pytest.raises(InvalidParameterError):
        layer_table([("a", 0, 1.0, 0)])


def test_layers_csv_round_trip(tmp_path):
    demo = make_reflectivity_series(n_curves=2)
    path = tmp_path / "layers.csv"
    demo.truth["layers"].to_csv(path, index=False)
    table = read_layers(path)
    assert list(table["name"]) == ["Si", "Cu", "SEI", "electrolyte"]
    with pytest.raises(MissingDataError):
        read_layers(tmp_path / "none.csv")


def test_sei_fit_on_noisy_data_within_1_A_and_2_percent():
    demo = make_reflectivity_series(n_curves=4)
    truth = demo.truth["params"]
    for i in (0, 3):
        fit = fit_reflectivity(demo.data.isel(time=i), demo.truth["layers"], free=demo.truth["free"],
                               background=demo.truth["background"])
        assert abs(fit.params["SEI:thickness_A"] - truth["SEI:thickness_A"][i]) < 1.0  # 1 Å
        assert abs(fit.params["SEI:sld_1e-6_per_A2"] / truth["SEI:sld_1e-6_per_A2"][i] - 1) < 0.02  # 2 %
        assert abs(fit.params["electrolyte:roughness_A"] - truth["electrolyte:roughness_A"][i]) < 1.5  # 1.5 Å
        assert 0.6 < fit.reduced_chi_squared < 1.6
        assert fit.errors["SEI:thickness_A"] > 0
    with pytest.raises(InvalidParameterError):
        fit_reflectivity(demo.data.isel(time=0), demo.truth["layers"], free=["Cu:thicknes"])
    with pytest.raises(InvalidParameterError):
        fit_reflectivity(demo.data.isel(time=0), demo.truth["layers"], free=["Si:thickness_A"])


def test_series_fit_gives_thickness_against_potential():
    demo = make_reflectivity_series(n_curves=5)
    table, fits = fit_reflectivity_series(demo.data, demo.truth["layers"], free=demo.truth["free"],
                                          background=demo.truth["background"], echem=demo.truth["echem"])
    truth = demo.truth["params"]
    np.testing.assert_allclose(table["SEI:thickness_A"], truth["SEI:thickness_A"], atol=1.0)  # 1 Å
    np.testing.assert_allclose(table["SEI:sld_1e-6_per_A2"], truth["SEI:sld_1e-6_per_A2"], rtol=0.02)  # 2 %
    np.testing.assert_allclose(table["potential_V"], truth["potential_V"], atol=1e-3)  # joined from the cycling
    assert len(fits) == 5 and not table.attrs["notes"]
    # The SEI grows as the potential falls below 1 V.
    assert table["SEI:thickness_A"].iloc[-1] > table["SEI:thickness_A"].iloc[0] + 50


def _abeles(q, d, rho, sig):
    """Independent check: the characteristic-matrix (Abelès) form of the same stack."""
    k = np.sqrt((q[:, None] / 2) ** 2 - 4 * np.pi * (np.asarray(rho) - rho[0])[None, :] * 1e-6 + 0j)
    m00 = np.ones(len(q), complex)
    m01 = np.zeros(len(q), complex)
    m10 = np.zeros(len(q), complex)
    m11 = np.ones(len(q), complex)
    for j in range(len(rho) - 1):
        beta = 1j * k[:, j] * (d[j] if 0 < j else 0.0)
        r = (k[:, j] - k[:, j + 1]) / (k[:, j] + k[:, j + 1]) * np.exp(-2 * k[:, j] * k[:, j + 1] * sig[j + 1] ** 2)
        a, b, c, e = np.exp(beta), r * np.exp(beta), r * np.exp(-beta), np.exp(-beta)
        m00, m01, m10, m11 = m00 * a + m01 * c, m00 * b + m01 * e, m10 * a + m11 * c, m10 * b + m11 * e
    return np.abs(m10 / m00) ** 2


def test_parratt_matches_the_matrix_method_for_a_rough_multilayer():
    q = np.linspace(0.002, 0.35, 700)
    d = [0.0, 500.0, 120.0, 35.0, 0.0]
    rho = [2.07, 6.55, 3.2, -0.5, 5.8]
    sig = [0.0, 4.0, 6.0, 3.0, 8.0]
    np.testing.assert_allclose(parratt(q, d, rho, sig), _abeles(q, d, rho, sig), rtol=1e-8, atol=1e-14)


def test_absorption_rounds_the_total_reflection_edge():
    q = np.linspace(0.005, 0.02, 50)
    qc = critical_q(20.1)  # X-rays on Si: SLD ≈ 20.1e-6 Å⁻², absorption 0.46e-6 Å⁻²
    r = parratt(q, [0, 0], [0.0, 20.1], [0, 0], [0.0, 0.46])
    below = q < 0.9 * qc
    assert np.all(r[below] < 1) and np.all(r[below] > 0.8)
    table = layer_table([("air", 0, 0.0, 0), ("Si", 0, 20.1, 0)]).assign(**{"sld_imag_1e-6_per_A2": [0.0, 0.46]})
    np.testing.assert_allclose(reflectivity(q, table), r, rtol=1e-12)
