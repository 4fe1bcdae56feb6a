"""Baselines, peak shapes and multi-peak least-squares fits shared by every 1-D technique.

Diffraction (:mod:`battlab.diffraction`) and spectroscopy reuse these: nothing here
knows about 2θ, wavenumbers or binding energies, only ``x`` and ``y``.

Peak shapes are parametrised by integrated **area**, **center**, full width at half
maximum (**fwhm**) and, for the pseudo-Voigt, the Lorentzian fraction **eta**, so that
fitted numbers are directly the ones a paper reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = [
    "PEAK_MODELS",
    "PeakFit",
    "background_als",
    "background_polynomial",
    "background_snip",
    "find_peaks",
    "fit_peaks",
    "fit_windows",
    "parse_windows",
    "peaks_present",
    "track_windows",
    "gaussian",
    "lorentzian",
    "pseudo_voigt",
]

_A = 4.0 * np.log(2.0)
_KG = np.sqrt(_A / np.pi)
_KL = 2.0 / np.pi


def gaussian(x, area, center, fwhm):
    """Area-normalised Gaussian: ``area`` is the integral over x."""
    u = (np.asarray(x, float) - center) / fwhm
    return area * _KG / fwhm * np.exp(-_A * u * u)


def lorentzian(x, area, center, fwhm):
    """Area-normalised Lorentzian (Cauchy) profile."""
    u = (np.asarray(x, float) - center) / fwhm
    return area * _KL / fwhm / (1.0 + 4.0 * u * u)


def pseudo_voigt(x, area, center, fwhm, eta=0.5):
    """``eta`` · Lorentzian + (1 − ``eta``) · Gaussian with one shared FWHM and area."""
    return eta * lorentzian(x, area, center, fwhm) + (1.0 - eta) * gaussian(x, area, center, fwhm)


#: model name -> eta held fixed (None = eta is fitted)
PEAK_MODELS = {"gaussian": 0.0, "lorentzian": 1.0, "pseudo_voigt": None}


def _shape_and_grads(x, center, fwhm, eta):
    """Unit-area pseudo-Voigt and its derivatives wrt center, fwhm and eta (vectorised)."""
    u = (x - center) / fwhm
    g = _KG / fwhm * np.exp(-_A * u * u)
    den = 1.0 + 4.0 * u * u
    lo = _KL / fwhm / den
    f = eta * lo + (1 - eta) * g
    dg_dc = g * 2 * _A * u / fwhm
    dl_dc = lo * 8 * u / (fwhm * den)
    dg_dw = g * (2 * _A * u * u - 1) / fwhm
    dl_dw = lo * (8 * u * u / den - 1) / fwhm
    return f, eta * dl_dc + (1 - eta) * dg_dc, eta * dl_dw + (1 - eta) * dg_dw, lo - g


# --------------------------------------------------------------------------- backgrounds


def background_polynomial(x, y, *, order: int = 3, n_iter: int = 30, mask=None):
    """Polynomial baseline fitted iteratively below the data (peaks are clipped away).

    Parameters
    ----------
    x, y : array_like
    order : int
        Polynomial degree.
    n_iter : int
        Iterations of "fit, then replace points above the fit by the fit" (modified
        polyfit), which lets the polynomial settle under the peaks. 0 = plain fit.
    mask : array of bool, optional
        Points known to be background only; when given, a plain fit to them.

    Returns
    -------
    ndarray
        The baseline at every ``x``.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if order < 0 or order > 12:
        raise InvalidParameterError(f"polynomial order must be 0–12, got {order}.")
    xs = (x - x.mean()) / (np.ptp(x) or 1.0)  # scaled for a well-conditioned fit
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.sum() <= order:
            raise MissingDataError(f"only {int(mask.sum())} background points for a polynomial of order {order}.")
        return np.polyval(np.polyfit(xs[mask], y[mask], order), xs)
    work = y.copy()
    for _ in range(max(1, n_iter)):
        base = np.polyval(np.polyfit(xs, work, order), xs)
        work = np.minimum(work, base)
        if n_iter == 0:
            break
    return base


def background_snip(y, *, half_width: int = 40, lls: bool = True, decreasing: bool = True):
    """Statistics-sensitive non-linear iterative peak clipping (SNIP) baseline.

    Parameters
    ----------
    y : array_like
        Intensities on an evenly spaced axis.
    half_width : int
        Largest clipping half-window in points; about the full width of the broadest peak.
    lls : bool
        Clip in the log-log-sqrt domain, which compresses the dynamic range of counts.
    decreasing : bool
        Apply windows from large to small (smoother baseline under wide peaks).
    """
    y = np.asarray(y, float)
    if half_width < 1:
        raise InvalidParameterError("SNIP half_width must be at least 1 point.")
    offset = 0.0
    if lls:
        offset = min(0.0, float(np.nanmin(y)))
        v = np.log(np.log(np.sqrt(y - offset + 1.0) + 1.0) + 1.0)
    else:
        v = y.copy()
    n = v.size
    widths = range(min(half_width, n // 2 - 1), 0, -1) if decreasing else range(1, min(half_width, n // 2 - 1) + 1)
    for p in widths:
        mean = 0.5 * (v[:-2 * p] + v[2 * p:])
        v[p:n - p] = np.minimum(v[p:n - p], mean)
    if lls:
        v = (np.exp(np.exp(v) - 1.0) - 1.0) ** 2 - 1.0 + offset
    return v


def background_als(y, *, lam: float = 1e5, p: float = 0.01, n_iter: int = 10):
    """Asymmetric least squares baseline (Eilers & Boelens 2005).

    Parameters
    ----------
    lam : float
        Smoothness (larger = stiffer baseline), typically 1e2–1e9.
    p : float
        Weight of points above the baseline (0.001–0.05): small keeps it under peaks.
    n_iter : int
        Reweighting iterations.
    """
    from scipy.linalg import solveh_banded

    y = np.asarray(y, float)
    if not 0 < p < 1 or lam <= 0:
        raise InvalidParameterError("ALS needs lam > 0 and 0 < p < 1.")
    n = y.size
    # W + lam·DᵀD (D: second differences) is symmetric, positive definite and pentadiagonal,
    # so each reweighting is a banded Cholesky solve: O(n), about 30x faster than a sparse LU.
    dtd = np.zeros((3, n))  # upper banded form: row 2 the diagonal, rows 1 and 0 the super-diagonals
    if n >= 3:
        j = np.arange(n)
        # column j of D meets rows j (1), j-1 (-2) and j-2 (1) of the n-2 difference rows
        dtd[2] = (j <= n - 3) * 1.0 + ((j >= 1) & (j <= n - 2)) * 4.0 + (j >= 2) * 1.0
        dtd[1, 1:] = (j[:-1] <= n - 3) * -2.0 + (j[:-1] >= 1) * -2.0
        dtd[0, 2:] = 1.0
    penalty = lam * dtd
    wts = np.ones(n)
    z = y
    for _ in range(n_iter):
        banded = penalty.copy()
        banded[2] += wts
        z = solveh_banded(banded, wts * y, check_finite=False)
        wts = np.where(y > z, p, 1 - p)
    return np.asarray(z)


# --------------------------------------------------------------------------- peak search


def find_peaks(x, y, *, prominence: float | None = None, min_separation: float | None = None,
               max_peaks: int | None = None) -> pd.DataFrame:
    """Local maxima with their prominence and an estimated FWHM.

    Parameters
    ----------
    x, y : array_like
        Background-subtracted data work best.
    prominence : float, optional
        Minimum prominence; default 5 × a robust noise estimate.
    min_separation : float, optional
        Minimum distance between peaks in x units.
    max_peaks : int, optional
        Keep only the most prominent.

    Returns
    -------
    DataFrame
        ``center``, ``height``, ``prominence``, ``fwhm`` sorted by ``center``.
    """
    from scipy.signal import find_peaks as _fp
    from scipy.signal import peak_widths

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.size < 5:
        raise MissingDataError("a peak search needs at least 5 points.")
    step = float(np.median(np.abs(np.diff(x))))
    if prominence is None:
        noise = 1.4826 * np.median(np.abs(np.diff(y))) / np.sqrt(2)
        prominence = 5 * max(noise, 1e-12 * np.max(np.abs(y)))
    distance = max(1, round(min_separation / step)) if min_separation else None
    idx, props = _fp(y, prominence=prominence, distance=distance)
    widths = peak_widths(y, idx, rel_height=0.5)[0] * step if idx.size else np.array([])
    out = pd.DataFrame({"center": x[idx], "height": y[idx], "prominence": props["prominences"], "fwhm": widths})
    if max_peaks is not None and len(out) > max_peaks:
        out = out.nlargest(max_peaks, "prominence")
    return out.sort_values("center").reset_index(drop=True)


# --------------------------------------------------------------------------- fitting


@dataclass
class PeakFit:
    """Result of :func:`fit_peaks`.

    Attributes
    ----------
    peaks : DataFrame
        One row per peak: ``area``, ``center``, ``fwhm``, ``eta``, ``height`` and standard
        errors ``*_err`` (from the Jacobian; NaN when singular).
    background : ndarray
        Polynomial background coefficients (highest power first, in ``x - x_ref``).
    x, y, model : ndarray
        The fitted data and the model.
    """

    peaks: pd.DataFrame
    background: np.ndarray
    x: np.ndarray
    y: np.ndarray
    model: np.ndarray
    x_ref: float
    success: bool
    message: str
    doublet: dict | None = None
    options: dict = field(default_factory=dict)

    @property
    def residual(self):
        return self.y - self.model

    @property
    def r_squared(self) -> float:
        ss = np.sum((self.y - self.y.mean()) ** 2)
        return float(1 - np.sum(self.residual ** 2) / ss) if ss > 0 else np.nan

    def evaluate(self, x, *, background: bool = True, components: bool = False):
        """Model at new ``x`` (total, or a list of per-peak curves with ``components``)."""
        x = np.asarray(x, float)
        curves = []
        partners = _doublet_list(self.doublet, len(self.peaks))
        for row, dbl in zip(self.peaks.itertuples(), partners, strict=True):
            c = pseudo_voigt(x, row.area, row.center, row.fwhm, row.eta)
            if dbl:
                c2 = _doublet_center(row.center, dbl)
                c = c + dbl["ratio"] * pseudo_voigt(x, row.area, c2, row.fwhm, row.eta)
            curves.append(c)
        if components:
            return curves
        total = np.sum(curves, axis=0) if curves else np.zeros_like(x)
        if background:
            total = total + np.polyval(self.background, x - self.x_ref)
        return total


def _doublet_list(doublet, n_peaks):
    """One doublet description (dict) or None per peak from ``doublet`` as given to :func:`fit_peaks`."""
    if doublet is None or doublet is False:
        return [None] * n_peaks
    if isinstance(doublet, dict):
        items = [doublet] * n_peaks
    else:
        items = list(doublet)
        if len(items) != n_peaks:
            raise InvalidParameterError(f"{len(items)} doublet entries for {n_peaks} peak(s); give one per peak "
                                        "(None for a singlet).")
    out = []
    for d in items:
        if not d:
            out.append(None)
            continue
        if "splitting" not in d and not ("lambda1" in d and "lambda2" in d):
            raise InvalidParameterError("a doublet needs either 'splitting' (spin–orbit, x units) or "
                                        "'lambda1' and 'lambda2' (Kα1/Kα2, Å), plus 'ratio'.")
        ratio = float(d.get("ratio", np.nan))
        if not (np.isfinite(ratio) and ratio >= 0):
            raise InvalidParameterError(f"doublet area ratio must be a finite number ≥ 0, got {d.get('ratio')!r}.")
        if "splitting" in d and not np.isfinite(float(d["splitting"])):
            raise InvalidParameterError(f"doublet splitting must be finite, got {d['splitting']!r}.")
        out.append(d)
    return out


def _doublet_center(center, doublet):
    """Position of the second line of a doublet for a main-line position.

    With ``"splitting"`` (spin–orbit doublets, e.g. XPS 2p3/2 / 2p1/2) the partner is at
    ``center + splitting`` in x units; with ``"lambda1"``/``"lambda2"`` it is the Kα2
    line of the same d-spacing, both in degrees 2θ.
    """
    if "splitting" in doublet:
        return np.asarray(center, float) + float(doublet["splitting"])
    s = np.clip(doublet["lambda2"] / doublet["lambda1"] * np.sin(np.radians(center) / 2), -1, 1)
    return 2 * np.degrees(np.arcsin(s))


def _doublet_dcenter(center, doublet):
    if "splitting" in doublet:
        return np.ones_like(np.asarray(center, float))
    th1 = np.radians(center) / 2
    r = doublet["lambda2"] / doublet["lambda1"]
    th2 = np.arcsin(np.clip(r * np.sin(th1), -1, 1))
    return r * np.cos(th1) / np.cos(th2)


def fit_peaks(x, y, centers, *, model: str = "pseudo_voigt", fwhm=None, eta: float = 0.5,
              background_order: int = 1, center_tolerance: float | None = None,
              center_bounds=None, fwhm_bounds=None, doublet=None, weights=None,
              max_nfev: int = 200, shared_fwhm: bool = False) -> PeakFit:
    """Fit several peaks plus a polynomial background by bounded least squares.

    Parameters
    ----------
    x, y : array_like
        Data (usually a window around the peaks).
    centers : sequence of float or DataFrame
        Starting centres (a :func:`find_peaks` table also gives starting FWHMs).
    model : {"pseudo_voigt", "gaussian", "lorentzian"}
        Peak shape; eta is fitted (0–1) only for the pseudo-Voigt.
    fwhm : float or sequence, optional
        Starting FWHM(s); default from the table or 1/20 of the x range.
    eta : float
        Starting Lorentzian fraction (pseudo-Voigt).
    background_order : int
        Polynomial background degree fitted together with the peaks (-1 = none).
    center_tolerance : float, optional
        Each centre stays within ± this of its start (default: the data range).
    center_bounds : sequence of (float, float), optional
        Absolute (low, high) limits per centre; overrides ``center_tolerance``.
    fwhm_bounds : (float, float), optional
        Lower and upper FWHM limits (default: 2 × the point spacing to the x range).
    doublet : dict or sequence of (dict or None), optional
        ``{"lambda1", "lambda2", "ratio"}``: every peak gets a second line at the
        position of the same d-spacing for ``lambda2`` (x must be 2θ in degrees), with
        ``ratio`` × the area and the same shape — the Kα1/Kα2 doublet.
        ``{"splitting", "ratio"}``: a spin–orbit doublet, second line at
        ``center + splitting`` (x units, negative allowed) with ``ratio`` × the area and
        the same width and shape (e.g. XPS 2p: splitting ≈ 0.86 eV for P, ratio 0.5).
        A sequence gives one entry per peak (None = singlet), so singlets and doublets
        can be fitted together. Reported areas are those of the main line.
    weights : array_like, optional
        Per-point weights (1/σ).
    max_nfev : int
        Function evaluation budget of :func:`scipy.optimize.least_squares`.
    shared_fwhm : bool
        One FWHM for all peaks (a common constraint when overlapping components of one
        core level or band are resolved by position only).

    Returns
    -------
    PeakFit
    """
    from scipy.optimize import least_squares

    if model not in PEAK_MODELS:
        raise InvalidParameterError(f"unknown peak model {model!r}; choose one of {list(PEAK_MODELS)}.")
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    good = np.isfinite(x) & np.isfinite(y)
    x, y = x[good], y[good]
    if isinstance(centers, pd.DataFrame):
        table = centers
        centers = table["center"].to_numpy(float)
        if fwhm is None and "fwhm" in table:
            fwhm = table["fwhm"].to_numpy(float)
    centers = np.atleast_1d(np.asarray(centers, float))
    n_peaks = centers.size
    n_bg = background_order + 1
    if n_peaks == 0:
        raise MissingDataError("no peaks to fit: give at least one starting centre.")
    if x.size < 4 * n_peaks + n_bg:
        raise MissingDataError(f"{x.size} points are too few to fit {n_peaks} peak(s); widen the window.")
    span = float(np.ptp(x))
    step = float(np.median(np.abs(np.diff(np.sort(x)))))
    wlo, whi = fwhm_bounds if fwhm_bounds is not None else (2 * step, span)
    fw = np.broadcast_to(np.asarray(fwhm if fwhm is not None else span / 20, float), (n_peaks,)).copy()
    fw = np.clip(np.where(np.isfinite(fw) & (fw > 0), fw, span / 20), wlo * 1.0001, whi * 0.9999)
    free_eta = PEAK_MODELS[model] is None
    eta0 = eta if free_eta else PEAK_MODELS[model]
    tol = center_tolerance if center_tolerance is not None else span
    x_ref = float(np.mean(x))
    xr = x - x_ref
    wts = np.ones_like(y) if weights is None else np.asarray(weights, float)[good]

    # Starting areas from the height above the data minimum: area = h·fwhm·(shape factor).
    base0 = float(np.percentile(y, 5))
    heights = np.interp(centers, x, y) - base0
    shape = eta0 * _KL + (1 - eta0) * _KG
    area0 = np.maximum(heights, 1e-9 * max(1.0, np.abs(y).max())) * fw / shape
    partners = _doublet_list(doublet, n_peaks)
    ratio = np.array([d["ratio"] if d else 0.0 for d in partners], float)
    area0 = area0 / (1 + ratio)
    npp = 4 if free_eta else 3
    p0, lo, hi = [], [], []
    for k in range(n_peaks):
        p0 += [area0[k], centers[k], fw[k]]
        clo, chi = (centers[k] - tol, centers[k] + tol) if center_bounds is None else center_bounds[k]
        lo += [0.0, clo, wlo]
        hi += [np.inf, chi, whi]
        if free_eta:
            p0.append(eta0)
            lo.append(0.0)
            hi.append(1.0)
    bg0 = np.zeros(n_bg)
    if n_bg:
        bg0[-1] = base0
    p0 = np.concatenate([p0, bg0])
    lo = np.concatenate([lo, np.full(n_bg, -np.inf)])
    hi = np.concatenate([hi, np.full(n_bg, np.inf)])
    eps = 1e-9 * (np.abs(p0) + 1)
    p0 = np.where(np.isfinite(lo), np.maximum(p0, lo + eps), p0)
    p0 = np.where(np.isfinite(hi), np.minimum(p0, hi - eps), p0)
    vander = np.vander(xr, n_bg) if n_bg else np.zeros((x.size, 0))

    def unpack(p):
        pk = p[:npp * n_peaks].reshape(n_peaks, npp)
        etas = pk[:, 3] if free_eta else np.full(n_peaks, eta0)
        return pk[:, 0], pk[:, 1], pk[:, 2], etas, p[npp * n_peaks:]

    def evaluate(p, jac=False):
        area, cen, wid, et, bg = unpack(p)
        # Vectorised over peaks: arrays of shape (n_peaks, n_points).
        f, dc, dw, de = _shape_and_grads(x[None, :], cen[:, None], wid[:, None], et[:, None])
        if ratio.any():
            # Singlets get their own centre as a dummy partner with zero weight.
            c2 = np.array([_doublet_center(c, d) if d else c for c, d in zip(cen, partners, strict=True)])
            dd = np.array([_doublet_dcenter(c, d) if d else 0.0 for c, d in zip(cen, partners, strict=True)])
            f2, dc2, dw2, de2 = _shape_and_grads(x[None, :], c2[:, None], wid[:, None], et[:, None])
            r = ratio[:, None]
            f = f + r * f2
            dc = dc + r * dc2 * dd[:, None]
            dw = dw + r * dw2
            de = de + r * de2
        total = (area[:, None] * f).sum(axis=0) + vander @ bg
        if not jac:
            return total
        cols = np.empty((x.size, p.size))
        blk = cols[:, :npp * n_peaks].reshape(x.size, n_peaks, npp)
        blk[:, :, 0] = f.T
        blk[:, :, 1] = (area[:, None] * dc).T
        blk[:, :, 2] = (area[:, None] * dw).T
        if free_eta:
            blk[:, :, 3] = (area[:, None] * de).T
        cols[:, npp * n_peaks:] = vander
        return total, cols

    # Tied parameters: the optimiser sees only the free ones; ``tie`` maps every full
    # parameter to its free one (all FWHMs to the first peak's with shared_fwhm).
    tie = np.arange(p0.size)
    if shared_fwhm and n_peaks > 1:
        tie[[npp * k + 2 for k in range(1, n_peaks)]] = 2
    free = np.unique(tie)
    tie = np.searchsorted(free, tie)
    tmat = np.zeros((p0.size, free.size))
    tmat[np.arange(p0.size), tie] = 1.0

    res = least_squares(lambda q: wts * (evaluate(q[tie]) - y), p0[free],
                        jac=lambda q: wts[:, None] * (evaluate(q[tie], jac=True)[1] @ tmat),
                        bounds=(lo[free], hi[free]), x_scale="jac", max_nfev=max_nfev)
    full = res.x[tie]
    area, cen, wid, et, bg = unpack(full)
    errs = _standard_errors(res, x.size)[tie]
    err = errs[:npp * n_peaks].reshape(n_peaks, npp)
    peaks = pd.DataFrame({
        "area": area, "center": cen, "fwhm": wid, "eta": et,
        "height": area * (et * _KL + (1 - et) * _KG) / wid,
        "area_err": err[:, 0], "center_err": err[:, 1], "fwhm_err": err[:, 2],
        "eta_err": err[:, 3] if free_eta else np.zeros(n_peaks),
    })
    return PeakFit(peaks=peaks, background=np.asarray(bg), x=x, y=y, model=evaluate(full), x_ref=x_ref,
                   success=bool(res.success), message=str(res.message), doublet=doublet,
                   options={"model": model, "background_order": background_order, "shared_fwhm": shared_fwhm})


def _standard_errors(res, n_points):
    dof = max(1, n_points - res.x.size)
    s2 = 2 * res.cost / dof
    try:
        jtj = res.jac.T @ res.jac
        cov = np.linalg.pinv(jtj) * s2
        return np.sqrt(np.clip(np.diag(cov), 0, None))
    except (np.linalg.LinAlgError, ValueError):
        return np.full(res.x.size, np.nan)


# --------------------------------------------------------------------------- windows and tracking
#
# One peak per named window, fitted curve by curve over a series. Diffraction
# (battlab.diffraction.track_peaks) and spectroscopy (battlab.spectra.track_bands) both
# call these and only rename columns and add their technique's quantities.


def check_window(window, *, what: str = "window") -> tuple[float, float]:
    """``(low, high)`` as floats, or battlab's error when it is not two finite numbers with low < high."""
    try:
        lo, hi = float(window[0]), float(window[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise InvalidParameterError(f"{what} must be (low, high) numbers, got {window!r}.") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise InvalidParameterError(f"{what} must have low < high, got ({lo}, {hi}).")
    return lo, hi


def parse_windows(windows, *, units: str = "") -> list:
    """``[(name, low, high), ...]`` from a dict name -> (low, high) or a sequence of pairs."""
    items = list(windows.items()) if isinstance(windows, dict) else \
        [(f"peak_{k + 1}", w) for k, w in enumerate(windows or [])]
    out = [(str(name), *check_window(w, what=f"window {name!r}")) for name, w in items]
    if not out:
        raise MissingDataError(f"give at least one peak window (low, high){' in ' + units if units else ''}.")
    return out


def fit_windows(x, y, windows, *, model: str = "pseudo_voigt", background_order: int = 1, doublet=None,
                start=None, min_points: int = 8, units: str = "") -> tuple[pd.DataFrame, dict]:
    """Fit one peak plus a local polynomial background in each window of one curve.

    Parameters
    ----------
    x, y : array_like
        One curve.
    windows : dict name -> (low, high) or sequence of (low, high)
        In x units.
    model, background_order, doublet
        As in :func:`fit_peaks`.
    start : dict name -> (center, fwhm), optional
        Starting values, e.g. the previous curve's fit.
    min_points : int
        Fewer finite points in a window raise :class:`~battlab.errors.MissingDataError`.
    units : str
        x units for messages.

    Returns
    -------
    (DataFrame, dict)
        One row per window: ``peak``, ``center``, ``center_err``, ``fwhm``, ``fwhm_err``,
        ``eta``, ``area``, ``area_err``, ``height``, ``snr`` (height / residual scatter),
        ``r_squared``; and name -> :class:`PeakFit`.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    rows, fits = [], {}
    for name, lo, hi in parse_windows(windows, units=units):
        sel = (x >= lo) & (x <= hi) & np.isfinite(y) & np.isfinite(x)
        if sel.sum() < min_points:
            raise MissingDataError(f"peak window {name!r} ({lo:g}–{hi:g}{units}) holds {int(sel.sum())} points; "
                                   "widen it or check the range of the data.")
        xs, ys = x[sel], y[sel]
        order = np.argsort(xs)
        xs, ys = xs[order], ys[order]
        if start and name in start and np.all(np.isfinite(start[name])):
            c0, w0 = start[name]
            c0 = min(max(c0, lo), hi)
        else:
            # Highest point above the chord joining the window ends: robust to a sloping background.
            c0, w0 = xs[np.argmax(ys - np.linspace(ys[0], ys[-1], ys.size))], (hi - lo) / 8
        fit = fit_peaks(xs, ys, [c0], model=model, fwhm=w0, background_order=background_order,
                        center_bounds=[(lo, hi)], fwhm_bounds=(2 * float(np.median(np.diff(xs))), hi - lo),
                        doublet=doublet)
        pk = fit.peaks.iloc[0]
        noise = float(np.std(fit.residual)) if fit.residual.size > 1 else np.nan
        rows.append({"peak": name, "center": pk.center, "center_err": pk.center_err, "fwhm": pk.fwhm,
                     "fwhm_err": pk.fwhm_err, "eta": pk.eta, "area": pk.area, "area_err": pk.area_err,
                     "height": pk.height, "snr": pk.height / noise if noise > 0 else np.inf,
                     "r_squared": fit.r_squared})
        fits[name] = fit
    return pd.DataFrame(rows), fits


def peaks_present(table: pd.DataFrame, windows, *, min_snr: float = 3.0) -> pd.Series:
    """Which fitted window peaks are real (table from :func:`fit_windows`).

    A peak is real when it stands above the noise, its area is determined to better
    than a third, and it sits inside its window (a fit to pure noise runs to an edge or
    spreads over the whole window).
    """
    win = {n: (lo, hi) for n, lo, hi in parse_windows(windows)}
    lo = table["peak"].map(lambda n: win[n][0])
    hi = table["peak"].map(lambda n: win[n][1])
    inside = (table["center"] > lo + 0.5 * table["fwhm"]) & (table["center"] < hi - 0.5 * table["fwhm"])
    return (table["snr"] >= min_snr) & (table["area"] >= 3 * table["area_err"].fillna(np.inf)) & inside


#: Per-window result columns of fit_windows and track_windows, after ``peak``.
_WINDOW_COLUMNS = ("center", "center_err", "fwhm", "fwhm_err", "eta", "area", "area_err", "height", "snr",
                   "r_squared")


def track_windows(x, curves, windows, *, min_snr: float = 3.0, model: str = "pseudo_voigt",
                  background_order: int = 1, doublet=None, min_points: int = 8, units: str = "") -> pd.DataFrame:
    """:func:`fit_windows` on every curve (rows of ``curves``), all curves of a window at once.

    Parameters
    ----------
    x : array_like
        The common axis.
    curves : 2-D array_like
        One curve per row, in time order.
    windows : dict name -> (low, high)
    min_snr : float
        See :func:`peaks_present`; an absent peak has NaN ``center``, ``fwhm``, their
        errors and ``eta`` (its area is kept, near zero, for fraction plots).
    model, background_order, doublet, min_points, units
        As in :func:`fit_windows`.

    Returns
    -------
    DataFrame
        The :func:`fit_windows` columns plus ``curve`` (row index) and ``present``.

    Notes
    -----
    Each curve is started from its own highest point above the window's chord, so one
    poor fit cannot lead the next astray, and the curves whose window values are all
    finite are fitted together by a vectorised Levenberg–Marquardt solve (the same
    least-squares optimum as :func:`fit_peaks` reaches curve by curve). A curve with a
    missing value in a window is fitted on its own finite points.
    """
    x = np.asarray(x, float)
    curves = np.atleast_2d(np.asarray(curves, float))
    parsed = parse_windows(windows, units=units)
    n_curves = curves.shape[0]
    frames = []
    for order, (name, lo, hi) in enumerate(parsed):
        checkpoint()  # an app stops here when its user has already moved on
        sel = (x >= lo) & (x <= hi) & np.isfinite(x)
        sort = np.argsort(x[sel])
        xs, block = x[sel][sort], curves[:, sel][:, sort]
        complete = np.isfinite(block).all(axis=1)
        table = pd.DataFrame(index=np.arange(n_curves), columns=list(_WINDOW_COLUMNS), dtype=float)
        if complete.any():
            if xs.size < max(min_points, 4 + background_order + 1):
                raise MissingDataError(f"peak window {name!r} ({lo:g}–{hi:g}{units}) holds {xs.size} points; "
                                       "widen it or check the range of the data.")
            fitted = _fit_window_batch(xs, block[complete], lo, hi, model=model,
                                       background_order=background_order, doublet=doublet)
            table.loc[complete, list(fitted)] = np.column_stack(list(fitted.values()))
        for i in np.flatnonzero(~complete):
            one, _ = fit_windows(x, curves[i], {name: (lo, hi)}, model=model, background_order=background_order,
                                 doublet=doublet, min_points=min_points, units=units)
            table.loc[i, list(_WINDOW_COLUMNS)] = one.loc[0, list(_WINDOW_COLUMNS)].to_numpy(float)
        table.insert(0, "peak", name)
        table.insert(0, "curve", np.arange(n_curves))
        table["_order"] = order
        frames.append(table)
    out = pd.concat(frames, ignore_index=True).sort_values(["curve", "_order"], kind="stable")
    out = out.drop(columns="_order").reset_index(drop=True)
    out["present"] = peaks_present(out, windows, min_snr=min_snr)
    for col in ("center", "fwhm", "center_err", "fwhm_err", "eta"):
        out.loc[~out["present"], col] = np.nan
    return out


def _fit_window_batch(xs, curves, lo: float, hi: float, *, model: str, background_order: int, doublet,
                      max_iter: int = 200) -> dict:
    """One peak plus a polynomial background fitted to every row of ``curves`` at once.

    The same model, bounds and starting rule as :func:`fit_windows` for one curve, solved
    by a projected Levenberg–Marquardt iteration vectorised over the curves: a series of
    hundreds of patterns costs a few array operations per iteration instead of one
    :func:`scipy.optimize.least_squares` call per pattern, which is what makes a slider
    that re-tracks a whole operando series answer interactively. ``xs`` is sorted and
    every value of ``curves`` finite.

    Returns arrays over the curves: ``area``, ``center``, ``fwhm``, ``eta``, their
    ``*_err``, ``height``, ``snr`` and ``r_squared``.
    """
    if model not in PEAK_MODELS:
        raise InvalidParameterError(f"unknown peak model {model!r}; choose one of {list(PEAK_MODELS)}.")
    n_curves, n_points = curves.shape
    n_bg = background_order + 1
    free_eta = PEAK_MODELS[model] is None
    eta_fixed = 0.0 if free_eta else PEAK_MODELS[model]
    npp = 4 if free_eta else 3
    n_par = npp + n_bg
    partner = _doublet_list(doublet, 1)[0]
    ratio = float(partner["ratio"]) if partner else 0.0

    # Starting values and bounds exactly as fit_windows/fit_peaks choose them for one curve.
    wlo, whi = 2 * float(np.median(np.diff(xs))), hi - lo
    # Highest point above the chord joining the window ends, as fit_windows starts one curve.
    chord = curves - (curves[:, :1] + (curves[:, -1:] - curves[:, :1]) * np.linspace(0, 1, n_points))
    top = np.argmax(chord, axis=1)
    c0 = xs[top]
    w0 = np.clip(np.full(n_curves, (hi - lo) / 8), wlo * 1.0001, whi * 0.9999)
    eta0 = 0.5 if free_eta else eta_fixed
    base0 = np.percentile(curves, 5, axis=1)
    rows = np.arange(n_curves)
    heights = curves[rows, top] - base0
    shape0 = eta0 * _KL + (1 - eta0) * _KG
    area0 = np.maximum(heights, 1e-9 * np.maximum(1.0, np.abs(curves).max(axis=1))) * w0 / shape0 / (1 + ratio)
    p = np.zeros((n_curves, n_par))
    p[:, 0], p[:, 1], p[:, 2] = area0, c0, w0
    if free_eta:
        p[:, 3] = eta0
    if n_bg:
        p[:, -1] = base0
    low = np.full(n_par, -np.inf)
    high = np.full(n_par, np.inf)
    low[:3], high[:3] = (0.0, lo, wlo), (np.inf, hi, whi)
    if free_eta:
        low[3], high[3] = 0.0, 1.0
    eps = 1e-9 * (np.abs(p) + 1)
    p = np.where(np.isfinite(low), np.maximum(p, low + eps), p)
    p = np.where(np.isfinite(high), np.minimum(p, high - eps), p)
    vander = np.vander(xs - float(np.mean(xs)), n_bg) if n_bg else np.zeros((n_points, 0))

    def evaluate(q, jac=False):
        area, cen, wid = q[:, 0:1], q[:, 1:2], q[:, 2:3]
        et = q[:, 3:4] if free_eta else eta_fixed
        f, dc, dw, de = _shape_and_grads(xs[None, :], cen, wid, et)
        if ratio:
            c2 = _doublet_center(cen, partner)
            f2, dc2, dw2, de2 = _shape_and_grads(xs[None, :], c2, wid, et)
            f, dc = f + ratio * f2, dc + ratio * dc2 * _doublet_dcenter(cen, partner)
            dw, de = dw + ratio * dw2, de + ratio * de2
        total = area * f + q[:, npp:] @ vander.T
        if not jac:
            return total
        cols = np.empty((q.shape[0], n_points, n_par))
        cols[:, :, 0], cols[:, :, 1], cols[:, :, 2] = f, area * dc, area * dw
        if free_eta:
            cols[:, :, 3] = area * de
        cols[:, :, npp:] = vander
        return total, cols

    # Projected Levenberg–Marquardt with Marquardt's diagonal scaling (invariant to the very
    # different scales of areas, positions and widths). Converged curves are frozen.
    damping = np.full(n_curves, 1e-3)
    model_y, jac = evaluate(p, jac=True)
    resid = model_y - curves
    cost = 0.5 * np.einsum("ij,ij->i", resid, resid)
    active = np.ones(n_curves, bool)
    with np.errstate(invalid="ignore"):
        low_edge = np.where(np.isfinite(low), low + 1e-12 * (1 + np.abs(low)), -np.inf)
        high_edge = np.where(np.isfinite(high), high - 1e-12 * (1 + np.abs(high)), np.inf)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        J, r = jac[idx], resid[idx]
        jtj = np.einsum("mni,mnj->mij", J, J)
        grad = np.einsum("mni,mn->mi", J, r)
        # A parameter held at a bound by the gradient leaves the step (active set); clipping
        # its step instead would stall the others, e.g. a Lorentzian fraction pinned at 1.
        q = p[idx]
        pinned = ((q <= low_edge) & (grad > 0)) | ((q >= high_edge) & (grad < 0))
        keep = ~pinned
        jtj = jtj * keep[:, :, None] * keep[:, None, :]
        grad = grad * keep
        diag = np.einsum("mii->mi", jtj)
        diag = np.where(keep, np.maximum(diag, 1e-12 * diag.max(axis=1, keepdims=True) + 1e-300), 1.0)
        lhs = jtj + (damping[idx, None] * diag)[:, :, None] * np.eye(n_par) + (~keep)[:, :, None] * np.eye(n_par)
        step = np.linalg.solve(lhs, -grad[..., None])[..., 0]
        # Shorten a step that would leave the box to stop just inside it (keeps the step's
        # direction, so a parameter near its bound approaches it instead of zig-zagging);
        # when that would leave almost no step, clip instead.
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step > 0, (high - q) / step, np.where(step < 0, (low - q) / step, np.inf))
        frac = np.minimum(1.0, 0.995 * np.min(room, axis=1))
        trial = np.clip(q + np.where(frac >= 0.1, frac, 1.0)[:, None] * step, low, high)
        trial_y = evaluate(trial)
        trial_r = trial_y - curves[idx]
        trial_cost = 0.5 * np.einsum("ij,ij->i", trial_r, trial_r)
        better = np.isfinite(trial_cost) & (trial_cost < cost[idx])
        moved = np.abs(trial - q) <= 1e-10 * (1e-10 + np.abs(q))
        # Converged: a near Gauss–Newton step (light damping) that no longer lowers the cost;
        # a heavily damped step is short and can gain little far from the optimum.
        done = (better & (cost[idx] - trial_cost <= 1e-10 * cost[idx]) & (damping[idx] <= 1e-2)) \
            | moved.all(axis=1) | (damping[idx] > 1e12)
        good = idx[better]
        if good.size:
            p[good] = trial[better]
            cost[good] = trial_cost[better]
            new_y, new_jac = evaluate(p[good], jac=True)
            resid[good], jac[good] = new_y - curves[good], new_jac
        damping[idx] = np.where(better, np.maximum(damping[idx] / 3, 1e-12), damping[idx] * 4)
        active[idx[done]] = False

    dof = max(1, n_points - n_par)
    jtj = np.einsum("mni,mnj->mij", jac, jac)
    cov = np.linalg.pinv(jtj) * (2 * cost / dof)[:, None, None]
    err = np.sqrt(np.clip(np.einsum("mii->mi", cov), 0, None))
    eta = p[:, 3] if free_eta else np.full(n_curves, eta_fixed)
    height = p[:, 0] * (eta * _KL + (1 - eta) * _KG) / p[:, 2]
    noise = np.std(resid, axis=1)
    ss = np.sum((curves - curves.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, height / noise, np.inf)
        r_squared = np.where(ss > 0, 1 - 2 * cost / ss, np.nan)
    return {"center": p[:, 1], "center_err": err[:, 1], "fwhm": p[:, 2], "fwhm_err": err[:, 2], "eta": eta,
            "area": p[:, 0], "area_err": err[:, 0], "height": height, "snr": snr, "r_squared": r_squared}


def suggest_windows(x, y, *, n_peaks: int = 3, exclude=None, min_half_width: float = 0.0,
                    label: str = "{:.2f}", min_separation: float | None = None) -> dict:
    """Windows around the ``n_peaks`` most prominent peaks not inside ``exclude`` windows.

    Parameters
    ----------
    x, y : array_like
        Background-subtracted data work best.
    n_peaks : int
        Windows returned.
    exclude : dict of name -> (low, high), optional
        Existing windows; peaks inside them are skipped.
    min_half_width : float
        Each window is ± max(``min_half_width``, 2.5 × the estimated FWHM) around its peak.
    label : str
        Format of a window's name from its centre, e.g. ``"{:.2f}°"``.

    Returns
    -------
    dict of name -> (low, high)
    """
    found = find_peaks(x, y, max_peaks=max(20, n_peaks), min_separation=min_separation)
    taken = list((exclude or {}).values())
    found = found[[not any(min(w) <= c <= max(w) for w in taken) for c in found["center"]]]
    if found.empty:
        raise MissingDataError("no peaks found outside the existing windows; set a window by hand.")
    out = {}
    for r in found.nlargest(n_peaks, "prominence").sort_values("center").itertuples():
        half = max(min_half_width, 2.5 * r.fwhm)
        out[label.format(r.center)] = (round(float(r.center - half), 3), round(float(r.center + half), 3))
    return out
