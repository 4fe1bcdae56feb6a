"""Synthetic diffraction data with known answers: operando graphite, LTO lattice drift, sized peaks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo

__all__ = ["make_lto_series", "make_operando_graphite", "make_sized_pattern", "pattern_from_peaks"]

_CU = (1.540598, 1.544426, 0.5)


def _pv(x, area, center, fwhm, eta):
    from battlab.peaks import pseudo_voigt

    return pseudo_voigt(x, area, center, fwhm, eta)


def pattern_from_peaks(two_theta, peaks, *, background=None, doublet=None, eta=0.5, noise=True, rng=None):
    """Counts for pseudo-Voigt peaks ``[(area, center, fwhm), ...]`` plus a background."""
    from battlab.peaks import _doublet_center

    y = np.zeros_like(two_theta) if background is None else np.array(background, float)
    for area, center, fwhm in peaks:
        y = y + _pv(two_theta, area, center, fwhm, eta)
        if doublet:
            y = y + doublet["ratio"] * _pv(two_theta, area, _doublet_center(center, doublet), fwhm, eta)
    if noise:
        rng = np.random.default_rng(rng)
        y = rng.poisson(np.clip(y, 0, None)).astype(float)
    return y


def _two_theta_of_d(d, lam=_CU[0]):
    return 2 * np.degrees(np.arcsin(lam / (2 * d)))


def graphite_staging(x: float):
    """Phase fractions and (002)/(001) positions (Cu Kα1, degrees) of LixC6 at lithiation x.

    0 ≤ x ≤ 0.2: solid solution, one peak shifting 26.55° → 26.20°; 0.2–0.5: two-phase
    towards LiC12 (25.35°); 0.5–1: two-phase LiC12 → LiC6 (24.00°).
    """
    if x <= 0.2:
        f = {"graphite": 1.0, "LiC12": 0.0, "LiC6": 0.0}
        pos_g = 26.55 - (26.55 - 26.20) * x / 0.2
    elif x <= 0.5:
        s = (x - 0.2) / 0.3
        f = {"graphite": 1 - s, "LiC12": s, "LiC6": 0.0}
        pos_g = 26.20
    else:
        s = (x - 0.5) / 0.5
        f = {"graphite": 0.0, "LiC12": 1 - s, "LiC6": s}
        pos_g = 26.20
    return f, {"graphite": pos_g, "LiC12": 25.35, "LiC6": 24.00}


def make_operando_graphite(*, n_patterns: int = 80, two_theta_range=(22.0, 29.0), step_deg: float = 0.01,
                           fwhm_deg: float = 0.12, eta: float = 0.4, peak_area: float = 400.0,
                           rng=0) -> Demo:
    """Operando Cu Kα1 XRD of a graphite anode over one lithiation and delithiation.

    The (002) reflection follows the staging sequence with the state of lithiation x in
    LixC6, taken from a :func:`~battlab.datasets.make_cycling` half cell so the
    patterns' timestamps align with its voltage curve:

    * 0 ≤ x ≤ 0.2: solid solution (dilute stages): one peak shifting 26.55° → 26.20°;
    * 0.2 ≤ x ≤ 0.5: two-phase, intensity moves from 26.20° to LiC12 (002) at 25.35°;
    * 0.5 ≤ x ≤ 1: two-phase, intensity moves from LiC12 to LiC6 (001) at 24.00°.

    Returns
    -------
    Demo
        ``data``: DataArray (time, two_theta_deg). ``truth``: ``peaks`` (per pattern: x,
        positions and phase fractions), ``windows`` for tracking, and ``echem``: the
        cycling table whose clock the patterns share.
    """
    from battlab.datasets.cycling import operando_clock
    from battlab.diffraction.io import make_pattern, stack_patterns

    gen = np.random.default_rng(rng)
    df, times, x_at, stamps = operando_clock(n_patterns, rng=rng)
    tt = np.arange(two_theta_range[0], two_theta_range[1] + step_deg / 2, step_deg)
    rows, pats = [], []
    bg = 60 + 25 * np.exp(-0.5 * ((tt - 22.0) / 3.0) ** 2) + 2.0 * (tt - tt[0])  # amorphous + slope
    for i, (ti, x) in enumerate(zip(times, x_at, strict=True)):
        f, pos = graphite_staging(x)
        peaks = [(peak_area * f[k], pos[k], fwhm_deg) for k in pos if f[k] > 0]
        y = pattern_from_peaks(tt, peaks, background=bg, eta=eta, rng=gen)
        pats.append(make_pattern(tt, y, wavelength_A=_CU[0], anode="Cu",
                                 meta={"format": "synthetic", "source_name": "operando graphite demo",
                                       "sha256": None, "technique": "xrd", "start_time_utc": stamps[i]}))
        rows.append({"pattern": i, "test_time_s": ti, "x_in_LixC6": x,
                     **{f"two_theta_{k}_deg": pos[k] for k in pos}, **{f"fraction_{k}": f[k] for k in f}})
    series = stack_patterns(pats)
    series.attrs["battlab"]["source_name"] = "demo: operando graphite"
    series.attrs["battlab"]["notes"] = ["synthetic Cu Kα1 patterns aligned to a make_cycling half cell"]
    truth = {"peaks": pd.DataFrame(rows), "fwhm_deg": fwhm_deg, "eta": eta, "wavelength_A": _CU[0],
             "windows": {"graphite": (25.85, 27.0), "LiC12": (24.8, 25.85), "LiC6": (23.4, 24.6)},
             "echem": df, "reference_phases": ["graphite", "LiC12", "LiC6"]}
    return Demo(data=series, truth=truth, description="Operando graphite (002) → LiC12 → LiC6 (Cu Kα1)")


LTO_HKL = {"(111)": (1, 1, 1), "(311)": (3, 1, 1), "(400)": (4, 0, 0), "(331)": (3, 3, 1),
           "(511)": (5, 1, 1), "(440)": (4, 4, 0)}


def make_lto_series(*, n_patterns: int = 30, a_start_A: float = 8.3636, a_end_A: float = 8.3580,
                    fwhm_deg: float = 0.10, doublet: bool = True, rng=1) -> Demo:
    """Cubic spinel Li4Ti5O12 whose lattice parameter drifts linearly (Cu Kα1+Kα2).

    Peak windows and hkl for :func:`battlab.diffraction.lattice_series` are in ``truth``.
    """
    from battlab.diffraction.bragg import d_hkl_A
    from battlab.diffraction.io import make_pattern, stack_patterns

    gen = np.random.default_rng(rng)
    tt = np.arange(15.0, 66.0, 0.01)
    a = np.linspace(a_start_A, a_end_A, n_patterns)
    areas = {"(111)": 600, "(311)": 300, "(400)": 250, "(331)": 80, "(511)": 150, "(440)": 200}
    dbl = {"lambda1": _CU[0], "lambda2": _CU[1], "ratio": _CU[2]} if doublet else None
    start = pd.Timestamp("2026-01-05T09:00:00Z")
    pats, windows = [], {}
    for i, ai in enumerate(a):
        peaks = []
        for name, hkl in LTO_HKL.items():
            center = float(_two_theta_of_d(d_hkl_A([hkl], system="cubic", a=ai)[0]))
            peaks.append((areas[name], center, fwhm_deg))
            if i == 0:
                windows[name] = (center - 0.8, center + 0.8)
        y = pattern_from_peaks(tt, peaks, background=40 + 0 * tt, doublet=dbl, rng=gen)
        pats.append(make_pattern(tt, y, wavelength_A=_CU[0], wavelength2_A=_CU[1] if doublet else None,
                                 ka2_ratio=_CU[2] if doublet else None, anode="Cu",
                                 meta={"format": "synthetic", "source_name": "LTO demo", "sha256": None,
                                       "start_time_utc": (start + pd.Timedelta(minutes=10 * i)).isoformat()}))
    series = stack_patterns(pats)
    series.attrs["battlab"]["source_name"] = "demo: LTO lattice drift"
    truth = {"a_A": a, "hkl": LTO_HKL, "windows": windows, "system": "cubic", "wavelength_A": _CU[0]}
    return Demo(data=series, truth=truth, description="Li4Ti5O12 lattice parameter 8.3636 → 8.3580 Å")


def make_sized_pattern(*, size_nm: float = 25.0, microstrain: float = 0.0, instrument_fwhm_deg: float = 0.05,
                       k: float = 0.9, rng=2) -> Demo:
    """Si powder pattern (Cu Kα1) broadened by a known crystallite size and microstrain.

    Sample breadth β = Kλ/(τ cos θ) + 4 ε tan θ (radians, Williamson–Hall), combined with
    the instrument in quadrature: FWHM² = β² + β_inst² (Gaussian-like peaks, eta = 0.2).
    """
    from battlab.diffraction.io import make_pattern
    from battlab.diffraction.references import reference_sticks

    lam = _CU[0]
    sticks = reference_sticks("Si", wavelength_A=lam, two_theta_range=(20, 100))
    tt = np.arange(20.0, 100.0, 0.01)
    theta = np.radians(sticks["two_theta_deg"].to_numpy()) / 2
    beta = k * lam / (size_nm * 10 * np.cos(theta)) + 4 * microstrain * np.tan(theta)
    fwhm = np.degrees(np.sqrt(beta ** 2 + np.radians(instrument_fwhm_deg) ** 2))
    areas = 2000.0 / (1 + 0.02 * (sticks["two_theta_deg"].to_numpy() - 28))
    peaks = list(zip(areas, sticks["two_theta_deg"].to_numpy(), fwhm, strict=True))
    y = pattern_from_peaks(tt, peaks, background=30 + 0 * tt, eta=0.2, rng=rng)
    pat = make_pattern(tt, y, wavelength_A=lam, anode="Cu",
                       meta={"format": "synthetic", "source_name": "demo: sized Si", "sha256": None})
    table = sticks.assign(fwhm_deg=fwhm)
    windows = {r.hkl: (r.two_theta_deg - max(1.0, 6 * r.fwhm_deg), r.two_theta_deg + max(1.0, 6 * r.fwhm_deg))
               for r in table.itertuples()}
    return Demo(data=pat, truth={"size_nm": size_nm, "microstrain": microstrain, "k": k,
                                 "instrument_fwhm_deg": instrument_fwhm_deg, "peaks": table, "windows": windows},
                description=f"Si, {size_nm:g} nm crystallites")
