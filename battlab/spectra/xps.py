"""XPS: inelastic backgrounds (Shirley, Tougaard), core-level fits with spin–orbit
doublets, SEI component defaults and sensitivity-corrected composition.

Binding energies are in eV on the ``binding_energy_eV`` axis (ascending in the data,
plotted decreasing). Inelastically scattered electrons appear at *higher* binding
energy than their peak, so both backgrounds rise from the low-BE end to the high-BE end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError
from battlab.spectra.analysis import SpectrumFit, fit_spectrum

__all__ = ["RSF_SCOFIELD", "SEI_COMPONENTS", "composition", "fit_xps", "shirley_background",
           "tougaard_background"]

_TOL_EV = 0.7
_FWHM_EV = 1.3

#: Default SEI components per core level (binding energies in eV, after charge
#: correction to adventitious C–C/C–H at 284.8 eV). Typical literature positions; the
#: fit may move each centre by ``center_tolerance`` eV. 2p levels are spin–orbit doublets
#: (2p1/2 at + ``splitting`` eV with half the 2p3/2 area).
SEI_COMPONENTS = {
    "C 1s": [
        {"name": "C–C/C–H", "center": 284.8, "element": "C"},
        {"name": "C–O", "center": 286.5, "element": "C"},
        {"name": "C=O", "center": 288.5, "element": "C"},
        {"name": "Li2CO3/CO3", "center": 290.0, "element": "C"},
    ],
    "F 1s": [
        {"name": "LiF", "center": 685.0, "element": "F"},
        {"name": "LixPFy/P–F", "center": 687.0, "element": "F"},
    ],
    "O 1s": [
        {"name": "Li2O", "center": 528.5, "element": "O"},
        {"name": "C=O/Li2CO3", "center": 531.5, "element": "O"},
        {"name": "C–O", "center": 533.0, "element": "O"},
    ],
    "P 2p": [
        {"name": "LixPOyFz", "center": 134.0, "element": "P", "doublet": {"splitting": 0.87, "ratio": 0.5}},
        {"name": "LiPF6/LixPFy", "center": 136.5, "element": "P", "doublet": {"splitting": 0.87, "ratio": 0.5}},
    ],
    "Li 1s": [
        {"name": "Li2O", "center": 53.7, "element": "Li"},
        {"name": "Li2CO3", "center": 55.2, "element": "Li"},
        {"name": "LiF", "center": 56.0, "element": "Li"},
    ],
}
for _comps in SEI_COMPONENTS.values():
    for _c in _comps:
        _c.setdefault("center_tolerance", _TOL_EV)
        _c.setdefault("fwhm", _FWHM_EV)

#: Approximate Scofield photoionisation cross-sections for Al Kα relative to C 1s = 1
#: (whole 2p doublet). Use your instrument's sensitivity factors when you have them:
#: transmission and escape-depth corrections are not included.
RSF_SCOFIELD = {"C": 1.00, "O": 2.93, "F": 4.43, "P": 1.19, "Li": 0.0568, "N": 1.80, "S": 1.68}


def _xy_sorted(x, y, min_points=10):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidParameterError(f"x and y must be 1-D of one length, got {x.shape} and {y.shape}.")
    good = np.isfinite(x) & np.isfinite(y)
    if good.sum() < min_points:
        raise MissingDataError(f"an XPS background needs at least {min_points} finite points, got {int(good.sum())}.")
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    if not good.all():
        ys = np.interp(xs, xs[good[order]], ys[good[order]])
    return order, xs, ys


def _ends(ys, end_points):
    k = int(max(1, min(end_points, ys.size // 5)))
    return float(np.mean(ys[:k])), float(np.mean(ys[-k:]))


def _cumulative(xs, f):
    """Running trapezoid integral of f from the first point (same length)."""
    out = np.zeros_like(f)
    out[1:] = np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(xs))
    return out


def shirley_background(x, y, *, n_iter: int = 50, tol: float = 1e-6, end_points: int = 5):
    """Iterative Shirley background (Shirley 1972; Proctor & Sherwood 1982).

    The background at binding energy E is proportional to the peak area at binding
    energies below E,
    ``B(E) = I_low + (I_high − I_low) · ∫_{E_low}^{E} (y − B) / ∫_{E_low}^{E_high} (y − B)``,
    iterated to self-consistency.

    Parameters
    ----------
    x : array_like
        Binding energy, eV (any order).
    y : array_like
        Intensity (counts or counts/s).
    n_iter : int
        Maximum iterations.
    tol : float
        Stop when the background changes by less than ``tol`` × the step height.
    end_points : int
        Points averaged at each end for the end levels ``I_low`` and ``I_high``.

    Returns
    -------
    ndarray
        The background at every ``x`` (input order).
    """
    if n_iter < 1:
        raise InvalidParameterError(f"Shirley needs n_iter ≥ 1, got {n_iter}.")
    order, xs, ys = _xy_sorted(x, y)
    i_low, i_high = _ends(ys, end_points)
    step = i_high - i_low
    base = np.full_like(ys, i_low)
    if step != 0:
        for _ in range(int(n_iter)):
            # Only the peak signal above the background scatters; clip so noise cannot
            # make the running integral decrease.
            run = _cumulative(xs, np.clip(ys - base, 0, None))
            if run[-1] <= 0:
                break
            new = i_low + step * run / run[-1]
            done = np.max(np.abs(new - base)) < tol * abs(step)
            base = new
            if done:
                break
    out = np.empty_like(base)
    out[order] = base
    return out


def tougaard_background(x, y, *, B: float = 2866.0, C: float = 1643.0, end_points: int = 5,
                        match_end: bool = True):
    """Tougaard background with the universal two-parameter cross-section.

    ``B(E) = I_low + B ∫_{E_low}^{E} K(E − E') (y(E') − I_low) dE'`` with
    ``K(T) = T / (C + T²)²`` (T energy loss in eV; Tougaard 1989, B = 2866 eV²,
    C = 1643 eV² for most metals and oxides).

    Parameters
    ----------
    x : array_like
        Binding energy, eV.
    y : array_like
        Intensity.
    B : float
        Cross-section scale, eV². Used as given when ``match_end`` is false.
    C : float
        Cross-section shape parameter, eV².
    end_points : int
        Points averaged at each end for the end levels.
    match_end : bool
        Scale ``B`` so the background meets the data at the high-BE end (the usual
        practice when the spectrum does not extend ~50 eV past the peak).

    Returns
    -------
    ndarray
        The background at every ``x`` (input order).
    """
    if C <= 0 or B < 0:
        raise InvalidParameterError(f"Tougaard needs B ≥ 0 and C > 0 (eV²), got B={B}, C={C}.")
    order, xs, ys = _xy_sorted(x, y)
    i_low, i_high = _ends(ys, end_points)
    j = ys - i_low
    dx = np.gradient(xs)
    loss = xs[:, None] - xs[None, :]  # E − E', positive where E' is at lower binding energy
    kern = np.where(loss > 0, loss / (C + loss ** 2) ** 2, 0.0)
    conv = kern @ (j * dx)
    scale = B
    if match_end and conv[-1] > 0:
        scale = (i_high - i_low) / conv[-1]
    base = i_low + scale * conv
    out = np.empty_like(base)
    out[order] = base
    return out


def _resolve_components(components):
    if isinstance(components, str):
        if components not in SEI_COMPONENTS:
            raise InvalidParameterError(f"unknown XPS region {components!r}; choose one of {list(SEI_COMPONENTS)} "
                                        "or give a list of components.")
        return [dict(c) for c in SEI_COMPONENTS[components]], components
    return components, None


def fit_xps(spectrum, components, *, background: str = "shirley", background_options: dict | None = None,
            model: str = "pseudo_voigt", window=None, background_order: int = -1, shared_fwhm: bool = False,
            be_shift_eV: float = 0.0, **options) -> SpectrumFit:
    """Fit a core-level region: inelastic background, then pseudo-Voigt components.

    Parameters
    ----------
    spectrum : DataArray over ``binding_energy_eV``
    components : str or list
        A region of :data:`SEI_COMPONENTS` ("C 1s", "F 1s", "O 1s", "P 2p", "Li 1s") or
        components as in :func:`battlab.spectra.analysis.fit_spectrum` (centres in eV;
        ``doublet={"splitting": eV, "ratio": 0.5}`` for 2p, 0.667 for 3d, 0.75 for 4f).
        An ``element`` key per component is used by :func:`composition`.
    background : {"shirley", "tougaard", "linear", "none", ...}
        Background subtracted before the fit (any :func:`~battlab.spectra.analysis.baseline` method).
    background_options : dict, optional
        Options of that background (``n_iter``, ``tol``, ``B``, ``C``, ``end_points``).
    window : (float, float), optional
        Binding-energy range, eV.
    background_order : int
        Extra polynomial fitted with the peaks (−1 = none; the Shirley/Tougaard
        background already describes the data outside the peaks).
    be_shift_eV : float
        Charge correction added to the binding-energy axis before fitting (e.g.
        284.8 − measured C–C position).
    **options
        Passed to :func:`~battlab.spectra.analysis.fit_spectrum` (``fwhm``, ``eta`` …).

    Returns
    -------
    SpectrumFit
        Its table has ``element`` and ``region`` columns when known.
    """
    if "binding_energy_eV" not in getattr(spectrum, "dims", ()):
        raise InvalidParameterError("fit_xps needs a spectrum over binding_energy_eV (technique='xps').")
    comps, region = _resolve_components(components)
    if be_shift_eV:
        spectrum = spectrum.assign_coords(binding_energy_eV=spectrum["binding_energy_eV"] + float(be_shift_eV))
    fit = fit_spectrum(spectrum, comps, model=model, window=window, background_order=background_order,
                       shared_fwhm=shared_fwhm, baseline=background, baseline_options=background_options, **options)
    elements = [c.get("element") if isinstance(c, dict) else None for c in comps]
    fit.table["element"] = elements
    fit.table["region"] = region
    fit.options.update({"region": region, "be_shift_eV": be_shift_eV})
    return fit


def composition(fits, *, rsf: dict | None = None) -> pd.DataFrame:
    """Sensitivity-corrected (atomic-like) fractions of every fitted species.

    ``amount_i = area_i / RSF_i`` and ``fraction_i = amount_i / Σ amount``; within one
    element this is the chemical-state fraction, across elements an atomic-% estimate.

    Parameters
    ----------
    fits : SpectrumFit or list of SpectrumFit
        From :func:`fit_xps` (one per core level).
    rsf : dict, optional
        Relative sensitivity factors keyed by component name or by element; default
        :data:`RSF_SCOFIELD` by element.

    Returns
    -------
    DataFrame
        ``region``, ``element``, ``species``, ``area``, ``rsf``, ``amount``, ``fraction``
        (of all species), ``fraction_in_element`` (of its element's species).
    """
    if isinstance(fits, SpectrumFit):
        fits = [fits]
    if not fits:
        raise MissingDataError("no fits to combine; fit at least one core level.")
    table = rsf if rsf is not None else RSF_SCOFIELD
    rows = []
    for fit in fits:
        for r in fit.table.itertuples():
            element = getattr(r, "element", None)
            factor = table.get(r.name, table.get(element) if element else None)
            if factor is None:
                if rsf is None and element is None:
                    factor = 1.0  # one unlabelled region: relative fractions need no RSF
                else:
                    raise MissingDataError(f"no sensitivity factor for {r.name!r} (element {element!r}); "
                                           f"give rsf={{'{element or r.name}': value}}.")
            if not (np.isfinite(factor) and factor > 0):
                raise InvalidParameterError(f"sensitivity factor for {r.name!r} must be > 0, got {factor}.")
            rows.append({"region": getattr(r, "region", None), "element": element, "species": r.name,
                         "area": r.area, "rsf": float(factor), "amount": r.area / float(factor)})
    out = pd.DataFrame(rows)
    total = out["amount"].sum()
    out["fraction"] = out["amount"] / total if total > 0 else np.nan
    key = out["element"].fillna(out["region"]).fillna("")
    out["fraction_in_element"] = out["amount"] / out.groupby(key)["amount"].transform("sum").replace(0, np.nan)
    return out
