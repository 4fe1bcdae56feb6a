"""Synthetic impedance spectra with exact ground truth.

Spectra come straight from the circuit model in :mod:`battlab.echem._circuits`
(10 points per decade from 100 kHz to 10 mHz by default), with optional complex
Gaussian noise proportional to |Z| and an optional series inductance (cable tail).
Typical coin-cell values (research notes): R_s 3–10 Ω, R_SEI 5–20 Ω at ~50 kHz,
R_ct 20–200 Ω at 0.3–1.5 kHz, σ 5–50 Ω s^-1/2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.echem._circuits import Circuit
from battlab.errors import InvalidParameterError
from battlab.io import schema as S

__all__ = ["eis_frequencies", "make_randles", "make_two_arc", "make_eis_series", "rct_soc_curve"]

RANDLES = "R0-p(R1,CPE1)-W1"
TWO_ARC = "R0-p(R1,CPE1)-p(R2,CPE2)"
TWO_ARC_W = "R0-p(R1,CPE1)-p(R2,CPE2)-W1"


def eis_frequencies(f_max_Hz: float = 1e5, f_min_Hz: float = 1e-2, points_per_decade: int = 10):
    """Log-spaced frequencies, highest first (as instruments sweep)."""
    n = int(round(np.log10(f_max_Hz / f_min_Hz) * points_per_decade)) + 1
    return np.logspace(np.log10(f_max_Hz), np.log10(f_min_Hz), n)


def _spectrum(circuit, params, f, noise, inductance_H, rng, noise_model="modulus"):
    c = Circuit(circuit)
    z = c.impedance(f, np.array([params[n] for n in c.param_names]))
    if inductance_H:
        z = z + 1j * 2 * np.pi * f * inductance_H
    if noise:
        e = rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape)
        if noise_model == "modulus":
            z = z + noise * np.abs(z) * e
        elif noise_model == "proportional":
            z = z + noise * (np.abs(z.real) * e.real + 1j * np.abs(z.imag) * e.imag)
        else:
            raise InvalidParameterError("noise_model must be 'modulus' or 'proportional'.")
    return z


def _table(f, z, **extra):
    df = pd.DataFrame({S.FREQUENCY: f, S.Z_REAL: z.real, S.Z_IMAG: z.imag, **extra})
    return df


def make_randles(*, R0=5.0, R1=50.0, Q1=2e-5, alpha1=0.9, sigma=20.0, noise=0.0,
                 inductance_H=0.0, frequency_Hz=None, rng=0) -> Demo:
    """Randles cell ``R0-p(R1,CPE1)-W1``: electrolyte, charge transfer ‖ CPE, Warburg.

    ``noise`` is the relative standard deviation of the real and imaginary parts
    (e.g. 0.005 = 0.5 % of |Z|); ``inductance_H`` adds jωL (not in ``truth['circuit']``).
    """
    f = eis_frequencies() if frequency_Hz is None else np.asarray(frequency_Hz, float)
    params = {"R0": R0, "R1": R1, "CPE1_Q": Q1, "CPE1_alpha": alpha1, "W1_sigma": sigma}
    z = _spectrum(RANDLES, params, f, noise, inductance_H, np.random.default_rng(rng))
    truth = {"circuit": RANDLES, "parameters": params, "noise": noise, "inductance_H": inductance_H,
             "tau_s": [(R1 * Q1) ** (1 / alpha1)]}
    return Demo(_table(f, z), truth, "Randles cell with CPE and Warburg")


def make_two_arc(*, R0=5.0, R1=15.0, Q1=1e-6, alpha1=0.95, R2=80.0, Q2=2e-5, alpha2=0.9,
                 sigma=None, noise=0.0, noise_model="modulus", inductance_H=0.0, frequency_Hz=None,
                 rng=0) -> Demo:
    """SEI + charge transfer: ``R0-p(R1,CPE1)-p(R2,CPE2)`` (``-W1`` when ``sigma`` is given).

    ``noise`` is relative: of |Z| (``noise_model='modulus'``) or of |Z'| and |Z''|
    separately (``'proportional'``). The arcs are ZARCs, whose DRT is symmetric about
    τ = (R Q)^(1/α); ``truth['tau_s']`` lists those time constants (SEI first).
    """
    f = eis_frequencies() if frequency_Hz is None else np.asarray(frequency_Hz, float)
    params = {"R0": R0, "R1": R1, "CPE1_Q": Q1, "CPE1_alpha": alpha1, "R2": R2, "CPE2_Q": Q2,
              "CPE2_alpha": alpha2}
    circuit = TWO_ARC
    if sigma is not None:
        circuit = TWO_ARC_W
        params["W1_sigma"] = sigma
    z = _spectrum(circuit, params, f, noise, inductance_H, np.random.default_rng(rng), noise_model)
    truth = {"circuit": circuit, "parameters": params, "noise": noise, "inductance_H": inductance_H,
             "tau_s": [(R1 * Q1) ** (1 / alpha1), (R2 * Q2) ** (1 / alpha2)]}
    return Demo(_table(f, z), truth, "SEI and charge-transfer arcs")


def rct_soc_curve(soc):
    """Charge-transfer resistance (Ω) vs state of charge (0–1) of the series demo.

    High at both ends (lithium-poor and lithium-rich), lowest mid-range, as typical for
    insertion electrodes: 30 Ω + 60 Ω·(exp(−soc/0.08) + exp(−(1−soc)/0.12)).
    """
    s = np.asarray(soc, dtype=float)
    return 30.0 + 60.0 * (np.exp(-s / 0.08) + np.exp(-(1.0 - s) / 0.12))


def make_eis_series(*, n_spectra: int = 200, noise: float = 0.002, inductance_H: float = 0.0,
                    frequency_Hz=None, rng=0) -> Demo:
    """200 Randles spectra along SOC 0.02→0.98 with R_ct following :func:`rct_soc_curve`.

    R_s drifts slightly (5 → 5.5 Ω) and σ falls with SOC, the CPE stays fixed. The data
    are one long table with a ``spectrum`` index and the ``soc`` of each spectrum.
    """
    f = eis_frequencies(1e5, 1e-1, 8) if frequency_Hz is None else np.asarray(frequency_Hz, float)
    g = np.random.default_rng(rng)
    soc = np.linspace(0.02, 0.98, n_spectra)
    rct = rct_soc_curve(soc)
    r0 = 5.0 + 0.5 * soc
    sigma = 15.0 + 10.0 * (1 - soc)
    frames = []
    for k in range(n_spectra):
        params = {"R0": r0[k], "R1": rct[k], "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "W1_sigma": sigma[k]}
        z = _spectrum(RANDLES, params, f, noise, inductance_H, g)
        frames.append(_table(f, z, spectrum=k, soc=soc[k]))
    data = pd.concat(frames, ignore_index=True)
    truth = {"circuit": RANDLES, "soc": soc, "R0": r0, "R1": rct, "W1_sigma": sigma,
             "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "noise": noise}
    return Demo(data, truth, f"{n_spectra} spectra along SOC with R_ct(SOC)")
