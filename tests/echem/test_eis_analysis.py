"""Known-answer tests for Lin-KK, DRT, Warburg diffusion and series fitting.

Tolerances: KK verdict at the default 1 % threshold (valid spectra with 0.2 % noise pass,
a spectrum whose R_ct drifts by 30 % during the sweep fails); DRT peak time constants
within 10 % of the generator's (R Q)^(1/α); diffusion coefficient exact (1e-12) against
the closed form; series R_ct(SOC) within 2 % of the generator's curve at every SOC.
"""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import eis as demos
from battlab.echem import eis
from battlab.errors import InvalidParameterError, MissingDataError


def spectrum(demo):
    return eis.impedance_from_table(demo.data)


def drifting_randles(drift, noise=0.002, rng=1):
    """Randles spectrum whose R_ct grows by ``drift`` (fraction) over the measurement.

    The sweep runs high → low frequency and each point takes ~2 periods (at least 0.1 s),
    so most of the time, and of the drift, falls on the low-frequency points.
    """
    f = demos.eis_frequencies()
    c = eis.parse_circuit(demos.RANDLES)
    t = np.cumsum(np.maximum(2 / f, 0.1))
    P = np.tile([5.0, 50.0, 2e-5, 0.9, 20.0], (f.size, 1))
    P[:, 1] *= 1 + drift * t / t[-1]
    z = np.array([c.impedance(f[i:i + 1], P[i])[0] for i in range(f.size)])
    g = np.random.default_rng(rng)
    return f, z + noise * np.abs(z) * (g.standard_normal(f.size) + 1j * g.standard_normal(f.size))


# ----------------------------------------------------------------- Kramers–Kronig


@pytest.mark.parametrize("demo", [demos.make_randles(noise=0.002, rng=1),
                                  demos.make_two_arc(noise=0.002, rng=2),
                                  demos.make_two_arc(sigma=20.0),
                                  demos.make_randles(inductance_H=2e-6, noise=0.002, rng=3)])
def test_kk_passes_valid_spectra(demo):
    f, z = spectrum(demo)
    res = eis.kramers_kronig(f, z)
    assert res.passed, res.verdict
    assert res.max_residual <= 0.01
    assert res.mu <= 0.85 and res.n_elements >= 3
    assert list(res.residuals.columns) == ["frequency_Hz", "residual_real", "residual_imag"]
    assert "passes" in res.verdict
    inductive = demo.truth["inductance_H"] > 0
    assert any("inductive high-frequency" in fl for fl in res.flags) == inductive
    assert not any("low-frequency residuals" in fl or "inductive loop" in fl for fl in res.flags)


def test_kk_fails_a_drifting_spectrum():
    f, z = drifting_randles(0.3)
    res = eis.kramers_kronig(f, z)
    assert not res.passed and "FAILS" in res.verdict
    # the drift shows at low frequency, where the measurement spends its time
    r = res.residuals
    worst = r.loc[(r.residual_real.abs() + r.residual_imag.abs()).idxmax(), "frequency_Hz"]
    assert worst < 1.0
    assert any("low-frequency residuals" in fl for fl in res.flags)
    # the same spectrum without drift passes
    assert eis.kramers_kronig(*drifting_randles(0.0)).passed


def test_kk_flags_an_inductive_loop():
    f = demos.eis_frequencies()
    # a low-frequency inductive loop: R0 + p(R1,C1) in series with p(R2, L2)
    z = eis.circuit_impedance("R0-p(R1,C1)-p(R2,L2)", f, {"R0": 5, "R1": 40, "C1": 2e-5,
                                                          "R2": 10, "L2": 10.0})
    res = eis.kramers_kronig(f, z)
    assert any("inductive loop" in fl for fl in res.flags)
    with pytest.raises(InvalidParameterError):
        eis.kramers_kronig(f, z, threshold=0)


def test_kk_on_real_gamry_spectrum(real_data):
    import battlab

    df = battlab.load(real_data / "gamry" / "impedancepy_exampleDataGamry.DTA")
    f, z = eis.impedance_from_table(df)
    res = eis.kramers_kronig(f, z)
    r = res.residuals
    # consistent above 1 Hz; the slow end (Z' jumps by 40 % between 0.5 and 0.2 Hz) is not
    high = r.frequency_Hz > 1.0
    assert np.abs(r.loc[high, ["residual_real", "residual_imag"]]).to_numpy().max() < 0.05
    assert not res.passed and any("low-frequency residuals" in fl for fl in res.flags)


# ----------------------------------------------------------------- DRT


@pytest.mark.parametrize("noise,rng", [(0.0, 0), (0.005, 2), (0.01, 3)])
def test_drt_peaks_at_true_time_constants(noise, rng):
    demo = demos.make_two_arc(noise=noise, rng=rng)
    f, z = spectrum(demo)
    res = eis.drt(f, z)
    assert res.lambda_method == "GCV" and res.lambda_ > 0
    pk = res.peaks[res.peaks.in_measured_range].nlargest(2, "resistance_ohm").sort_values("tau_s")
    np.testing.assert_allclose(pk.tau_s, demo.truth["tau_s"], rtol=0.10)
    # peak areas are the arc resistances (within 10 %), R∞ the series resistance (5 %
    # noise-free; with noise the fast SEI peak borrows from R∞, up to 20 %)
    np.testing.assert_allclose(pk.resistance_ohm, [15.0, 80.0], rtol=0.10)
    assert res.R_inf_ohm == pytest.approx(5.0, rel=0.05 if noise == 0 else 0.20)
    assert res.suggested_circuit == "R0-p(R1,CPE1)-p(R2,CPE2)"
    # the DRT reproduces the spectrum
    assert np.max(np.abs(res.Z_fit - z) / np.abs(z)) < 0.03 + 3 * noise
    assert (res.gamma_ohm >= -1e-12).all()


def test_drt_lambda_override_and_randles_suggestion():
    demo = demos.make_randles()
    f, z = spectrum(demo)
    smooth, sharp = eis.drt(f, z, lambda_=1e-1), eis.drt(f, z, lambda_=1e-5)
    assert smooth.lambda_method == "user" and smooth.lambda_ == 1e-1
    # stronger regularisation → broader, lower peak
    assert smooth.gamma_ohm.max() < sharp.gamma_ohm.max()
    assert sharp.suggested_circuit == "R0-p(R1,CPE1)-W2"
    assert list(sharp.table().columns) == ["tau_s", "gamma_ohm"]
    with pytest.raises(InvalidParameterError):
        eis.drt(f, z, lambda_=-1)


def test_drt_of_real_spectrum(real_data):
    import battlab

    df = battlab.load(real_data / "eis-text" / "impedancepy_exampleData.csv")
    f, z = eis.impedance_from_table(df)
    res = eis.drt(f, z)
    assert 1 <= len(res.peaks) and res.suggested_circuit.startswith("R0-p(R1,CPE1)")
    # the inductive cable tail goes to L, the intercept to R∞ (~15 mΩ in this file)
    assert res.L_H > 0 and 0.01 < res.R_inf_ohm < 0.02


# ----------------------------------------------------------------- diffusion


def test_diffusion_coefficient_closed_form_and_validation():
    d = eis.diffusion_coefficient_from_warburg(12.0, molar_volume_cm3_mol=40.0, area_cm2=2.0,
                                               dE_dx_V=-0.5)
    assert d == pytest.approx(0.5 * (40.0 * 0.5 / (96485.33212 * 2.0 * 12.0)) ** 2, rel=1e-12)
    # D ∝ 1/σ²
    d2 = eis.diffusion_coefficient_from_warburg(24.0, molar_volume_cm3_mol=40.0, area_cm2=2.0,
                                                dE_dx_V=-0.5)
    assert d / d2 == pytest.approx(4.0)
    for bad in ({"area_cm2": 0}, {"molar_volume_cm3_mol": -1}, {"dE_dx_V": 0}):
        kw = {"molar_volume_cm3_mol": 40.0, "area_cm2": 2.0, "dE_dx_V": -0.5, **bad}
        with pytest.raises(InvalidParameterError):
            eis.diffusion_coefficient_from_warburg(12.0, **kw)


def test_finite_warburg_tau_gives_diffusion_coefficient():
    f = demos.eis_frequencies(1e5, 1e-3)
    # a 10 µm film with D = 1e-8 cm²/s: τ = L²/D = 100 s, inside the measured range
    L, D = 1e-3, 1e-8
    z = eis.circuit_impedance("R0-p(R1,CPE1)-Wo1", f, {"R0": 5, "R1": 50, "CPE1_Q": 2e-5,
                                                        "CPE1_alpha": 0.9, "Wo1_R": 30, "Wo1_tau": L**2 / D})
    fit = eis.EquivalentCircuit("R0-p(R1,CPE1)-Wo1").fit(f, z)
    d = eis.diffusion_coefficient_from_tau(fit.parameters_["Wo1_tau_s"], length_cm=L)
    assert d == pytest.approx(D, rel=0.02)
    with pytest.raises(InvalidParameterError):
        eis.diffusion_coefficient_from_tau(10.0, length_cm=0)


def test_warburg_from_fit_gives_the_generators_diffusion_coefficient():
    sigma = 25.0
    demo = demos.make_randles(sigma=sigma, noise=0.002, rng=8)
    fit = eis.EquivalentCircuit(demo.truth["circuit"]).fit(*spectrum(demo))
    kw = {"molar_volume_cm3_mol": 20.0, "area_cm2": 1.5, "dE_dx_V": -0.8}
    d_fit = eis.diffusion_coefficient_from_warburg(fit.parameters_["W1_sigma_ohm_s^-0.5"], **kw)
    d_true = eis.diffusion_coefficient_from_warburg(sigma, **kw)
    assert d_fit == pytest.approx(d_true, rel=0.05)  # D ∝ σ⁻², σ within 2.5 %


# ----------------------------------------------------------------- series


@pytest.fixture(scope="module")
def series():
    demo = demos.make_eis_series(n_spectra=60)
    df = demo.data
    f = df.loc[df.spectrum == 0, "frequency_Hz"].to_numpy()
    Z = (df.z_real_ohm + 1j * df.z_imag_ohm).to_numpy().reshape(60, -1)
    return demo, f, Z


def test_series_rct_follows_the_soc_curve(series):
    demo, f, Z = series
    calls = []
    out = eis.fit_series(f, Z, demo.truth["circuit"], labels=demo.truth["soc"], label_name="soc",
                         progress=lambda i, n: calls.append((i, n)))
    assert len(out) == 60 and out.success.all()
    assert calls[-1] == (60, 60)
    np.testing.assert_allclose(out.soc, demo.truth["soc"])
    np.testing.assert_allclose(out["R1_ohm"], demos.rct_soc_curve(out.soc), rtol=0.02)
    np.testing.assert_allclose(out["R0_ohm"], demo.truth["R0"], rtol=0.02)
    assert {"R1_ohm_se", "chi_squared"} <= set(out.columns)


def test_series_keeps_arc_order_when_arcs_cross():
    # two arcs whose sizes swap along the series: columns must follow τ, not size
    f = demos.eis_frequencies()
    zs = []
    for r1 in np.linspace(10, 90, 9):
        zs.append(demos.make_two_arc(R1=r1, R2=100 - r1).data)
    Z = np.array([(d.z_real_ohm + 1j * d.z_imag_ohm).to_numpy() for d in zs])
    out = eis.fit_series(f, Z, demos.TWO_ARC)
    np.testing.assert_allclose(out["R1_ohm"], np.linspace(10, 90, 9), rtol=0.02)
    np.testing.assert_allclose(out["R2_ohm"], 100 - np.linspace(10, 90, 9), rtol=0.02)
    # and a deliberately swapped start is put back in order (fast arc first)
    fit = eis.EquivalentCircuit(demos.TWO_ARC).fit(
        f, Z[4], initial_guess={"R1": 50, "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "R2": 50,
                                "CPE2_Q": 1e-6, "CPE2_alpha": 0.95})
    assert fit.parameters_["CPE1_Q_S_s^a"] < fit.parameters_["CPE2_Q_S_s^a"]


def test_series_input_validation():
    with pytest.raises(InvalidParameterError):
        eis.fit_series(demos.eis_frequencies(), np.ones((3, 71), complex), "R0", labels=[1, 2])
    out = eis.fit_series([np.array([3.0, 2.0, 1.0])] * 2, [np.array([1, 1, 1.0])] * 2, "R0")
    assert isinstance(out, pd.DataFrame) and out["R0_ohm"].tolist() == pytest.approx([1, 1])


def test_batch_and_sequential_series_fits_agree(series):
    demo, f, Z = series
    cols = ["R0_ohm", "R1_ohm", "CPE1_Q_S_s^a", "CPE1_alpha", "W1_sigma_ohm_s^-0.5"]
    batch = eis.fit_series(f, Z[:20], demo.truth["circuit"], method="batch")
    seq = eis.fit_series(f, list(Z[:20]), demo.truth["circuit"], method="sequential")
    # same objective, same optimum: parameters, errors and χ² agree to 1e-6
    np.testing.assert_allclose(batch[cols], seq[cols], rtol=1e-6)
    np.testing.assert_allclose(batch[[c + "_se" for c in cols]], seq[[c + "_se" for c in cols]], rtol=1e-4)
    np.testing.assert_allclose(batch["chi_squared"], seq["chi_squared"], rtol=1e-6)
    frozen = eis.fit_series(f, Z[:20], demo.truth["circuit"], frozen={"CPE1_alpha": 0.9})
    assert (frozen["CPE1_alpha"] == 0.9).all() and (frozen["CPE1_alpha_se"] == 0).all()
    np.testing.assert_allclose(frozen["R1_ohm"], demos.rct_soc_curve(demo.truth["soc"][:20]), rtol=0.02)
    with pytest.raises(InvalidParameterError):
        eis.fit_series(f, Z[:3], demo.truth["circuit"], method="magic")


def test_series_aligned_to_cycling_timeline():
    from battlab.datasets import make_cycling

    cyc = make_cycling(n_cycles=3, rate_block=())
    t = cyc.data["test_time_s"].to_numpy()
    times = np.linspace(t[10], t[-10], 6)
    f = demos.eis_frequencies(1e5, 1e-1, 8)
    P = np.tile([5.0, 50.0, 2e-5, 0.9, 20.0], (6, 1))
    P[:, 1] = np.linspace(40, 60, 6)
    Z = eis.circuit_impedance(demos.RANDLES, f, P)
    series = eis.fit_series(f, Z, demos.RANDLES, labels=times - 100.0, label_name="test_time_s")
    out = eis.align_series_to_cycling(series, cyc.data, clock_offset_s=100.0)
    np.testing.assert_allclose(out["test_time_s"], times)
    np.testing.assert_allclose(out["R1_ohm"], np.linspace(40, 60, 6), rtol=1e-6)
    assert {"cycle", "half_cycle", "soc", "voltage_V"} <= set(out.columns)
    # the voltage at each spectrum is the cycler's voltage at that moment
    np.testing.assert_allclose(out["voltage_V"], np.interp(times, t, cyc.data["voltage_V"]), atol=0.02)
    with pytest.raises(MissingDataError, match="test_time_s"):
        eis.align_series_to_cycling(series.drop(columns="test_time_s"), cyc.data)
