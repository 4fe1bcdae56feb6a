"""XAS (XANES): edge energy, pre/post-edge normalisation, edge tracking over an operando
series and linear-combination fits against end-member references.

Energies are photon energies in eV on the ``energy_eV`` axis; μ(E) in any units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError
from battlab.series import linear_combination_fit
from battlab.spectra.analysis import _rows, spectrum_xy

__all__ = ["edge_polynomials", "find_e0", "normalize_xas", "xas_lcf", "xas_series_table"]


def _xas_xy(spectrum, min_points=20):
    if "energy_eV" not in getattr(spectrum, "dims", ()):
        raise InvalidParameterError("expected an XAS spectrum over energy_eV (technique='xas').")
    _, x, y = spectrum_xy(spectrum, min_points=min_points)
    good = np.isfinite(x) & np.isfinite(y)
    order = np.argsort(x[good])
    return x[good][order], y[good][order]


def _smooth_derivative(x, y, width_eV):
    """dμ/dE after Savitzky–Golay smoothing over about ``width_eV`` (noise would otherwise
    put the maximum on a random spike)."""
    from scipy.signal import savgol_filter

    step = float(np.median(np.diff(x)))
    n = max(5, round(width_eV / step))
    n = min(n, x.size)
    if n % 2 == 0:
        n -= 1
    if n <= 3:
        return np.gradient(y, x)
    ys = savgol_filter(y, n, 2)
    return np.gradient(ys, x)


def find_e0(spectrum, *, method: str = "max_derivative", search=None, smooth_eV: float = 1.5) -> float:
    """Edge energy E0 of one XAS spectrum, eV.

    Parameters
    ----------
    method : {"max_derivative", "half_step"}
        ``max_derivative``: the maximum of dμ/dE (refined between grid points by a
        parabola through the three highest points); ``half_step``: where the normalised
        μ first reaches 0.5 near that maximum.
    search : (float, float), optional
        Energy range (eV) to search, e.g. to skip a pre-edge feature or a second edge.
    smooth_eV : float
        Savitzky–Golay window (eV) applied before differentiating.
    """
    x, y = _xas_xy(spectrum)
    sel = np.ones(x.size, bool)
    if search is not None:
        lo, hi = float(min(search)), float(max(search))
        sel = (x >= lo) & (x <= hi)
        if sel.sum() < 5:
            raise MissingDataError(f"the E0 search range {lo:g}–{hi:g} eV holds {int(sel.sum())} points; "
                                   f"the data span {x[0]:g}–{x[-1]:g} eV.")
    d = _smooth_derivative(x, y, smooth_eV)
    idx = np.flatnonzero(sel)
    k = idx[np.argmax(d[sel])]
    e0 = float(x[k])
    if 0 < k < x.size - 1:
        # Vertex of the parabola through the three points around the maximum.
        y0, y1, y2 = d[k - 1], d[k], d[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            e0 = float(x[k] + 0.5 * (y0 - y2) / den * (x[k + 1] - x[k - 1]) / 2)
    if method == "max_derivative":
        return e0
    if method == "half_step":
        norm, _ = normalize_xas(spectrum, e0=e0)
        xn, yn = _xas_xy(norm)
        # Walk down from the derivative maximum to the last point below 0.5, then interpolate.
        j = int(np.searchsorted(xn, e0))
        below = np.flatnonzero(yn[:j + 1] < 0.5)
        if below.size == 0 or below[-1] + 1 >= xn.size:
            raise MissingDataError("the normalised edge never crosses 0.5 near the derivative maximum.")
        i = below[-1]
        return float(xn[i] + (0.5 - yn[i]) * (xn[i + 1] - xn[i]) / (yn[i + 1] - yn[i]))
    raise InvalidParameterError(f"unknown E0 method {method!r}; use 'max_derivative' or 'half_step'.")


def edge_polynomials(x, y, e0: float, *, pre=(-150.0, -30.0), post=(50.0, 300.0), pre_order: int = 1,
                     post_order: int = 2) -> dict:
    """Pre- and post-edge polynomial coefficients (highest power first, in E − e0).

    ``y`` is one spectrum or many as columns ``(n_energies, n_spectra)`` (one least-
    squares solve for all, e.g. every pixel of a XANES image stack). Energies ``x``
    must be finite and sorted.
    """
    fits = {}
    for label, rng, order in (("pre", pre, pre_order), ("post", post, post_order)):
        if not 0 <= order <= 3:
            raise InvalidParameterError(f"{label}-edge order must be 0–3, got {order}.")
        lo, hi = e0 + float(min(rng)), e0 + float(max(rng))
        sel = (x >= lo) & (x <= hi)
        if sel.sum() < order + 2:
            raise MissingDataError(f"the {label}-edge range {lo:g}–{hi:g} eV holds {int(sel.sum())} points; the data "
                                   f"span {x[0]:g}–{x[-1]:g} eV. Move it with {label}=(…) relative to E0.")
        fits[label] = np.polyfit(x[sel] - e0, y[sel], order)
    return fits


def normalize_xas(spectrum, *, e0: float | None = None, pre=(-150.0, -30.0), post=(50.0, 300.0),
                  pre_order: int = 1, post_order: int = 2):
    """Pre-edge subtraction and edge-step normalisation of one XAS spectrum.

    A polynomial of ``pre_order`` fitted over ``e0 + pre`` is subtracted everywhere and
    the result divided by the edge step, ``post(e0) − pre(e0)`` with ``post`` a
    polynomial of ``post_order`` fitted over ``e0 + post``. Normalised μ is ≈ 0 before
    the edge and ≈ 1 just after it.

    Parameters
    ----------
    e0 : float, optional
        Edge energy, eV (default :func:`find_e0`).
    pre, post : (float, float)
        Fit ranges relative to ``e0``, eV. Ranges reaching past the data are clipped; at
        least ``order + 2`` points must remain.
    pre_order, post_order : int
        Polynomial degrees (0–3).

    Returns
    -------
    (DataArray, dict)
        The normalised spectrum and ``{"e0_eV", "edge_step", "pre_coefficients",
        "post_coefficients"}`` (coefficients highest power first, in E − e0).
    """
    x, y = _xas_xy(spectrum)
    if e0 is None:
        e0 = find_e0(spectrum)
    e0 = float(e0)
    if not (x[0] < e0 < x[-1]):
        raise InvalidParameterError(f"E0 = {e0:g} eV is outside the data ({x[0]:g}–{x[-1]:g} eV).")
    fits = edge_polynomials(x, y, e0, pre=pre, post=post, pre_order=pre_order, post_order=post_order)
    step = float(np.polyval(fits["post"], 0.0) - np.polyval(fits["pre"], 0.0))
    # Relative to the signal level: rounding leaves ~1e-16 of a step on a flat line.
    if not np.isfinite(step) or abs(step) <= 1e-6 * max(float(np.max(np.abs(y))), 1e-300):
        raise MissingDataError("the edge step is zero: is there an absorption edge at E0?")
    xa = np.asarray(spectrum["energy_eV"].to_numpy(), float)
    norm = (spectrum.to_numpy().astype(float) - np.polyval(fits["pre"], xa - e0)) / step
    out = spectrum.copy(data=norm)
    out.attrs["units"] = "normalized mu(E)"
    info = {"e0_eV": e0, "edge_step": step, "pre_coefficients": fits["pre"], "post_coefficients": fits["post"]}
    out.attrs["battlab"] = dict(spectrum.attrs.get("battlab", {}),
                                xas_normalization={"e0_eV": e0, "pre": tuple(pre), "post": tuple(post),
                                                   "pre_order": pre_order, "post_order": post_order})
    return out, info


def _normalize_series(series, *, e0=None, **norm):
    _, rows, is_series = _rows(series)
    out, infos = [], []
    for r in rows:
        n, info = normalize_xas(r, e0=e0, **norm)
        out.append(n.to_numpy())
        infos.append(info)
    da = series.copy(data=np.stack(out) if is_series else out[0])
    da.attrs["units"] = "normalized mu(E)"
    return da, infos


def xas_series_table(series, *, method: str = "half_step", white_line_range=(-5.0, 30.0),
                     search=None, **norm) -> pd.DataFrame:
    """Edge position and white line of every spectrum of a series.

    Parameters
    ----------
    series : DataArray (time, energy_eV) or one spectrum
    method : {"half_step", "max_derivative"}
        E0 definition (see :func:`find_e0`). The half-step energy moves smoothly with
        the composition of a mixture; the derivative maximum of a mixture of two edges a
        few eV apart jumps between the two edges, so it is not the default here.
    white_line_range : (float, float)
        Range relative to each E0 (eV) searched for the white-line maximum.
    search : (float, float), optional
        Absolute E0 search range, eV.
    **norm
        ``pre``, ``post``, ``pre_order``, ``post_order`` of :func:`normalize_xas`.

    Returns
    -------
    DataFrame
        ``time``, ``elapsed_s``, ``spectrum``, ``e0_eV``, ``edge_shift_eV`` (vs the
        first spectrum), ``edge_step``, ``white_line_eV``, ``white_line_height``
        (normalised μ).
    """
    _, rows, is_series = _rows(series)
    recs = []
    for i, r in enumerate(rows):
        e0 = find_e0(r, method=method, search=search)
        n, info = normalize_xas(r, e0=e0, **norm)
        x, y = _xas_xy(n)
        sel = (x >= e0 + white_line_range[0]) & (x <= e0 + white_line_range[1])
        if sel.sum() == 0:
            raise MissingDataError("the white-line range holds no data; widen white_line_range.")
        k = np.flatnonzero(sel)[np.argmax(y[sel])]
        recs.append({"spectrum": i, "e0_eV": e0, "edge_step": info["edge_step"], "white_line_eV": float(x[k]),
                     "white_line_height": float(y[k])})
    out = pd.DataFrame(recs)
    out.insert(2, "edge_shift_eV", out["e0_eV"] - out["e0_eV"].iloc[0])
    if is_series:
        out.insert(0, "time", series["time"].to_numpy())
        if "elapsed_s" in series.coords:
            out.insert(1, "elapsed_s", series["elapsed_s"].to_numpy().astype(float))
    return out


def xas_lcf(series, references: dict, *, window=(-20.0, 50.0), e0: float | None = None, **norm):
    """Linear-combination fit of normalised XANES by normalised end-member references.

    Every spectrum and reference is normalised with one common E0 (so that a linear
    mixture of references stays exactly a linear mixture after normalisation), then
    fitted by non-negative least squares (:func:`battlab.series.linear_combination_fit`)
    over ``e0 + window``.

    Parameters
    ----------
    series : DataArray (time, energy_eV) or one spectrum
    references : dict name -> DataArray over energy_eV
        Raw or normalised μ(E) of the end members (they are normalised here).
    window : (float, float)
        Fit range relative to E0, eV.
    e0 : float, optional
        Common E0, eV (default: E0 of the first reference).
    **norm
        ``pre``, ``post``, ``pre_order``, ``post_order`` of :func:`normalize_xas`.

    Returns
    -------
    battlab.series.LinearCombinationFit
        ``weights`` has a column per reference, ``<name>_fraction`` (weights / their sum),
        ``sum`` (≈ 1 for a complete reference set) and ``r_factor``.
    """
    if not references:
        raise MissingDataError("give at least one reference spectrum for the linear-combination fit.")
    lo, hi = float(window[0]), float(window[1])
    if not hi > lo:
        raise InvalidParameterError(f"the LCF window must have low < high (relative to E0), got {window}.")
    names = list(references)
    if e0 is None:
        e0 = find_e0(references[names[0]])
    refs = {n: normalize_xas(r, e0=e0, **norm)[0] for n, r in references.items()}
    data, _ = _normalize_series(series, e0=e0, **norm)
    x = data["energy_eV"].to_numpy()
    if np.sum((x >= e0 + lo) & (x <= e0 + hi)) < len(names) + 2:
        raise MissingDataError(f"the LCF window {e0 + lo:g}–{e0 + hi:g} eV holds too few points of the data "
                               f"({x.min():g}–{x.max():g} eV).")
    fit = linear_combination_fit(data, refs, window=(e0 + lo, e0 + hi))
    fit.weights.attrs["battlab"] = {"analysis": "battlab.spectra.xas_lcf", "e0_eV": float(e0),
                                    "window_eV": (e0 + lo, e0 + hi)}
    return fit
