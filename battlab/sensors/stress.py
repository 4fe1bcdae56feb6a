"""Film stress from substrate curvature (MOSS, multi-beam optical stress sensor).

A film that wants to expand (lithiating Si) but is bonded to a substrate is stressed and
bends the substrate. MOSS reflects an array of parallel laser beams off the back of the
substrate; the spacing d of the spots on a camera changes with the curvature:

.. math::

    \\Delta\\kappa = \\frac{d - d_0}{d_0} \\, \\frac{\\cos\\varphi}{2L}

(φ incidence angle, L substrate–camera distance; for a mirror geometry L is the optical
path). Stoney's equation turns curvature into the film's stress-thickness product:

.. math::

    \\sigma_f h_f = \\frac{M_s h_s^2 \\Delta\\kappa}{6}, \\qquad M_s = \\frac{E_s}{1-\\nu_s}

valid for a film much thinner than the substrate. Sign convention: Δκ > 0 is a tensile
film stress, Δκ < 0 compressive (lithiation of Si gives about −1.75 GPa, delithiation
about +1 GPa before plastic flow). ``σh`` in N/m equals GPa·nm, so σ (GPa) = σh / h_f (nm).

The "modified Stoney" correction of the seed lets the film thicken as it lithiates:
h_f = h_f0·(1 + β·(1 − soc)) with β the relative thickness gain at full lithiation.

References: G. G. Stoney, Proc. R. Soc. A 82 (1909) 172, doi:10.1098/rspa.1909.0021;
V. A. Sethuraman et al., J. Power Sources 195 (2010) 5062, doi:10.1016/j.jpowsour.2010.02.013.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["biaxial_modulus_GPa", "curvature_from_spot_spacing", "stoney_stress_thickness", "stoney_stress",
           "film_stress", "summarize_stress"]


def _positive(name, value):
    if value is None or not np.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"{name} must be a positive number, not {value!r}.")
    return float(value)


def biaxial_modulus_GPa(youngs_modulus_GPa: float, poisson_ratio: float) -> float:
    """M = E/(1 − ν)."""
    if not (np.isfinite(poisson_ratio) and -1.0 < poisson_ratio < 0.5):
        raise InvalidParameterError(f"Poisson ratio must be between -1 and 0.5, not {poisson_ratio!r}.")
    return _positive("youngs_modulus_GPa", youngs_modulus_GPa) / (1.0 - poisson_ratio)


def curvature_from_spot_spacing(spacing, *, reference_spacing: float | None = None,
                                incidence_angle_deg: float = 0.0, distance_m: float) -> np.ndarray:
    """Curvature change Δκ (1/m) from MOSS spot spacings (any unit; only d/d₀ matters).

    ``reference_spacing`` d₀ defaults to the first value.
    """
    d = np.asarray(spacing, dtype=float)
    d0 = float(d[0]) if reference_spacing is None else reference_spacing
    _positive("reference_spacing", d0)
    L = _positive("distance_m", distance_m)
    if not (np.isfinite(incidence_angle_deg) and 0 <= incidence_angle_deg < 90):
        raise InvalidParameterError("incidence_angle_deg must be between 0 and 90.")
    return (d - d0) / d0 * np.cos(np.radians(incidence_angle_deg)) / (2.0 * L)


def stoney_stress_thickness(delta_kappa_1_m, *, substrate_modulus_GPa: float, substrate_poisson: float,
                            substrate_thickness_um: float) -> np.ndarray:
    """σ_f·h_f (N/m = GPa·nm) from a curvature change (1/m) by Stoney's equation.

    Examples
    --------
    >>> float(stoney_stress_thickness(0.01, substrate_modulus_GPa=130.0, substrate_poisson=0.28,
    ...                               substrate_thickness_um=500.0).round(2))
    75.23
    """
    m_pa = biaxial_modulus_GPa(substrate_modulus_GPa, substrate_poisson) * 1e9
    hs = _positive("substrate_thickness_um", substrate_thickness_um) * 1e-6
    return m_pa * hs**2 * np.asarray(delta_kappa_1_m, dtype=float) / 6.0


def stoney_stress(delta_kappa_1_m, *, film_thickness_nm, **substrate) -> np.ndarray:
    """Film stress σ_f (GPa) = Stoney σh / h_f; ``film_thickness_nm`` may be an array."""
    hf = np.asarray(film_thickness_nm, dtype=float)
    if not (np.isfinite(hf).all() and (hf > 0).all()):
        raise InvalidParameterError("film_thickness_nm must be positive.")
    return stoney_stress_thickness(delta_kappa_1_m, **substrate) / hf


def film_stress(table: pd.DataFrame, *, substrate_modulus_GPa: float, substrate_poisson: float,
                substrate_thickness_um: float, film_thickness_nm: float, distance_m: float | None = None,
                incidence_angle_deg: float = 0.0, reference_spacing: float | None = None,
                thickness_expansion: float = 0.0) -> pd.DataFrame:
    """Add ``curvature_1_m``, ``stress_thickness_N_m``, ``film_thickness_nm`` and ``stress_GPa``.

    The table holds curvature (``curvature_1_m``, taken relative to the first sample),
    MOSS spot spacings (``spot_spacing``; needs ``distance_m`` and the angle) or
    stress-thickness already (``stress_thickness_N_m``). ``thickness_expansion`` β > 0
    applies the modified Stoney thickness h_f0·(1 + β·(1 − soc)) (needs the aligned
    ``soc``).
    """
    out = table.copy(deep=False)  # new columns only; copy-on-write keeps the input intact
    sub = dict(substrate_modulus_GPa=substrate_modulus_GPa, substrate_poisson=substrate_poisson,
               substrate_thickness_um=substrate_thickness_um)
    if "curvature_1_m" in out:
        k = out["curvature_1_m"].to_numpy(dtype=float)
        dk = k - k[0]
        source = "curvature"
    elif "spot_spacing" in out:
        if distance_m is None:
            raise InvalidParameterError("spot spacings need the substrate-to-camera distance (m) and the "
                                        "incidence angle to become curvature.")
        dk = curvature_from_spot_spacing(out["spot_spacing"], reference_spacing=reference_spacing,
                                         incidence_angle_deg=incidence_angle_deg, distance_m=distance_m)
        source = "spot spacing"
    elif "stress_thickness_N_m" in out:
        dk = None
        source = "stress-thickness"
    else:
        raise MissingDataError("the table has no curvature_1_m, spot_spacing or stress_thickness_N_m column.")
    if dk is not None:
        out["delta_curvature_1_m"] = dk
        out["stress_thickness_N_m"] = stoney_stress_thickness(dk, **sub)
    else:
        biaxial_modulus_GPa(substrate_modulus_GPa, substrate_poisson)  # still validate the inputs
    hf0 = _positive("film_thickness_nm", film_thickness_nm)
    if thickness_expansion:
        if thickness_expansion < 0 or "soc" not in out:
            raise InvalidParameterError("thickness_expansion must be >= 0 and needs a table aligned on the "
                                        "cycling (soc column).")
        hf = hf0 * (1.0 + thickness_expansion * (1.0 - out["soc"].fillna(1.0).to_numpy()))
    else:
        hf = np.full(len(out), hf0)
    out["film_thickness_nm"] = hf
    out["stress_GPa"] = out["stress_thickness_N_m"].to_numpy(dtype=float) / hf
    meta = dict(table.attrs.get("battlab", {}))
    meta["stress"] = dict(sub, film_thickness_nm=hf0, distance_m=distance_m, incidence_angle_deg=incidence_angle_deg,
                          thickness_expansion=thickness_expansion, source=source,
                          biaxial_modulus_GPa=biaxial_modulus_GPa(substrate_modulus_GPa, substrate_poisson))
    out.attrs["battlab"] = meta
    return out


def summarize_stress(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cycle: peak compressive and tensile stress, hysteresis and loop area.

    Returns cycle, max_compressive_GPa (most negative), max_tensile_GPa (most positive),
    stress_hysteresis_GPa (range), mean_discharge_stress_GPa, mean_charge_stress_GPa,
    stress_capacity_loop_GPa_mAh (|∮σ dQ| over the cycle: the area enclosed by the stress
    against charge loop, proportional to the mechanical work dissipated when strain
    follows charge) and charge_swing_mAh.
    """
    if not {"cycle", "stress_GPa"} <= set(table.columns):
        raise MissingDataError("summarize_stress needs cycle and stress_GPa: run align_to_cycling and film_stress.")
    rows = []
    for cycle, g in table.loc[table["cycle"] > 0].groupby("cycle", sort=True):
        s = g["stress_GPa"].to_numpy(dtype=float)
        if len(s) < 2:
            continue
        row = {"cycle": int(cycle), "max_compressive_GPa": float(np.nanmin(s)), "max_tensile_GPa": float(np.nanmax(s)),
               "stress_hysteresis_GPa": float(np.nanmax(s) - np.nanmin(s))}
        d = g["direction"].to_numpy() if "direction" in g else np.zeros(len(s))
        row["mean_discharge_stress_GPa"] = float(np.nanmean(s[d < 0])) if (d < 0).any() else np.nan
        row["mean_charge_stress_GPa"] = float(np.nanmean(s[d > 0])) if (d > 0).any() else np.nan
        if "charge_mAh" in g:
            q = g["charge_mAh"].to_numpy(dtype=float)
            row["stress_capacity_loop_GPa_mAh"] = float(abs(np.sum(0.5 * (s[1:] + s[:-1]) * np.diff(q))))
            row["charge_swing_mAh"] = float(np.nanmax(q) - np.nanmin(q))
        rows.append(row)
    return pd.DataFrame(rows, columns=["cycle", "max_compressive_GPa", "max_tensile_GPa", "stress_hysteresis_GPa",
                                       "mean_discharge_stress_GPa", "mean_charge_stress_GPa",
                                       "stress_capacity_loop_GPa_mAh", "charge_swing_mAh"])
