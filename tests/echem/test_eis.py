"""Known-answer tests for battlab.echem.eis: circuit parsing, model, NLLS fitting.

Ground truth comes from battlab.datasets.eis, whose spectra are the circuit model itself.
Tolerances: fitted parameters within 2 % on noise-free data, within 3 standard errors
on noisy data, analytic Jacobian within 1e-5 of finite differences, impedance.py
(same circuit, data and modulus weighting) within 1 %.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from battlab.datasets import eis as demos
from battlab.echem import eis
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError
from battlab.io import schema as S

F = demos.eis_frequencies()


def spectrum(demo):
    return eis.impedance_from_table(demo.data)


# ----------------------------------------------------------------- parser and model


def test_parser_structure_and_names():
    c = eis.parse_circuit("R0-p(R1,CPE1)-p(Ws2,p(C3,L3)-G4)-Wo5-W6")
    assert c.param_names == ["R0", "R1", "CPE1_Q", "CPE1_alpha", "Ws2_R", "Ws2_tau", "C3", "L3",
                             "G4_R", "G4_tau", "Wo5_R", "Wo5_tau", "W6_sigma"]
    assert c.labelled_names[:4] == ["R0_ohm", "R1_ohm", "CPE1_Q_S_s^a", "CPE1_alpha"]
    assert "W6_sigma_ohm_s^-0.5" in c.labelled_names
    # whitespace is allowed
    assert eis.parse_circuit(" R0 - p( R1 , C1 ) ").n_params == 3


@pytest.mark.parametrize("bad", ["", "R0-", "p(R1)", "R0-p(R1,C1", "X1", "R0-R0",
                                 "__import__('os')", "R0+C1", "p(R1,,C1)", "R0-p(R1,C1))"])
def test_parser_rejects_bad_strings(bad):
    with pytest.raises(InvalidParameterError):
        eis.parse_circuit(bad)


@given(st.text(max_size=30))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_parser_only_raises_battlab_errors(text):
    try:
        eis.parse_circuit(text)
    except BattlabError:
        pass


def test_elements_match_closed_forms():
    w = 2 * np.pi * F
    cases = {
        "R1": ([7.0], 7.0 + 0 * w),
        "C1": ([1e-5], 1 / (1j * w * 1e-5)),
        "L1": ([1e-6], 1j * w * 1e-6),
        "CPE1": ([2e-5, 0.8], 1 / (2e-5 * (1j * w) ** 0.8)),
        "W1": ([20.0], 20.0 * (1 - 1j) / np.sqrt(w)),
        "Ws1": ([10.0, 2.0], 10 * np.tanh(np.sqrt(2j * w)) / np.sqrt(2j * w)),
        "Wo1": ([10.0, 2.0], 10 / (np.sqrt(2j * w) * np.tanh(np.sqrt(2j * w)))),
        "G1": ([10.0, 0.01], 10 / np.sqrt(1 + 0.01j * w)),
    }
    for name, (p, expected) in cases.items():
        np.testing.assert_allclose(eis.circuit_impedance(name, F, p), expected, rtol=1e-12)
    # series and parallel combination rules
    z = eis.circuit_impedance("R0-p(R1,C1)", F, {"R0": 5, "R1": 40, "C1": 1e-5})
    np.testing.assert_allclose(z, 5 + 1 / (1 / 40 + 1j * w * 1e-5), rtol=1e-12)


def test_finite_warburgs_do_not_overflow_at_high_frequency():
    f = np.logspace(9, -3, 50)
    for name in ("Ws1", "Wo1"):
        z = eis.circuit_impedance(name, f, [10.0, 100.0])
        assert np.isfinite(z).all()
    # open Warburg → capacitor R/(3) + 1/(jω C), C = τ/R, at low frequency
    z = eis.circuit_impedance("Wo1", [1e-6], [10.0, 1.0])[0]
    assert z.real == pytest.approx(10 / 3, rel=1e-3)


def test_analytic_jacobian_matches_finite_differences():
    c = eis.parse_circuit("L9-R0-p(R1,CPE1)-p(Ws2,C2)-Wo3-G4-W5")
    p = np.array([1e-6, 5, 50, 2e-5, 0.85, 10, 3, 1e-4, 4, 0.5, 2, 0.01, 15])
    _, J = c.impedance(F, p, jacobian=True)
    for k in range(p.size):
        q, r = p.copy(), p.copy()
        h = 1e-6 * p[k]
        q[k] += h
        r[k] -= h
        num = (c.impedance(F, q) - c.impedance(F, r)) / (2 * h)  # central difference
        assert np.max(np.abs(num - J[k])) <= 1e-5 * np.max(np.abs(J[k]))


def test_model_is_vectorised_over_a_batch_of_parameters():
    c = eis.parse_circuit(demos.RANDLES)
    P = np.array([[5, 50, 2e-5, 0.9, 20], [6, 30, 1e-5, 0.8, 10], [4, 70, 3e-5, 0.95, 30.0]])
    Z = c.impedance(F, P)
    assert Z.shape == (3, F.size)
    for k in range(3):
        np.testing.assert_allclose(Z[k], c.impedance(F, P[k]), rtol=1e-14)
    _, Jb = c.impedance(F, P, jacobian=True)
    assert Jb.shape == (3, 5, F.size)


# ----------------------------------------------------------------- fitting


def test_randles_fit_recovers_parameters_noise_free():
    demo = demos.make_randles()
    f, z = spectrum(demo)
    fit = eis.EquivalentCircuit(demo.truth["circuit"]).fit(f, z)  # automatic initial guess
    truth = np.array(list(demo.truth["parameters"].values()))
    np.testing.assert_allclose(fit.parameters_.to_numpy(), truth, rtol=0.02)
    assert fit.success_ and fit.chi_squared_ < 1e-12
    np.testing.assert_allclose(fit.predict(f), z, rtol=1e-6)


def test_automatic_guess_is_close_for_two_arcs():
    demo = demos.make_two_arc()
    f, z = spectrum(demo)
    g = eis.guess_parameters(demo.truth["circuit"], f, z)
    for name in ("R0", "R1", "R2"):
        assert g[name] == pytest.approx(demo.truth["parameters"][name], rel=0.25)
    # the SEI arc (fast) goes to the first block, charge transfer to the second
    assert g["R1"] < g["R2"]


@pytest.mark.parametrize("maker,kw", [
    (demos.make_two_arc, {}),
    (demos.make_two_arc, {"sigma": 15.0}),
    (demos.make_randles, {"alpha1": 0.75, "R1": 200.0}),
])
def test_fit_recovers_parameters_within_2_percent(maker, kw):
    demo = maker(**kw)
    f, z = spectrum(demo)
    fit = eis.EquivalentCircuit(demo.truth["circuit"]).fit(f, z)
    for name, value in demo.truth["parameters"].items():
        assert fit.parameters_[fit.circuit_.labelled_names[fit.circuit_.param_names.index(name)]] \
            == pytest.approx(value, rel=0.02), name


@pytest.mark.parametrize("weighting", ["modulus", "proportional", "unit"])
def test_noisy_fit_within_three_standard_errors(weighting):
    # proportional weighting is the right statistics for noise proportional to |Z'|, |Z''|
    model = "proportional" if weighting == "proportional" else "modulus"
    demo = demos.make_two_arc(noise=0.005, noise_model=model, rng=11)
    f, z = spectrum(demo)
    fit = eis.EquivalentCircuit(demo.truth["circuit"]).fit(f, z, weighting=weighting)
    truth = np.array(list(demo.truth["parameters"].values()))
    se = fit.standard_errors_.to_numpy()
    assert (se > 0).all()
    assert (np.abs(fit.parameters_.to_numpy() - truth) <= 3 * se).all(), fit.summary()
    corr = fit.correlation_.to_numpy()
    np.testing.assert_allclose(np.diag(corr), 1.0, atol=1e-9)
    assert (np.abs(corr) <= 1 + 1e-9).all()
    assert fit.residuals_.shape == (f.size, 3)
    assert fit.reduced_chi_squared_ == pytest.approx(fit.chi_squared_ / (2 * f.size - 7))


def test_frozen_bounds_and_initial_guess():
    demo = demos.make_randles(noise=0.003, rng=2)
    f, z = spectrum(demo)
    fit = eis.EquivalentCircuit(demo.truth["circuit"]).fit(
        f, z, frozen={"CPE1_alpha": 0.9, "R0": None}, bounds={"R1": (10, 45)},
        initial_guess={"R1": 30.0})
    assert fit.parameters_["CPE1_alpha"] == 0.9
    assert fit.standard_errors_["CPE1_alpha"] == 0.0
    assert fit.frozen_["R0_ohm"] and fit.frozen_["CPE1_alpha"]
    assert 10 <= fit.parameters_["R1_ohm"] <= 45
    assert list(fit.correlation_.index) == ["R1_ohm", "CPE1_Q_S_s^a", "W1_sigma_ohm_s^-0.5"]
    s = fit.summary()
    assert list(s.columns) == ["parameter", "unit", "value", "standard_error",
                               "relative_error_pct", "frozen"]
    with pytest.raises(InvalidParameterError):
        fit.fit(f, z, frozen=["R0", "R1", "CPE1_Q", "CPE1_alpha", "W1_sigma"])
    with pytest.raises(InvalidParameterError):
        fit.fit(f, z, frozen={"Rx": 1})
    with pytest.raises(InvalidParameterError):
        fit.fit(f, z, weighting="bogus")
    with pytest.raises(InvalidParameterError):
        fit.fit(f, z, bounds={"R1": (5, 1)})


def test_inductive_tail_is_fitted_with_a_series_inductor():
    demo = demos.make_randles(inductance_H=2e-6, noise=0.002, rng=4)
    f, z = spectrum(demo)
    fit = eis.EquivalentCircuit("L0-" + demo.truth["circuit"]).fit(f, z)
    assert fit.parameters_["L0_H"] == pytest.approx(2e-6, rel=0.05)
    assert fit.parameters_["R1_ohm"] == pytest.approx(50, rel=0.02)


def test_predict_before_fit_and_bad_spectra():
    with pytest.raises(InvalidParameterError):
        eis.EquivalentCircuit("R0").predict([1.0])
    with pytest.raises(MissingDataError):
        eis.EquivalentCircuit("R0-p(R1,C1)").fit([1, 2], [1 - 1j, 2 - 1j])
    with pytest.raises(InvalidParameterError):
        eis.EquivalentCircuit("R0").fit([1, 2, 3], [1, 2])


def test_impedance_from_table_accepts_canonical_and_eclab_columns():
    f = np.array([1.0, 100.0, 10.0, np.nan])
    z = np.array([3 - 2j, 1 - 0.1j, 2 - 1j, 1 + 0j])
    canon = pd.DataFrame({S.FREQUENCY: f, S.Z_REAL: z.real, S.Z_IMAG: z.imag})
    eclab = pd.DataFrame({"freq/Hz": f, "Re(Z)/Ohm": z.real, "-Im(Z)/Ohm": -z.imag})
    for df in (canon, eclab):
        with pytest.warns(UserWarning, match="dropped 1 rows"):
            ff, zz = eis.impedance_from_table(df)
        np.testing.assert_array_equal(ff, [100.0, 10.0, 1.0])  # sorted high → low
        np.testing.assert_array_equal(zz, [1 - 0.1j, 2 - 1j, 3 - 2j])
    with pytest.raises(MissingDataError):
        eis.impedance_from_table(pd.DataFrame({"x": [1.0]}))
    t = eis.impedance_table(ff, zz)
    assert list(t.columns) == list(S.EIS_COLUMNS)


def test_real_biologic_peis_fits(real_data):
    import battlab

    df = battlab.load(real_data / "biologic" / "impedancepy_exampleDataBioLogic.mpt")
    f, z = eis.impedance_from_table(df)
    assert f.size > 30
    fit = eis.EquivalentCircuit("R0-p(R1,CPE1)-p(R2,CPE2)").fit(f, z)
    assert fit.success_
    # a good fit of a real cell: weighted residuals of a few percent at most
    assert np.sqrt(fit.chi_squared_ / (2 * f.size)) < 0.05
    assert (fit.parameters_ > 0).all()


# ----------------------------------------------------------------- impedance.py


@pytest.mark.parametrize("maker,kw", [(demos.make_randles, {"noise": 0.01, "rng": 5}),
                                      (demos.make_two_arc, {"noise": 0.005, "rng": 6})])
def test_same_parameters_as_impedance_py(maker, kw):
    circuits = pytest.importorskip("impedance.models.circuits")
    demo = maker(**kw)
    f, z = spectrum(demo)
    ours = eis.EquivalentCircuit(demo.truth["circuit"]).fit(f, z)
    guess = eis.guess_parameters(demo.truth["circuit"], f, z)
    peer = circuits.CustomCircuit(demo.truth["circuit"], initial_guess=list(guess))
    peer.fit(f, z, weight_by_modulus=True)
    np.testing.assert_allclose(ours.parameters_.to_numpy(), peer.parameters_, rtol=0.01)
    # same objective: our χ² is not worse than the peer's
    zp = peer.predict(f)
    chi_peer = float(np.sum(np.abs((zp - z) / np.abs(z)) ** 2))
    assert ours.chi_squared_ <= chi_peer * (1 + 1e-6)


@pytest.mark.parametrize("circuit,params", [
    ("R0-p(R1,CPE1)-Wo1", {"R0": 5, "R1": 50, "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "Wo1_R": 30, "Wo1_tau": 20}),
    ("R0-p(R1,CPE1)-Ws1", {"R0": 5, "R1": 50, "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "Ws1_R": 30, "Ws1_tau": 20}),
    ("R0-p(R1,C1)-G1", {"R0": 5, "R1": 50, "C1": 1e-5, "G1_R": 40, "G1_tau": 0.5}),
    ("R0-p(CPE1,R1-W1)", {"R0": 5, "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "R1": 50, "W1_sigma": 20}),
    ("L0-R0-p(R1,CPE1)-p(R2,CPE2)-W1", {"L0": 1e-6, "R0": 5, "R1": 15, "CPE1_Q": 1e-6, "CPE1_alpha": 0.95,
                                        "R2": 80, "CPE2_Q": 2e-5, "CPE2_alpha": 0.9, "W1_sigma": 20}),
])
def test_every_element_fits_from_the_automatic_guess(circuit, params):
    f = demos.eis_frequencies(1e5, 1e-3)
    z = eis.circuit_impedance(circuit, f, params)
    fit = eis.EquivalentCircuit(circuit).fit(f, z)
    np.testing.assert_allclose(fit.parameters_.to_numpy(), list(params.values()), rtol=0.02)
