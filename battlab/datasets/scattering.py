"""Synthetic small-angle scattering and reflectometry with known answers.

* :func:`make_saxs_series`: operando SANS of an alloying anode over one lithiation and
  delithiation, drawn from the seed's Eq. (1): the globules swell with the state of
  lithiation (R_g ∝ volume^⅓), A_Porod falls while an SEI smooths the surface and rises
  above its start on delithiation (fracture, new surface);
* :func:`make_saxs_reduction`: one raw sample curve with its empty-cell background,
  transmissions and thickness, and the absolute curve they must reduce to;
* :func:`make_reflectivity_series`: operando neutron reflectometry of a Cu film in a
  Li cell (Si block / Cu / SEI / deuterated electrolyte) whose SEI grows as the
  potential falls.

The operando series share the clock of a :func:`~battlab.datasets.make_cycling` graphite
half cell (``truth["echem"]``), like the spectroscopy and diffraction demos.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.datasets.cycling import operando_clock

__all__ = ["REFLECTIVITY_LAYERS", "make_reflectivity_series", "make_saxs_reduction", "make_saxs_series"]

#: Start layer table of the reflectometry demo (top to bottom; SLD in 10⁻⁶ Å⁻²).
REFLECTIVITY_LAYERS = pd.DataFrame([
    {"name": "Si", "thickness_A": np.nan, "sld_1e-6_per_A2": 2.07, "roughness_A": 0.0},
    {"name": "Cu", "thickness_A": 500.0, "sld_1e-6_per_A2": 6.55, "roughness_A": 4.0},
    {"name": "SEI", "thickness_A": 80.0, "sld_1e-6_per_A2": 3.5, "roughness_A": 6.0},
    {"name": "electrolyte", "thickness_A": np.nan, "sld_1e-6_per_A2": 5.8, "roughness_A": 8.0},
])


def _stamp(series, name, note):
    series.attrs["battlab"]["source_name"] = f"demo: {name}"
    series.attrs["battlab"]["notes"] = [note]
    return series


def make_saxs_series(*, n_curves: int = 30, n_q: int = 160, q_range_inv_A=(0.004, 0.35), noise: float = 0.02,
                     R_g0_A: float = 60.0, expansion: float = 2.0, rng=11) -> Demo:
    """Operando SANS of an alloying anode (Eq. 1 of the seed) over one cycle, with noise.

    With x the state of lithiation (0–1, from the cycling clock) and ``lithiating`` the
    first half of the record:

    * volume of the globules V/V₀ = 1 + ``expansion``·x, so R_g = R_g0·(1 + expansion·x)^⅓;
    * A_globule = 20·(V/V₀) cm⁻¹;
    * A_Porod = 2×10⁻⁷·(1 − 0.4x) cm⁻¹Å⁻⁴ on lithiation (SEI coat, smoother surface) and
      2×10⁻⁷·(0.6 + 0.9(1 − x)) on delithiation (fracture: ends 50 % above its start);
    * B_inc = 0.05 cm⁻¹; Gaussian noise of ``noise`` × I, and σ = ``noise`` × I in the file.

    Returns
    -------
    Demo
        ``data``: (time, q_inv_A) series of ``intensity`` in cm⁻¹ with ``sigma``.
        ``truth``: ``params`` (per curve: x_lithiation, A_Porod, A_globule, R_g_A, B_inc,
        porod_K = A_Porod + 8A_globule/R_g⁴, volume_ratio), ``echem``.
    """
    from battlab.scattering.io import make_curve, stack_scattering
    from battlab.scattering.saxs import globule_model

    gen = np.random.default_rng(rng)
    df, times, x_at, stamps = operando_clock(n_curves, rng=rng)
    q = np.geomspace(q_range_inv_A[0], q_range_inv_A[1], n_q)
    # Lithiation is the first part of the record: x rises to its maximum, then falls.
    turn = int(np.argmax(x_at))
    rows, curves = [], []
    for i, x in enumerate(x_at):
        vol = 1 + expansion * x
        rg = R_g0_A * vol ** (1 / 3)
        a_glob = 20.0 * vol
        a_por = 2e-7 * ((1 - 0.4 * x) if i <= turn else (0.6 + 0.9 * (1 - x)))
        b = 0.05
        clean = globule_model(q, A_Porod=a_por, A_globule=a_glob, R_g_A=rg, B_inc=b)
        sigma = noise * clean
        meas = clean + sigma * gen.standard_normal(q.size)
        meta = {"format": "synthetic", "source_name": f"sans_{i:03d}", "sha256": None, "start_time_utc": stamps[i]}
        curves.append(make_curve(q, meas, sigma=sigma, technique="sans", units="cm⁻¹", meta=meta))
        rows.append({"curve": i, "x_lithiation": float(x), "A_Porod": a_por, "A_globule": a_glob, "R_g_A": rg,
                     "B_inc": b, "porod_K": a_por + 8 * a_glob / rg ** 4, "volume_ratio": vol,
                     "lithiating": i <= turn})
    series = _stamp(stack_scattering(curves), "operando SANS of an alloying anode",
                    "synthetic operando SANS (seed Eq. 1): globules swell with lithiation, A_Porod falls then rises "
                    "above its start (fracture)")
    truth = {"params": pd.DataFrame(rows), "echem": df, "contrast_1e6_per_A2": 3.0,
             "expansion": expansion, "R_g0_A": R_g0_A}
    return Demo(series, truth, "Operando SANS of an alloying anode: swelling globules (R_g), SEI-smoothed and then "
                               "fractured surface (A_Porod) over one cycle.")


def make_saxs_reduction(*, n_q: int = 150, rng=5) -> Demo:
    """One raw SAXS measurement, its empty-cell background and the reduction parameters.

    The absolute curve is spheres of radius 50 Å ± 10 % (Gaussian number distribution;
    R_g² = ⅗⟨R⁸⟩/⟨R⁶⟩, S/V = 3φ(1 − φ)⟨R²⟩/⟨R³⟩) at volume fraction 0.05 with contrast
    10 (10⁻⁶ Å⁻²) plus a flat 0.02 cm⁻¹; the raw sample is
    (I_abs·d/c + I_bg·s/T_bg)·T_s with thickness d = 0.1 cm, calibration c = 0.5,
    transmissions T_s = 0.6 and T_bg = 0.8 and background scale s = 1.

    Returns
    -------
    Demo
        ``data``: raw sample curve. ``truth``: ``background`` (curve), ``absolute``
        (curve), ``sample_transmission``, ``background_transmission``,
        ``thickness_cm``, ``calibration_factor``, ``Rg_A``, ``volume_fraction``,
        ``contrast_1e6_per_A2``, ``specific_surface_cm2_per_cm3``.
    """
    from battlab.scattering.io import make_curve

    gen = np.random.default_rng(rng)
    q = np.geomspace(0.003, 0.5, n_q)
    radius, spread, phi, contrast = 50.0, 0.1, 0.05, 10.0
    # Gaussian number distribution of radii (10 %): smooths the sphere fringes as real samples do.
    radii = radius * np.linspace(1 - 3 * spread, 1 + 3 * spread, 61)
    weights = np.exp(-0.5 * ((radii / radius - 1) / spread) ** 2)
    x = q[:, None] * radii[None, :]
    form = (3 * (np.sin(x) - x * np.cos(x)) / x ** 3) ** 2
    vol_A3 = 4 / 3 * np.pi * radii ** 3
    # I (cm⁻¹) = φ(1 − φ)·Δρ²·Σ n V² P / Σ n V: Δρ² in cm⁻⁴ (1e-6 Å⁻² = 1e10 cm⁻²), V in cm³ (1 Å³ = 1e-24 cm³).
    mean_vp = (form * (weights * vol_A3 ** 2)).sum(axis=1) / (weights * vol_A3).sum()
    absolute = phi * (1 - phi) * (contrast * 1e10) ** 2 * mean_vp * 1e-24 + 0.02
    rg = float(np.sqrt(0.6 * np.sum(weights * radii ** 8) / np.sum(weights * radii ** 6)))
    surface = 3 * phi * (1 - phi) * np.sum(weights * radii ** 2) / np.sum(weights * radii ** 3) / 1e-8
    bg = 0.01 + 4e-6 / (q + 0.01) ** 1.5  # parasitic scattering of the empty cell, counts-like units
    thickness, calib, ts, tb = 0.1, 0.5, 0.6, 0.8
    raw = (absolute * thickness / calib + bg * 1.0 / tb) * ts
    s_raw = 0.003 * raw
    s_bg = 0.003 * bg
    raw_meas = raw + s_raw * gen.standard_normal(q.size)
    bg_meas = bg + s_bg * gen.standard_normal(q.size)
    meta = {"format": "synthetic", "source_name": "demo: SAXS sample (raw)", "sha256": None,
            "start_time_utc": "2026-01-05T09:00:00+00:00", "notes": []}
    sample = make_curve(q, raw_meas, sigma=s_raw, technique="saxs", units="a.u.", meta=meta)
    background = make_curve(q, bg_meas, sigma=s_bg, technique="saxs", units="a.u.",
                            meta={**meta, "source_name": "demo: empty cell"})
    truth = {"background": background, "absolute": make_curve(q, absolute, technique="saxs", units="cm⁻¹"),
             "sample_transmission": ts, "background_transmission": tb, "thickness_cm": thickness,
             "calibration_factor": calib, "Rg_A": rg, "radius_A": radius, "radius_spread": spread,
             "volume_fraction": phi, "contrast_1e6_per_A2": contrast, "flat_background": 0.02,
             "specific_surface_cm2_per_cm3": float(surface)}
    return Demo(sample, truth, "Raw SAXS of 50 Å spheres with its empty cell: reduce to absolute units.")


def make_reflectivity_series(*, n_curves: int = 16, n_q: int = 140, q_range_inv_A=(0.008, 0.2),
                             resolution_pct: float = 5.0, background: float = 2e-7, incident_counts: float = 2e6,
                             rng=21) -> Demo:
    """Operando neutron reflectometry of a Cu film whose SEI grows as the potential falls.

    Stack (beam through the Si block): Si | Cu 500 Å | SEI | deuterated electrolyte
    (:data:`REFLECTIVITY_LAYERS`). With V_min the lowest potential reached so far and
    g = clip((1.0 − V_min)/0.9, 0, 1) the irreversible growth:

    * SEI thickness 30 + 120·g Å, SLD 4.0 − 0.8·g (10⁻⁶ Å⁻²), outer roughness 5 + 5·g Å;
    * dq/q = ``resolution_pct`` (FWHM), background ``background``;
    * counting noise: R·N(q) counts with N = ``incident_counts``·(q/0.01)² (longer counting
      at high q), plus the background's counts; σ(R) from √counts.

    Returns
    -------
    Demo
        ``data``: (time, q_inv_A) series of ``reflectivity`` with ``sigma`` and
        ``dq_inv_A`` (1σ). ``truth``: ``params`` (per curve: potential_V, growth,
        SEI:thickness_A, SEI:sld_1e-6_per_A2, electrolyte:roughness_A), ``layers`` (the
        start table), ``layers_per_curve``, ``resolution_pct``, ``background``, ``echem``.
    """
    from battlab.scattering.io import make_curve, stack_scattering
    from battlab.scattering.reflectometry import reflectivity

    gen = np.random.default_rng(rng)
    df, times, _, stamps = operando_clock(n_curves, rng=rng)
    volts = np.interp(times, df["test_time_s"].to_numpy(), df["voltage_V"].to_numpy())
    vmin = np.minimum.accumulate(volts)
    q = np.geomspace(q_range_inv_A[0], q_range_inv_A[1], n_q)
    sig_q = q * resolution_pct / 100 / (2 * np.sqrt(2 * np.log(2)))
    curves, rows, tables = [], [], []
    for i, v in enumerate(volts):
        g = float(np.clip((1.0 - vmin[i]) / 0.9, 0, 1))
        layers = REFLECTIVITY_LAYERS.copy()
        layers.loc[2, "thickness_A"] = 30 + 120 * g
        layers.loc[2, "sld_1e-6_per_A2"] = 4.0 - 0.8 * g
        layers.loc[3, "roughness_A"] = 5 + 5 * g
        clean = reflectivity(q, layers, background=background, dq_inv_A=sig_q)
        n_inc = incident_counts * (q / 0.01) ** 2
        counts = gen.poisson(clean * n_inc)
        meas = counts / n_inc
        sigma = np.sqrt(np.maximum(counts, 1)) / n_inc
        meta = {"format": "synthetic", "source_name": f"nr_{i:03d}", "sha256": None, "start_time_utc": stamps[i]}
        curves.append(make_curve(q, meas, sigma=sigma, dq_inv_A=sig_q, technique="nr", units="", meta=meta))
        rows.append({"curve": i, "potential_V": float(v), "growth": g,
                     "SEI:thickness_A": float(layers.loc[2, "thickness_A"]),
                     "SEI:sld_1e-6_per_A2": float(layers.loc[2, "sld_1e-6_per_A2"]),
                     "electrolyte:roughness_A": float(layers.loc[3, "roughness_A"])})
        tables.append(layers)
    series = _stamp(stack_scattering(curves), "operando NR of Cu with a growing SEI",
                    "synthetic operando neutron reflectometry: Si | Cu | SEI | d-electrolyte, SEI grows below 1 V")
    truth = {"params": pd.DataFrame(rows), "layers": REFLECTIVITY_LAYERS.copy(), "layers_per_curve": tables,
             "resolution_pct": resolution_pct, "background": background, "echem": df,
             "free": ["SEI:thickness_A", "SEI:sld_1e-6_per_A2", "electrolyte:roughness_A"]}
    return Demo(series, truth, "Operando neutron reflectometry of a Cu electrode: SEI thickness and SLD against "
                               "potential.")
