"""Synthetic spectroscopy data with known answers: operando Raman (graphite D/G), FTIR
(growing SEI band), XPS (C 1s / F 1s SEI with a Shirley step), XAS (two-reference
mixture), ⁷Li NMR (plated lithium), ⁵⁷Fe Mössbauer (LiFePO4 → FePO4 doublets, α-Fe
calibration) and EPR (Li metal lines during plating, a spin-count reference).

The operando series share the clock of a :func:`~battlab.datasets.make_cycling` graphite
half cell (``truth["echem"]``), like :func:`~battlab.datasets.make_operando_graphite`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.datasets.cycling import operando_clock

__all__ = ["make_alpha_fe_calibration", "make_epr_plating_series", "make_epr_reference", "make_ftir_series",
           "make_mossbauer_lfp_series", "make_nmr_plating_series", "make_raman_graphite_series",
           "make_xas_mixture_series", "make_xps_sei"]

_FARADAY = 96485.33212  # C/mol


def _meta(name, stamp=None):
    meta = {"format": "synthetic", "source_name": name, "sha256": None}
    if stamp is not None:
        meta["start_time_utc"] = stamp
    return meta


def _series(spectra, name, note):
    from battlab.spectra.io import stack_spectra

    series = stack_spectra(spectra)
    series.attrs["battlab"]["source_name"] = f"demo: {name}"
    series.attrs["battlab"]["notes"] = [note]
    return series


def _pv(x, area, center, fwhm, eta):
    from battlab.peaks import pseudo_voigt

    return pseudo_voigt(x, area, center, fwhm, eta)


# --------------------------------------------------------------------------- Raman


def make_raman_graphite_series(*, n_spectra: int = 60, step_cm1: float = 1.0, noise: float = 4.0,
                               rng=3) -> Demo:
    """Operando Raman of a graphite anode: D/G ratio and G position follow lithiation.

    With x the state of lithiation (LixC6, from the cycling clock):

    * G band (Lorentzian, FWHM 22 cm⁻¹): centre 1580 + 22·min(x/0.5, 1) cm⁻¹ (stiffening
      towards the ≈ 1600 cm⁻¹ charged-layer mode); height 1000·(1 − 0.6x) counts;
    * D band (Lorentzian, FWHM 50 cm⁻¹) at 1350 cm⁻¹ with I_D/I_G (heights) = 0.15 + 0.35x;
    * a sloping, curved fluorescence background and Gaussian noise (``noise`` counts).

    Returns
    -------
    Demo
        ``data``: (time, wavenumber_cm1). ``truth``: ``bands`` (per spectrum: x_in_LixC6,
        d_center_cm1, g_center_cm1, d_fwhm_cm1, g_fwhm_cm1, d_height, g_height,
        id_ig_height, id_ig_area), ``windows`` and ``echem``.
    """
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    df, times, x_at, stamps = operando_clock(n_spectra, rng=rng)
    wn = np.arange(1100.0, 1800.0 + step_cm1 / 2, step_cm1)
    bg = 300 + 0.25 * (wn - 1100) - 1.5e-4 * (wn - 1450) ** 2
    d_fwhm, g_fwhm = 50.0, 22.0
    rows, spectra = [], []
    for i, x in enumerate(x_at):
        g_center = 1580.0 + 22.0 * min(x / 0.5, 1.0)
        g_height = 1000.0 * (1 - 0.6 * x)
        ratio = 0.15 + 0.35 * x
        d_height = ratio * g_height
        # Lorentzian area from height: A = h·π·FWHM/2.
        g_area, d_area = g_height * np.pi * g_fwhm / 2, d_height * np.pi * d_fwhm / 2
        y = bg + _pv(wn, d_area, 1350.0, d_fwhm, 1.0) + _pv(wn, g_area, g_center, g_fwhm, 1.0)
        y = y + gen.normal(0, noise, wn.size)
        spectra.append(make_spectrum(wn, y, technique="raman", units="counts", excitation_nm=532.0,
                                     meta=_meta("operando Raman graphite demo", stamps[i])))
        rows.append({"spectrum": i, "test_time_s": times[i], "x_in_LixC6": x, "d_center_cm1": 1350.0,
                     "g_center_cm1": g_center, "d_fwhm_cm1": d_fwhm, "g_fwhm_cm1": g_fwhm, "d_height": d_height,
                     "g_height": g_height, "id_ig_height": ratio, "id_ig_area": d_area / g_area})
    series = _series(spectra, "operando Raman graphite", "synthetic 532 nm Raman aligned to a make_cycling half cell")
    truth = {"bands": pd.DataFrame(rows), "windows": {"D": (1250.0, 1450.0), "G": (1500.0, 1700.0)},
             "echem": df, "noise_counts": noise}
    return Demo(data=series, truth=truth,
                description="Operando Raman: graphite G 1580 → 1602 cm⁻¹, I_D/I_G 0.15 → 0.5")


# --------------------------------------------------------------------------- FTIR


def make_ftir_series(*, n_spectra: int = 40, step_cm1: float = 1.0, noise: float = 5e-4, rng=4) -> Demo:
    """Operando ATR-FTIR: a decomposition (ROCO2Li-like) band grows with the charge passed.

    Bands (pseudo-Voigt, eta 0.5, absorbance × cm⁻¹ areas): electrolyte C=O at
    1775 cm⁻¹ (FWHM 20, area 6, constant); a growing band at 1650 cm⁻¹ (FWHM 30) whose
    area is 4·(1 − exp(−q/q0)) with q the cumulative lithiation charge and q0 = 15 % of
    its maximum; a weaker Li2CO3-like band at 1450 cm⁻¹ (FWHM 40) growing to area 2 the
    same way; the PF6⁻ P–F band at 840 cm⁻¹ (FWHM 25, area 5) is constant. Linear
    baseline, Gaussian noise (absorbance units). ``truth["windows"]`` holds the three
    carbonyl/carbonate windows.

    Returns
    -------
    Demo
        ``data``: (time, wavenumber_cm1) absorbance. ``truth``: ``bands`` (per spectrum and
        band: center_cm1, fwhm_cm1, area), ``windows`` and ``echem``.
    """
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    df, times, x_at, stamps = operando_clock(n_spectra, rng=rng)
    t = df["test_time_s"].to_numpy()
    dt = np.diff(t, prepend=t[0])
    q_lith = np.cumsum(np.clip(-df["current_A"].to_numpy(), 0, None) * dt)
    q_at = np.interp(times, t, q_lith)
    growth = 1 - np.exp(-q_at / (0.15 * q_lith[-1]))
    wn = np.arange(750.0, 2000.0 + step_cm1 / 2, step_cm1)
    bands = {"C=O (electrolyte)": (1775.0, 20.0), "ROCO2Li": (1650.0, 30.0), "Li2CO3": (1450.0, 40.0),
             "P–F (PF6⁻)": (840.0, 25.0)}
    rows, spectra = [], []
    for i, g in enumerate(growth):
        areas = {"C=O (electrolyte)": 6.0, "ROCO2Li": 4.0 * g, "Li2CO3": 2.0 * g, "P–F (PF6⁻)": 5.0}
        y = 0.02 + 1e-5 * (wn - 750)
        for name, (c, w) in bands.items():
            y = y + _pv(wn, areas[name], c, w, 0.5)
            rows.append({"spectrum": i, "test_time_s": times[i], "band": name, "center_cm1": c, "fwhm_cm1": w,
                         "area": areas[name]})
        y = y + gen.normal(0, noise, wn.size)
        spectra.append(make_spectrum(wn, y, technique="ftir", units="absorbance",
                                     meta=_meta("operando FTIR demo", stamps[i])))
    series = _series(spectra, "operando FTIR SEI growth", "synthetic ATR-FTIR aligned to a make_cycling half cell")
    truth = {"bands": pd.DataFrame(rows), "echem": df,
             "windows": {"C=O (electrolyte)": (1730.0, 1820.0), "ROCO2Li": (1580.0, 1720.0),
                         "Li2CO3": (1360.0, 1540.0)}}
    return Demo(data=series, truth=truth, description="Operando FTIR: ROCO2Li and Li2CO3 bands grow with charge")


# --------------------------------------------------------------------------- XPS


def shirley_spectrum(be, peaks, *, low_level: float, step_per_area: float):
    """Counts for pseudo-Voigt peaks ``[(area, center, fwhm, eta), ...]`` on an exact Shirley
    background: ``low_level + step_per_area · (peak area at lower binding energy)``."""
    signal = np.zeros_like(be)
    for area, center, fwhm, eta in peaks:
        signal = signal + _pv(be, area, center, fwhm, eta)
    run = np.concatenate([[0.0], np.cumsum(0.5 * (signal[1:] + signal[:-1]) * np.diff(be))])
    background = low_level + step_per_area * run
    return signal + background, background


def make_xps_sei(*, step_eV: float = 0.05, counts_scale: float = 1.0, rng=5) -> Demo:
    """C 1s and F 1s spectra of an SEI with known component fractions and a Shirley step.

    C 1s (FWHM 1.2 eV, eta 0.3): C–C/C–H 284.8 eV (40 %), C–O 286.5 (25 %), C=O 288.6
    (15 %), Li2CO3/CO3 290.1 (20 %); F 1s (FWHM 1.6 eV): LiF 685.0 (65 %), LixPFy 687.1
    (35 %). Each sits on an exact Shirley background whose step (high-BE minus low-BE
    level, counts) is ``step_per_area`` (0.12 for C 1s, 0.10 for F 1s) × the total peak
    area (counts·eV), and carries Poisson noise.

    Returns
    -------
    Demo
        ``data``: dict region -> spectrum over binding_energy_eV. ``truth``: per region
        ``components`` (name, center, area, fraction, fwhm, eta), ``background`` (the
        noise-free Shirley background), ``step`` (high − low level), ``low_level``.
    """
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    regions = {
        "C 1s": {"range": (276.0, 300.0), "fwhm": 1.2, "eta": 0.3, "total": 30000.0, "low": 1500.0, "k": 0.12,
                 "comps": [("C–C/C–H", 284.8, 0.40), ("C–O", 286.5, 0.25), ("C=O", 288.6, 0.15),
                           ("Li2CO3/CO3", 290.1, 0.20)]},
        "F 1s": {"range": (674.0, 698.0), "fwhm": 1.6, "eta": 0.3, "total": 60000.0, "low": 4000.0, "k": 0.10,
                 "comps": [("LiF", 685.0, 0.65), ("LixPFy/P–F", 687.1, 0.35)]},
    }
    data, truth = {}, {}
    for region, r in regions.items():
        be = np.arange(r["range"][0], r["range"][1] + step_eV / 2, step_eV)
        total = r["total"] * counts_scale
        peaks = [(total * f, c, r["fwhm"], r["eta"]) for _, c, f in r["comps"]]
        clean, background = shirley_spectrum(be, peaks, low_level=r["low"] * counts_scale, step_per_area=r["k"])
        y = gen.poisson(clean).astype(float)
        data[region] = make_spectrum(be, y, technique="xps", units="counts", region=region,
                                     photon_energy_eV=1486.6, meta=_meta(f"XPS SEI demo {region}"))
        truth[region] = {
            "components": pd.DataFrame([{"name": n, "center": c, "area": total * f, "fraction": f,
                                         "fwhm": r["fwhm"], "eta": r["eta"]} for n, c, f in r["comps"]]),
            "background": background, "low_level": r["low"] * counts_scale,
            "step": r["k"] * total, "step_per_area": r["k"]}
    return Demo(data=data, truth=truth, description="XPS SEI: C 1s (4 species) and F 1s (LiF, LixPFy), Shirley")


# --------------------------------------------------------------------------- XAS


def _xas_edge(energy, *, e0, jump, white_line, wl_offset, pre=(0.25, -2e-4), post=(-4e-4, 2e-7), width=1.6):
    """μ(E): linear pre-edge line + jump·Φ((E − e0)/width)·(1 + p1 (E − e0) + p2 (E − e0)²)
    + a Gaussian white line (area ``white_line``, σ = 3 eV) at e0 + wl_offset."""
    from scipy.special import ndtr

    u = energy - e0
    pre_line = pre[0] + pre[1] * u
    post_shape = 1 + post[0] * u + post[1] * u ** 2
    wl = white_line * np.exp(-0.5 * ((u - wl_offset) / 3.0) ** 2) / (3.0 * np.sqrt(2 * np.pi))
    return pre_line + jump * ndtr(u / width) * post_shape + jump * wl


def make_xas_mixture_series(*, n_spectra: int = 40, step_eV: float = 0.25, edge_shift_eV: float = 3.0,
                            noise: float = 0.003, rng=6) -> Demo:
    """Mn K-edge XANES of a two-species mixture (Mn3+/Mn4+-like) changing with charge.

    References: edge centre 6550.0 eV (Mn3+) and 6550 + ``edge_shift_eV`` (Mn4+), unit edge
    jump, different white lines. Spectrum i is ``(1 − f_i)·Mn3+ + f_i·Mn4+`` with
    f = 0.5 + 0.45·x (x the state of lithiation of the cycling clock, used as the cell's
    state of charge), plus Gaussian noise (``noise`` in μ units).

    Returns
    -------
    Demo
        ``data``: (time, energy_eV). ``truth``: ``fractions`` (per spectrum:
        fraction_Mn4, fraction_Mn3), ``references`` (name -> noise-free spectrum),
        ``e0_eV`` (name -> maximum of dμ/dE of the noise-free reference), ``edge_step``
        (1.0), ``edge_center_eV`` and ``echem``.
    """
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    df, times, x_at, stamps = operando_clock(n_spectra, rng=rng)
    energy = np.arange(6400.0, 6900.0 + step_eV / 2, step_eV)
    centers = {"Mn3+": 6550.0, "Mn4+": 6550.0 + edge_shift_eV}
    shapes = {"Mn3+": {"white_line": 3.0, "wl_offset": 8.0}, "Mn4+": {"white_line": 4.5, "wl_offset": 9.0}}
    refs, e0 = {}, {}
    fine = np.arange(6500.0, 6600.0, 0.005)
    for name in centers:
        mu = _xas_edge(energy, e0=centers[name], jump=1.0, **shapes[name])
        refs[name] = make_spectrum(energy, mu, technique="xas", units="mu(E)", edge="Mn K",
                                   meta=_meta(f"XAS reference {name}"))
        d = np.gradient(_xas_edge(fine, e0=centers[name], jump=1.0, **shapes[name]), fine)
        e0[name] = float(fine[np.argmax(d)])
    frac = 0.5 + 0.45 * x_at
    spectra, rows = [], []
    for i, f in enumerate(frac):
        mu = (1 - f) * refs["Mn3+"].to_numpy() + f * refs["Mn4+"].to_numpy() + gen.normal(0, noise, energy.size)
        spectra.append(make_spectrum(energy, mu, technique="xas", units="mu(E)", edge="Mn K",
                                     meta=_meta("operando XAS demo", stamps[i])))
        rows.append({"spectrum": i, "test_time_s": times[i], "x_in_LixC6": x_at[i], "fraction_Mn4": f,
                     "fraction_Mn3": 1 - f})
    series = _series(spectra, "operando Mn K-edge XANES", "synthetic two-reference mixture on a make_cycling clock")
    truth = {"fractions": pd.DataFrame(rows), "references": refs, "e0_eV": e0, "edge_step": 1.0,
             "edge_center_eV": centers, "edge_shift_eV": edge_shift_eV, "noise": noise, "echem": df}
    return Demo(data=series, truth=truth, description=f"Operando XANES: Mn3+/Mn4+ mixture, {edge_shift_eV:g} eV shift")


# --------------------------------------------------------------------------- NMR


def make_nmr_plating_series(*, n_spectra: int = 50, step_ppm: float = 0.5, plating_fraction: float = 0.25,
                            plating_onset_x: float = 0.75, dead_fraction: float = 0.3,
                            area_per_umol: float = 40.0, noise: float = 0.1, rng=7) -> Demo:
    """Operando ⁷Li NMR: a metallic-Li resonance grows while lithium plates.

    During lithiation beyond x = ``plating_onset_x`` a fraction ``plating_fraction`` of
    the current plates Li metal (n += f·|I|·dt/F); on delithiation the plated Li strips
    first (n −= |I|·dt/F) until only ``dead_fraction`` of the maximum, electrically
    isolated "dead" Li, remains. The Li-metal line (Gaussian, FWHM 12 ppm, 262 ppm) has
    area ``area_per_umol``·n; the diamagnetic line (Lorentzian, FWHM 6 ppm, 0 ppm,
    area 2000) is constant. Gaussian noise.

    Returns
    -------
    Demo
        ``data``: (time, shift_ppm). ``truth``: ``lithium`` (per spectrum: li_metal_umol,
        li_metal_area), ``calibration_umol_per_area`` (1/``area_per_umol``), ``windows``,
        ``echem``.
    """
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    df, times, x_at, stamps = operando_clock(n_spectra, rng=rng)
    t = df["test_time_s"].to_numpy()
    cur = df["current_A"].to_numpy()
    dt = np.diff(t, prepend=t[0])
    q = np.cumsum(-cur * dt)
    x_li = np.clip(q / np.max(q), 0, 1)
    n = np.zeros_like(t)
    peak = 0.0
    for k in range(1, t.size):
        mol = abs(cur[k]) * dt[k] / _FARADAY * 1e6  # µmol of electrons in this interval
        if cur[k] < 0 and x_li[k] > plating_onset_x:
            n[k] = n[k - 1] + plating_fraction * mol
        elif cur[k] > 0:
            n[k] = max(dead_fraction * peak, n[k - 1] - mol)
        else:
            n[k] = n[k - 1]
        peak = max(peak, n[k])
    n_at = np.interp(times, t, n)
    ppm = np.arange(-150.0, 450.0 + step_ppm / 2, step_ppm)
    rows, spectra = [], []
    for i, ni in enumerate(n_at):
        y = _pv(ppm, 2000.0, 0.0, 6.0, 1.0) + _pv(ppm, area_per_umol * ni, 262.0, 12.0, 0.0)
        y = y + gen.normal(0, noise, ppm.size)
        spectra.append(make_spectrum(ppm, y, technique="nmr", units="a.u.", nucleus="7Li",
                                     meta=_meta("operando 7Li NMR demo", stamps[i])))
        rows.append({"spectrum": i, "test_time_s": times[i], "x_in_LixC6": x_at[i], "li_metal_umol": ni,
                     "li_metal_area": area_per_umol * ni})
    series = _series(spectra, "operando 7Li NMR plating", "synthetic 7Li NMR aligned to a make_cycling half cell")
    truth = {"lithium": pd.DataFrame(rows), "calibration_umol_per_area": 1.0 / area_per_umol,
             "windows": {"Li metal": (200.0, 300.0), "diamagnetic": (-50.0, 50.0)},
             "dead_umol": float(dead_fraction * np.max(n)), "max_umol": float(np.max(n)), "echem": df}
    return Demo(data=series, truth=truth, description="Operando 7Li NMR: Li plating and dead Li at 262 ppm")


# --------------------------------------------------------------------------- Mössbauer


def _mossbauer_counts(v, sites, baseline_counts):
    """Thin-absorber transmission counts of sites ({"kind", "isomer_shift_mm_s", ...}) at velocities v."""
    from battlab.spectra.mossbauer import _site_shape

    absorbed = np.zeros_like(v)
    for s in sites:
        absorbed += s["area_mm_s"] * _site_shape(v, s["kind"], s)
    return baseline_counts * (1 - absorbed)


def _triangle_velocity(n_raw, folding_point, velocity_max_mm_s):
    """Velocity of each raw channel of a triangular (constant-acceleration) drive, mirror about folding_point."""
    n = n_raw // 2
    d = (np.arange(n_raw) - folding_point) % n_raw
    return np.where(d < n, -velocity_max_mm_s + 2 * velocity_max_mm_s * d / n,
                    velocity_max_mm_s - 2 * velocity_max_mm_s * (d - n) / n)


def make_alpha_fe_calibration(*, n_raw_channels: int = 1024, folding_point: float = 3.5,
                              velocity_max_mm_s: float = 6.2, baseline_counts: float = 2.0e5, rng=11) -> Demo:
    """A raw 2N-channel α-Fe foil spectrum (triangular drive) for velocity calibration.

    Lines at ±5.312, ±3.076, ±0.840 mm/s (intensities 3:2:1:1:2:3, Γ = 0.26 mm/s, total
    area 0.35 mm/s) on ``baseline_counts`` per raw channel with Poisson noise. Velocity
    rises from −v_max at ``folding_point`` to +v_max N channels later (the first half's
    sweep), so after folding the N channels k have velocity ``−v_max + 2·v_max·(k + 0.5)/N``.

    Returns
    -------
    Demo
        ``data``: raw counts (ndarray, ``n_raw_channels``). ``truth``: ``folding_point``,
        ``velocity_max_mm_s``, ``slope_mm_s`` (per folded channel), ``offset_mm_s``,
        ``field_T`` (33.0).
    """
    gen = np.random.default_rng(rng)
    v = _triangle_velocity(n_raw_channels, folding_point, velocity_max_mm_s)
    site = {"kind": "sextet", "isomer_shift_mm_s": 0.0, "quadrupole_mm_s": 0.0, "field_T": 33.0,
            "fwhm_mm_s": 0.26, "area_mm_s": 0.35}
    counts = gen.poisson(_mossbauer_counts(v, [site], baseline_counts)).astype(float)
    n = n_raw_channels // 2
    slope = 2 * velocity_max_mm_s / n
    truth = {"folding_point": folding_point, "velocity_max_mm_s": velocity_max_mm_s, "slope_mm_s": slope,
             "offset_mm_s": -velocity_max_mm_s + 0.5 * slope, "field_T": 33.0, "site": site}
    return Demo(data=counts, truth=truth, description="Raw α-Fe calibration sextet (1024 channels, triangular drive)")


def make_mossbauer_lfp_series(*, n_spectra: int = 12, n_channels: int = 512, velocity_max_mm_s: float = 6.2,
                              baseline_counts: float = 1.0e6, rng=12) -> Demo:
    """Operando ⁵⁷Fe Mössbauer of LiFePO4 → FePO4 along one charge.

    Two quadrupole doublets with fixed hyperfine parameters (vs α-Fe): Fe²⁺ in LiFePO4
    (δ = 1.225 mm/s, ΔE_Q = 2.960 mm/s, Γ = 0.30 mm/s) and Fe³⁺ in FePO4 (δ = 0.430,
    ΔE_Q = 1.530, Γ = 0.32 mm/s); the Fe³⁺ fraction is the state of charge of a linear
    charge (0.02 → 0.98; equal recoil-free fractions, total spectral area 0.30 mm/s).
    Calibrated velocity axis (``n_channels`` from −v_max to +v_max), Poisson noise on
    ``baseline_counts``. Times are one per hour; ``truth["echem"]`` is the cell's
    charge (constant current, voltage plateau at 3.43 V).

    Returns
    -------
    Demo
        ``data``: (time, velocity_mm_s) counts. ``truth``: ``sites`` (the two doublets),
        ``fractions`` (per spectrum: spectrum, soc, fraction_Fe3+ FePO4, fraction_Fe2+
        LiFePO4), ``echem``.
    """
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    v = -velocity_max_mm_s + 2 * velocity_max_mm_s * (np.arange(n_channels) + 0.5) / n_channels
    fe2 = {"name": "Fe2+ LiFePO4", "kind": "doublet", "isomer_shift_mm_s": 1.225, "quadrupole_mm_s": 2.960,
           "fwhm_mm_s": 0.30}
    fe3 = {"name": "Fe3+ FePO4", "kind": "doublet", "isomer_shift_mm_s": 0.430, "quadrupole_mm_s": 1.530,
           "fwhm_mm_s": 0.32}
    soc = np.linspace(0.02, 0.98, n_spectra)
    start = pd.Timestamp("2026-01-05T08:00:00Z")
    stamps = [(start + pd.Timedelta(hours=i)).isoformat() for i in range(n_spectra)]
    spectra, rows = [], []
    for i, x in enumerate(soc):
        sites = [dict(fe2, area_mm_s=0.30 * (1 - x)), dict(fe3, area_mm_s=0.30 * x)]
        counts = gen.poisson(_mossbauer_counts(v, sites, baseline_counts)).astype(float)
        spectra.append(make_spectrum(v, counts, technique="mossbauer", units="counts",
                                     meta=_meta("operando Mössbauer demo", stamps[i]), isotope="57Fe"))
        rows.append({"spectrum": i, "soc": x, "fraction_Fe3+ FePO4": x, "fraction_Fe2+ LiFePO4": 1 - x})
    series = _series(spectra, "operando 57Fe Mössbauer LiFePO4", "synthetic LiFePO4 → FePO4 two-doublet series")
    # The cell: a constant-current charge over the series (1 h per spectrum), LFP plateau.
    t = np.linspace(0, (n_spectra - 1) * 3600.0, 200)
    frac = 0.02 + 0.96 * t / t[-1]
    echem = pd.DataFrame({"test_time_s": t, "unix_time_s": start.timestamp() + t,
                          "voltage_V": 3.43 + 0.02 * np.log(frac / (1 - frac)) / 4, "current_A": np.full(t.size, 1e-3),
                          "cycle_index": 1, "step_index": 1})
    truth = {"sites": [fe2, fe3], "fractions": pd.DataFrame(rows), "echem": echem,
             "velocity_max_mm_s": velocity_max_mm_s}
    return Demo(data=series, truth=truth, description="Operando Mössbauer: LiFePO4 → FePO4 doublets along charge")


# --------------------------------------------------------------------------- EPR


def make_epr_reference(*, frequency_GHz: float = 9.40, spins: float = 1.0e15, g: float = 2.0028,
                       fwhm_mT: float = 0.55, sweep_mT: float = 30.0, n_points: int = 4096,
                       receiver_gain: float = 20.0, spins_to_area: float = 1.0e-12, noise: float = 0.002,
                       rng=13) -> Demo:
    """A reference standard of known spins: one Lorentzian derivative line.

    The absorption area is ``spins · spins_to_area · receiver_gain · g`` (all other
    acquisition factors 1, as in :func:`make_epr_plating_series`), so that
    :func:`battlab.spectra.epr.spin_count` recovers the spins.

    Returns
    -------
    Demo
        ``data``: spectrum over field_mT. ``truth``: ``spins``, ``g``, ``fwhm_mT``,
        ``area``, ``acquisition`` ({"receiver_gain"}).
    """
    from battlab.spectra.epr import line_shape, resonance_field_mT
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    center = float(resonance_field_mT(g, frequency_GHz))
    b = np.linspace(center - sweep_mT / 2, center + sweep_mT / 2, n_points)
    area = spins * spins_to_area * receiver_gain * g
    y = line_shape(b, area=area, center_mT=center, fwhm_mT=fwhm_mT)
    y = y + gen.normal(0, noise * np.ptp(y), b.size)
    spec = make_spectrum(b, y, technique="epr", units="a.u.", meta=_meta("EPR reference standard demo"),
                         microwave_frequency_GHz=frequency_GHz)
    truth = {"spins": spins, "g": g, "fwhm_mT": fwhm_mT, "area": area, "center_mT": center,
             "acquisition": {"receiver_gain": receiver_gain}}
    return Demo(data=spec, truth=truth, description="EPR reference standard (known spins, one Lorentzian line)")


def make_epr_plating_series(*, n_spectra: int = 20, frequency_GHz: float = 9.40, sweep_mT: float = 30.0,
                            n_points: int = 2048, receiver_gain: float = 40.0, spins_to_area: float = 1.0e-12,
                            noise: float = 0.002, rng=14) -> Demo:
    """Operando EPR of a Li metal electrode while lithium plates.

    Two phase-shifted Lorentzian derivative lines (conduction-electron resonance):

    * ``broad`` — the bulk Li foil (thicker than the skin depth): g = 2.00270,
      FWHM 0.80 mT, phase 35°, a constant 2.0e15 spins;
    * ``narrow`` — plated, microstructured Li: g = 2.00300, FWHM 0.12 mT, phase 0°,
      spins growing with the plated charge from 1e13 to 3.0e15 (linear in time,
      constant-current plating).

    Area of a line = spins · ``spins_to_area`` · ``receiver_gain`` · g (all other
    acquisition factors 1); Gaussian noise ``noise`` × the first spectrum's peak-to-peak.

    Returns
    -------
    Demo
        ``data``: (time, field_mT). ``truth``: ``components`` (per spectrum: spectrum,
        narrow_spins, broad_spins, narrow_area, broad_area), ``lines`` (g, fwhm_mT,
        phase_deg per component), ``acquisition``, ``frequency_GHz``, ``echem``.
    """
    from battlab.spectra.epr import line_shape, resonance_field_mT
    from battlab.spectra.io import make_spectrum

    gen = np.random.default_rng(rng)
    lines = {"narrow": {"g": 2.00300, "fwhm_mT": 0.12, "phase_deg": 0.0},
             "broad": {"g": 2.00270, "fwhm_mT": 0.80, "phase_deg": 35.0}}
    center = float(resonance_field_mT(2.0028, frequency_GHz))
    b = np.linspace(center - sweep_mT / 2, center + sweep_mT / 2, n_points)
    narrow_spins = np.linspace(1.0e13, 3.0e15, n_spectra)
    broad_spins = np.full(n_spectra, 2.0e15)
    start = pd.Timestamp("2026-01-06T09:00:00Z")
    dt_s = 600.0
    stamps = [(start + pd.Timedelta(seconds=i * dt_s)).isoformat() for i in range(n_spectra)]
    spectra, rows, sigma = [], [], None
    for i in range(n_spectra):
        y = np.zeros_like(b)
        rec = {"spectrum": i}
        for name, spins in (("narrow", narrow_spins[i]), ("broad", broad_spins[i])):
            ln = lines[name]
            area = spins * spins_to_area * receiver_gain * ln["g"]
            y += line_shape(b, area=area, center_mT=float(resonance_field_mT(ln["g"], frequency_GHz)),
                            fwhm_mT=ln["fwhm_mT"], phase_deg=ln["phase_deg"])
            rec[f"{name}_spins"] = spins
            rec[f"{name}_area"] = area
        sigma = noise * np.ptp(y) if sigma is None else sigma
        y = y + gen.normal(0, sigma, b.size)
        spectra.append(make_spectrum(b, y, technique="epr", units="a.u.", meta=_meta("operando EPR demo", stamps[i]),
                                     microwave_frequency_GHz=frequency_GHz))
        rows.append(rec)
    series = _series(spectra, "operando EPR Li plating", "synthetic Li metal EPR during constant-current plating")
    t = np.linspace(0, (n_spectra - 1) * dt_s, 200)
    echem = pd.DataFrame({"test_time_s": t, "unix_time_s": start.timestamp() + t,
                          "voltage_V": -0.03 - 0.01 * np.sqrt(t / t[-1]), "current_A": np.full(t.size, -2e-3),
                          "cycle_index": 1, "step_index": 1})
    truth = {"components": pd.DataFrame(rows), "lines": lines, "acquisition": {"receiver_gain": receiver_gain},
             "frequency_GHz": frequency_GHz, "echem": echem}
    return Demo(data=series, truth=truth, description="Operando EPR: narrow (plated) and broad (bulk) Li lines")
