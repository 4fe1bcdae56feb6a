"""Electrochemical quartz crystal microbalance (EQCM, EQCM-D).

A rigid, thin, evenly spread film shifts the resonance of an AT-cut quartz crystal in
proportion to its areal mass (Sauerbrey):

.. math::

    \\Delta m_A = -C_f \\, \\frac{\\Delta f_n}{n}, \\qquad
    C_f = \\frac{\\sqrt{\\rho_q \\mu_q}}{2 f_0^2}

with quartz density ρ_q = 2.648 g/cm³ and shear modulus μ_q = 2.947·10¹¹ g/(cm·s²);
C_f = 17.7 ng/(cm²·Hz) for a 5 MHz crystal. The mass change per mole of electrons
(m.p.e.) names what moves in or out of the film:

.. math::

    \\mathrm{m.p.e.} = -F \\, \\frac{\\Delta m}{\\Delta Q}

with ΔQ the signed charge (positive = oxidation/charge current, battlab's convention), so
a cation taken up on reduction and released on oxidation has a positive m.p.e. equal to
its molar mass per charge (Li⁺ 6.94 g/mol); solvated ions and SEI products weigh more,
anions come out negative.

Sauerbrey fails for soft (viscoelastic) or rough layers: they dissipate energy, so the
dissipation shift is large compared with the frequency shift. The usual criterion,
ΔD_n / (−Δf_n/n) well below 4·10⁻⁷ Hz⁻¹, is checked by :func:`dissipation_check`.

References: G. Sauerbrey, Z. Phys. 155 (1959) 206, doi:10.1007/BF01337937;
D. Johannsmann, The Quartz Crystal Microbalance in Soft Matter Research (Springer 2015);
M. R. Lukatskaya et al., Nat. Commun. 4 (2013) 1986 (m.p.e. in battery electrodes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.correlate.timeline import FARADAY_C_MOL
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["sauerbrey_constant", "sauerbrey_mass", "eqcm_mass", "mass_per_electron", "dissipation_check",
           "identify_species", "overtone_spread", "SPECIES", "QUARTZ_DENSITY_G_CM3", "QUARTZ_SHEAR_MODULUS_G_CM_S2",
           "DISSIPATION_THRESHOLD_PER_HZ"]

QUARTZ_DENSITY_G_CM3 = 2.648
QUARTZ_SHEAR_MODULUS_G_CM_S2 = 2.947e11
#: ΔD/(−Δf/n) above this (1/Hz) marks a layer Sauerbrey does not describe.
DISSIPATION_THRESHOLD_PER_HZ = 4e-7

#: Species -> mass change per mole of electrons (g/mol); negative for anions.
SPECIES = {
    "Li⁺": 6.94,
    "Na⁺": 22.99,
    "LiF (SEI)": 25.94,
    "K⁺": 39.10,
    "Li₂CO₃ (SEI, per e⁻)": 36.94,
    "ROCO₂Li / LEDC (SEI, per e⁻)": 80.98,
    "Li⁺ + 1 EC (solvated)": 95.00,
    "Li⁺ + 1 DMC (solvated)": 97.02,
    "PF₆⁻ (anion)": -144.96,
    "TFSI⁻ (anion)": -280.15,
}


def _positive(name, value):
    if value is None or not np.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"{name} must be a positive number, not {value!r}.")
    return float(value)


def sauerbrey_constant(f0_Hz: float = 5e6, *, quartz_density_g_cm3: float = QUARTZ_DENSITY_G_CM3,
                       quartz_shear_modulus_g_cm_s2: float = QUARTZ_SHEAR_MODULUS_G_CM_S2) -> float:
    """Mass sensitivity C_f in ng/(cm²·Hz) of a crystal with fundamental ``f0_Hz``.

    Examples
    --------
    >>> round(sauerbrey_constant(5e6), 2)
    17.67
    """
    f0 = _positive("f0_Hz", f0_Hz)
    rho = _positive("quartz_density_g_cm3", quartz_density_g_cm3)
    mu = _positive("quartz_shear_modulus_g_cm_s2", quartz_shear_modulus_g_cm_s2)
    return float(np.sqrt(rho * mu) / (2.0 * f0**2) * 1e9)


def sauerbrey_mass(frequency_shift_Hz, *, f0_Hz: float = 5e6, overtone: int = 1,
                   area_cm2: float | None = None, **crystal):
    """Mass change from a frequency shift: ng/cm² (or ng when ``area_cm2`` is given)."""
    if int(overtone) != overtone or overtone < 1 or overtone % 2 == 0:
        raise InvalidParameterError(f"overtone must be an odd positive integer (1, 3, 5 …), not {overtone!r}.")
    c = sauerbrey_constant(f0_Hz, **crystal)
    m = -c * np.asarray(frequency_shift_Hz, dtype=float) / overtone
    return m * _positive("area_cm2", area_cm2) if area_cm2 is not None else m


def eqcm_mass(table: pd.DataFrame, *, f0_Hz: float = 5e6, area_cm2: float, overtone: int = 1,
              **crystal) -> pd.DataFrame:
    """Add Sauerbrey ``mass_ng_cm2`` and ``mass_ng`` (and the dissipation ratio) to a table.

    ``table`` holds ``frequency_shift_Hz`` (and optionally ``dissipation_shift``), e.g.
    from :func:`battlab.sensors.align_to_cycling`. ``area_cm2`` is the electrode area
    on the crystal: there is no default, it scales every mass.
    """
    if "frequency_shift_Hz" not in table:
        raise MissingDataError("the table has no frequency_shift_Hz column; read the file with "
                               "battlab.sensors.read_sensor_table(..., kind='eqcm').")
    out = table.copy(deep=False)  # new columns only; copy-on-write keeps the input intact
    out["mass_ng_cm2"] = sauerbrey_mass(out["frequency_shift_Hz"], f0_Hz=f0_Hz, overtone=overtone, **crystal)
    out["mass_ng"] = out["mass_ng_cm2"] * _positive("area_cm2", area_cm2)
    if "dissipation_shift" in out:
        norm = -out["frequency_shift_Hz"].to_numpy(dtype=float) / overtone
        with np.errstate(invalid="ignore", divide="ignore"):
            out["dissipation_ratio_per_Hz"] = np.where(np.abs(norm) > 0, out["dissipation_shift"] / norm, np.nan)
    meta = dict(table.attrs.get("battlab", {}))
    meta["eqcm"] = {"f0_Hz": f0_Hz, "area_cm2": area_cm2, "overtone": overtone,
                    "sauerbrey_constant_ng_cm2_Hz": sauerbrey_constant(f0_Hz, **crystal)}
    out.attrs["battlab"] = meta
    return out


def dissipation_check(table: pd.DataFrame, *, threshold_per_Hz: float = DISSIPATION_THRESHOLD_PER_HZ,
                      overtone: int = 1, min_shift_Hz: float = 2.0) -> dict:
    """Is the layer rigid enough for Sauerbrey? Compares ΔD/(−Δf/n) with a threshold.

    Only samples with |Δf/n| above ``min_shift_Hz`` count (the ratio of two small noisy
    numbers means nothing). Returns ``valid`` (True/False, or None without dissipation
    data), the median and 95th percentile ratio, the fraction of samples above the
    threshold and a plain-language ``message``.
    """
    _positive("threshold_per_Hz", threshold_per_Hz)
    if "dissipation_shift" not in table:
        return {"valid": None, "median_ratio_per_Hz": None, "p95_ratio_per_Hz": None, "fraction_above": None,
                "threshold_per_Hz": threshold_per_Hz,
                "message": "no dissipation data: rigidity not checked (Sauerbrey assumed)."}
    norm = -table["frequency_shift_Hz"].to_numpy(dtype=float) / overtone
    d = table["dissipation_shift"].to_numpy(dtype=float)
    use = np.isfinite(norm) & np.isfinite(d) & (np.abs(norm) > min_shift_Hz)
    if not use.any():
        return {"valid": None, "median_ratio_per_Hz": None, "p95_ratio_per_Hz": None, "fraction_above": None,
                "threshold_per_Hz": threshold_per_Hz,
                "message": f"frequency shifts stay below {min_shift_Hz:g} Hz: rigidity not checked."}
    ratio = np.abs(d[use] / norm[use])
    med, p95 = float(np.median(ratio)), float(np.percentile(ratio, 95))
    above = float(np.mean(ratio > threshold_per_Hz))
    valid = med < threshold_per_Hz
    msg = (f"rigid layer: ΔD/(−Δf/n) median {med:.2g} Hz⁻¹ < {threshold_per_Hz:.2g} Hz⁻¹, Sauerbrey applies."
           if valid else
           f"viscoelastic warning: ΔD/(−Δf/n) median {med:.2g} Hz⁻¹ exceeds {threshold_per_Hz:.2g} Hz⁻¹, so "
           "Sauerbrey masses are not valid (the layer is soft or rough); use a viscoelastic (Voigt) model.")
    return {"valid": bool(valid), "median_ratio_per_Hz": med, "p95_ratio_per_Hz": p95, "fraction_above": above,
            "threshold_per_Hz": threshold_per_Hz, "message": msg}


def overtone_spread(table: pd.DataFrame, *, min_shift_Hz: float = 2.0) -> dict:
    """How much Δf_n/n differs between overtones (a rigid film gives the same value on all).

    Uses every ``frequency_shift_n<n>_Hz`` column the reader kept. Returns the overtones
    and the median relative spread (max − min)/|mean| of Δf_n/n over samples where it
    exceeds ``min_shift_Hz``; None with fewer than two overtones.
    """
    cols = {int(c[len("frequency_shift_n"):-3]): c for c in table.columns
            if c.startswith("frequency_shift_n") and c.endswith("_Hz")}
    if len(cols) < 2:
        return {"overtones": sorted(cols), "median_spread": None}
    norm = np.column_stack([table[c].to_numpy(dtype=float) / n for n, c in sorted(cols.items())])
    mean = norm.mean(axis=1)
    use = np.isfinite(norm).all(axis=1) & (np.abs(mean) > min_shift_Hz)
    if not use.any():
        return {"overtones": sorted(cols), "median_spread": None}
    spread = (norm[use].max(axis=1) - norm[use].min(axis=1)) / np.abs(mean[use])
    return {"overtones": sorted(cols), "median_spread": float(np.median(spread))}


def identify_species(mpe_g_mol: float, *, tolerance: float = 0.15) -> str:
    """Nearest entry of :data:`SPECIES` within ``tolerance`` (relative), else "unassigned"."""
    if mpe_g_mol is None or not np.isfinite(mpe_g_mol):
        return "unassigned"
    name, value = min(SPECIES.items(), key=lambda kv: abs(np.log(abs(mpe_g_mol)) - np.log(abs(kv[1])))
                      if np.sign(kv[1]) == np.sign(mpe_g_mol) else np.inf)
    if np.sign(value) != np.sign(mpe_g_mol) or abs(mpe_g_mol / value - 1.0) > tolerance:
        return "unassigned"
    return name


def _group_slopes(group, q, m):
    """Least-squares slope of m against q within each group (two bincount passes)."""
    n = np.bincount(group).astype(float)
    mq = np.bincount(group, weights=q) / n
    mm = np.bincount(group, weights=m) / n
    dq = q - mq[group]  # centred first: charges are large offsets with small spans
    sxx = np.bincount(group, weights=dq * dq)
    sxy = np.bincount(group, weights=dq * (m - mm[group]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx > 0, sxy / sxx, np.nan), n


def mass_per_electron(table: pd.DataFrame, *, by: str = "half_cycle", potential_step_V: float = 0.05,
                      min_charge_C: float | None = None) -> pd.DataFrame:
    """m.p.e. = −F·dm/dQ from a straight-line fit of mass against charge in each group.

    Parameters
    ----------
    table : DataFrame
        :func:`eqcm_mass` output aligned on the cycling (``charge_C``, ``mass_ng``,
        ``cycle``, ``half_cycle``, ``direction``, ``voltage_V``).
    by : {"half_cycle", "potential"}
        One value per half cycle, or per potential window of ``potential_step_V`` within
        each half cycle (m.p.e. against potential, to see where which species moves).
    min_charge_C : float, optional
        Groups passing less charge are left out (default: 2 % of the largest group).

    Returns
    -------
    DataFrame
        cycle, half_cycle, direction ("charge"/"discharge"), [voltage_V], charge_passed_C,
        mass_change_ng, mass_per_electron_g_mol, species, n_points.
    """
    need = {"charge_C", "mass_ng", "cycle", "half_cycle", "direction"}
    if not need <= set(table.columns):
        raise MissingDataError(f"mass_per_electron needs {sorted(need)}: run align_to_cycling then eqcm_mass.")
    if by not in ("half_cycle", "potential"):
        raise InvalidParameterError("by must be 'half_cycle' or 'potential'.")
    half = table["half_cycle"].to_numpy()
    cyc = table["cycle"].to_numpy()
    dirs = table["direction"].to_numpy()
    q = table["charge_C"].to_numpy(dtype=float)
    m = table["mass_ng"].to_numpy(dtype=float) * 1e-9
    keep = (half > 0) & np.isfinite(q) & np.isfinite(m)
    bins = None
    if by == "potential":
        step = _positive("potential_step_V", potential_step_V)
        keep &= dirs != 0  # rest rows move no charge
        bins = np.floor(table["voltage_V"].to_numpy(dtype=float) / step)
        keep &= np.isfinite(bins)
    idx = np.flatnonzero(keep)
    cols = ["cycle", "half_cycle", "direction"] + (["voltage_V"] if by == "potential" else []) + [
        "charge_passed_C", "mass_change_ng", "mass_per_electron_g_mol", "species", "n_points"]
    if len(idx) == 0:
        return pd.DataFrame(columns=cols)
    # One integer key per (half cycle[, potential window]); the half cycle fixes the cycle.
    key = half[idx].astype(np.int64)
    if bins is not None:
        b = bins[idx].astype(np.int64)
        b0, width = b.min(), int(b.max() - b.min()) + 1
        key = key * width + (b - b0)
    uniq, group = np.unique(key, return_inverse=True)
    group = group.ravel()
    qk, mk = q[idx], m[idx]
    slope, n = _group_slopes(group, qk, mk)
    order = np.argsort(group, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(group))]
    first, last = idx[order[bounds[:-1]]], idx[order[bounds[1:] - 1]]
    qmin = np.full(len(uniq), np.inf)
    qmax = np.full(len(uniq), -np.inf)
    np.minimum.at(qmin, group, qk)
    np.maximum.at(qmax, group, qk)
    # The half cycle's direction: its first row with current.
    d_group = np.zeros(len(uniq), dtype=int)
    act = dirs[idx] != 0
    d_group[group[act][::-1]] = dirs[idx][act][::-1]
    rows = {"cycle": cyc[first], "half_cycle": half[first],
            "direction": np.select([d_group > 0, d_group < 0], ["charge", "discharge"], "rest")}
    if by == "potential":
        rows["voltage_V"] = (uniq % width + b0 + 0.5) * potential_step_V
    rows.update(charge_passed_C=qmax - qmin, mass_change_ng=(m[last] - m[first]) * 1e9,
                mass_per_electron_g_mol=-FARADAY_C_MOL * slope, n_points=n.astype(np.int64))
    out = pd.DataFrame(rows)
    out = out.loc[out["n_points"] >= 3]
    if out.empty:
        return pd.DataFrame(columns=cols)
    limit = min_charge_C if min_charge_C is not None else 0.02 * out["charge_passed_C"].max()
    out = out.loc[out["charge_passed_C"] >= limit].reset_index(drop=True)
    out["species"] = [identify_species(v) for v in out["mass_per_electron_g_mol"]]
    return out[cols]
