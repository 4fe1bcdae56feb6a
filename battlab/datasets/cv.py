"""Synthetic multi-scan-rate cyclic voltammetry with an exactly known answer.

The current is the sum of two parts built separately, so the capacitive/diffusive split
is known at every potential:

- a **diffusive** wave: a reversible (Nernstian) couple with semi-infinite planar
  diffusion, equal diffusion coefficients for both forms. Its surface fraction
  converted follows the Nernst equation; the current is that fraction's semi-derivative
  in time (the semi-integral relation of linear diffusion), computed once in
  dimensionless form with the Grünwald–Letnikov weights. In dimensionless form the wave
  does not depend on the scan rate, so the current is
  ``n F A C sqrt(D n F v / (R T)) · chi(E)`` and the forward peak obeys Randles–Ševčík
  (``chi_max = 0.4463``) at every scan rate: ``k2(E) · v^½`` exactly.
- a **capacitive** part ``k1(E) · v`` (signed with the sweep direction): a double-layer
  capacitance plus a Gaussian surface-redox (pseudocapacitive) peak, away from the
  diffusive wave, whose peak current grows as ``v^1``.

Noise is Gaussian on the current. A "digital" staircase can quantise the potential.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.io import schema as S

__all__ = ["FARADAY", "GAS_CONSTANT", "make_cv", "reversible_wave"]

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)


def reversible_wave(xi):
    """Dimensionless current ``chi`` of a reversible wave along a potential path.

    Parameters
    ----------
    xi : (N,) ndarray
        ``n F (E − E0) / (R T)`` sampled at equal steps of dimensionless time
        (``|Δxi|`` constant: a linear sweep and its reversals), starting far below 0.

    Returns
    -------
    chi : (N,) ndarray
        Oxidation current in units of ``n F A C sqrt(D n F v / (R T))``; its maximum on
        the first anodic sweep is 0.4463.
    """
    from scipy.signal import fftconvolve

    xi = np.asarray(xi, dtype=float)
    h = float(np.abs(np.diff(xi[:2]))[0])
    theta = 1.0 / (1.0 + np.exp(-xi))  # surface fraction oxidised (Nernst, equal D)
    theta = theta - theta[0]
    j = np.arange(1, len(xi))
    weights = np.r_[1.0, np.cumprod((j - 1.5) / j)]  # Grünwald–Letnikov, order 1/2
    return fftconvolve(theta, weights)[: len(xi)] / np.sqrt(h)


def make_cv(*, scan_rates_mV_s=(0.1, 0.2, 0.5, 1.0, 1.5, 2.0), n_cycles: int = 2,
            potential_window_V=(2.9, 4.0), formal_potential_V: float = 3.45, n_electrons: int = 1,
            area_cm2: float = 1.0, concentration_mol_cm3: float = 1e-5,
            diffusion_coefficient_cm2_s: float = 1e-9, temperature_K: float = 298.15,
            double_layer_F: float = 5e-4, pseudocapacitance_F: float = 3e-3,
            pseudo_potential_V: float = 3.15, pseudo_width_V: float = 0.03,
            points_per_sweep: int = 1100, noise_A: float = 5e-9, staircase_step_V: float | None = None,
            separate_files: bool = False, start_time: str = "2026-02-02T10:00:00Z", rng=0) -> Demo:
    """Cyclic voltammograms at several scan rates with a known split and a known D.

    Every scan rate runs ``n_cycles`` cycles from the lower vertex (anodic sweep first)
    on a freshly relaxed electrode; in one file the rates follow each other in time.

    Parameters
    ----------
    scan_rates_mV_s : sequence of float
        Scan rates in mV/s.
    potential_window_V : (float, float)
        Lower and upper vertex potentials.
    formal_potential_V, n_electrons, area_cm2, concentration_mol_cm3,
    diffusion_coefficient_cm2_s, temperature_K : float
        The diffusive couple (Randles–Ševčík inputs).
    double_layer_F, pseudocapacitance_F : float
        Capacitive ``k1(E) = C_dl + C_p exp(−(E − E_p)² / (2 w²))`` in farads (A·s/V).
    pseudo_potential_V, pseudo_width_V : float
        Centre and width of the surface-redox peak.
    points_per_sweep : int
        Samples per sweep (equal time steps).
    noise_A : float
        Standard deviation of the current noise.
    staircase_step_V : float, optional
        Quantise the logged potential into steps of this height (a digital CV).
    separate_files : bool
        Return one table per scan rate (a list) instead of one table.
    rng : int or numpy.random.Generator
        Seed of the noise.

    Returns
    -------
    Demo
        ``data``: canonical table (or list of tables). ``truth``: the inputs, the exact
        peak table (``peaks``), the b-values of both peaks, ΔEp and E½ of the
        diffusive couple, the capacitive fraction of every cycle and scan rate
        (``capacitive_fraction``, charge-weighted over the cycle) and per-row
        ``capacitive_current_A`` / ``diffusive_current_A``.
    """
    rng = np.random.default_rng(rng)
    e_lo, e_hi = map(float, potential_window_V)
    rates = np.asarray(scan_rates_mV_s, dtype=float)
    if e_hi <= e_lo or (rates <= 0).any() or n_cycles < 1:
        from battlab.errors import InvalidParameterError

        raise InvalidParameterError("need potential_window_V = (low, high), positive scan rates, n_cycles >= 1.")
    f = n_electrons * FARADAY / (GAS_CONSTANT * temperature_K)
    span = e_hi - e_lo
    n_sweeps = 2 * n_cycles
    # One dimensionless path for all rates; a fine step keeps the wave exact, then the
    # samples of each file are interpolated from it.
    fine = 40 * points_per_sweep
    s = np.linspace(0.0, n_sweeps, n_sweeps * fine + 1)  # position in sweeps
    frac = s % 2.0
    e_path = e_lo + span * np.where(frac <= 1.0, frac, 2.0 - frac)
    direction_path = np.where(frac < 1.0, 1, -1)
    direction_path[-1] = -1
    chi = reversible_wave(f * (e_path - formal_potential_V))
    scale = n_electrons * FARADAY * area_cm2 * concentration_mol_cm3 * np.sqrt(diffusion_coefficient_cm2_s * f)

    def k1(e):
        return double_layer_F + pseudocapacitance_F * np.exp(-0.5 * ((e - pseudo_potential_V) / pseudo_width_V) ** 2)

    tables, peak_rows, frac_rows, cap_parts, dif_parts = [], [], [], [], []
    t_offset = 0.0
    t0 = pd.Timestamp(start_time).timestamp()
    for k, rate in enumerate(rates):
        v = rate * 1e-3
        sweep_s = span / v
        n = n_sweeps * points_per_sweep + 1
        t = np.linspace(0.0, n_sweeps * sweep_s, n)
        pos = t / sweep_s
        e = np.interp(pos, s, e_path)
        direction = np.interp(pos, s, direction_path)
        direction = np.where(direction >= 0, 1.0, -1.0)
        i_dif = scale * np.sqrt(v) * np.interp(pos, s, chi)
        i_cap = direction * k1(e) * v
        current = i_dif + i_cap + (rng.normal(0.0, noise_A, n) if noise_A else 0.0)
        logged = e if not staircase_step_V else e_lo + np.round((e - e_lo) / staircase_step_V) * staircase_step_V
        df = pd.DataFrame({S.TEST_TIME: t + t_offset, S.VOLTAGE: logged, S.CURRENT: current})
        df.insert(1, S.UNIX_TIME, t0 + df[S.TEST_TIME].to_numpy())
        tables.append(df)
        cap_parts.append(i_cap)
        dif_parts.append(i_dif)
        # Exact answers from the noise-free components on the fine path.
        i_dif_fine = scale * np.sqrt(v) * chi
        i_cap_fine = np.where(direction_path > 0, 1.0, -1.0) * k1(e_path) * v
        for c in range(n_cycles):
            sl_a = (s >= 2 * c) & (s <= 2 * c + 1)
            sl_c = (s >= 2 * c + 1) & (s <= 2 * c + 2)
            ka = np.flatnonzero(sl_a)[np.argmax(i_dif_fine[sl_a])]
            kc = np.flatnonzero(sl_c)[np.argmin(i_dif_fine[sl_c])]
            peak_rows += [
                {"scan_rate_mV_s": rate, "cycle": c + 1, "direction": "anodic", "peak": "diffusive",
                 "peak_potential_V": e_path[ka], "peak_current_A": i_dif_fine[ka]},
                {"scan_rate_mV_s": rate, "cycle": c + 1, "direction": "cathodic", "peak": "diffusive",
                 "peak_potential_V": e_path[kc], "peak_current_A": i_dif_fine[kc]},
                {"scan_rate_mV_s": rate, "cycle": c + 1, "direction": "anodic", "peak": "pseudocapacitive",
                 "peak_potential_V": pseudo_potential_V, "peak_current_A": pseudocapacitance_F * v},
                {"scan_rate_mV_s": rate, "cycle": c + 1, "direction": "cathodic", "peak": "pseudocapacitive",
                 "peak_potential_V": pseudo_potential_V, "peak_current_A": -pseudocapacitance_F * v},
            ]
            cyc = (s >= 2 * c) & (s <= 2 * c + 2)
            sign = np.where(direction_path[cyc] > 0, 1.0, -1.0)
            ds = np.gradient(s[cyc]) * sweep_s  # dt of each fine sample
            q_cap = float(np.sum(sign * i_cap_fine[cyc] * ds))
            q_dif = float(np.sum(sign * i_dif_fine[cyc] * ds))
            frac_rows.append({"scan_rate_mV_s": rate, "cycle": c + 1, "capacitive_charge_C": q_cap,
                              "diffusive_charge_C": q_dif,
                              "capacitive_fraction_pct": 100.0 * q_cap / (q_cap + q_dif)})
        if k < len(rates) - 1:
            t_offset += n_sweeps * sweep_s + t[1]

    meta = S.empty_metadata(format_name="battlab-demo", source_name="demo:cv-scan-rates", sha256="")
    meta.update(technique="cv", start_time_utc=pd.Timestamp(start_time).isoformat(),
                notes=["synthetic multi-scan-rate CV generated by battlab.datasets.make_cv"])
    if separate_files:
        data = []
        for k, df in enumerate(tables):
            df = df.copy()
            df[S.UNIX_TIME] = df[S.UNIX_TIME] - df[S.TEST_TIME].iloc[0]
            df[S.TEST_TIME] = df[S.TEST_TIME] - df[S.TEST_TIME].iloc[0]
            df.attrs["battlab"] = dict(meta, source_name=f"demo:cv-{rates[k]:g}mVs")
            data.append(df)
    else:
        data = pd.concat(tables, ignore_index=True)
        data.attrs["battlab"] = meta
    xi_a = np.argmax(chi[: fine + 1])
    xi_c = fine + np.argmin(chi[fine: 2 * fine + 1])
    truth = {
        "scan_rates_mV_s": tuple(float(r) for r in rates),
        "n_cycles": n_cycles,
        "potential_window_V": (e_lo, e_hi),
        "formal_potential_V": formal_potential_V,
        "n_electrons": n_electrons,
        "area_cm2": area_cm2,
        "concentration_mol_cm3": concentration_mol_cm3,
        "diffusion_coefficient_cm2_s": diffusion_coefficient_cm2_s,
        "temperature_K": temperature_K,
        "double_layer_F": double_layer_F,
        "pseudocapacitance_F": pseudocapacitance_F,
        "pseudo_potential_V": pseudo_potential_V,
        "b_values": {"diffusive": 0.5, "pseudocapacitive": 1.0},
        "delta_Ep_V": float(e_path[xi_a] - e_path[xi_c]),
        "E_half_V": float(0.5 * (e_path[xi_a] + e_path[xi_c])),
        "peaks": pd.DataFrame(peak_rows),
        "capacitive_fraction": pd.DataFrame(frac_rows),
        "capacitive_current_A": np.concatenate(cap_parts),
        "diffusive_current_A": np.concatenate(dif_parts),
        "noise_A": noise_A,
    }
    return Demo(data=data, truth=truth,
                description="Reversible diffusive couple + pseudocapacitive surface peak at 6 scan rates "
                            "(0.1–2 mV/s): known D, b-values and capacitive fraction.")
