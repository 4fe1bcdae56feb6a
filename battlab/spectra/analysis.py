"""Spectrum analyses shared by Raman, FTIR, XPS, XAS and NMR: baselines, smoothing,
normalisation, multi-component fits and band tracking over an operando series.

Every function takes one spectrum (a DataArray over a technique axis, see
:data:`battlab.spectra.io.AXES`) and, where it makes sense, a ``(time, axis)`` series,
processed spectrum by spectrum. Peak shapes, polynomial/SNIP/ALS baselines and the
window-tracking loop are those of :mod:`battlab.peaks` (shared with diffraction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab import peaks as _pk
from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.series import curve_axis

__all__ = [
    "BASELINE_METHODS",
    "SpectrumFit",
    "baseline",
    "fit_spectrum",
    "normalize",
    "smooth",
    "subtract_baseline",
    "track_bands",
]

BASELINE_METHODS = ("als", "polynomial", "snip", "shirley", "tougaard", "linear", "none")

#: axis name -> short units label for messages and column names
_UNITS = {"wavenumber_cm1": "cm⁻¹", "binding_energy_eV": "eV", "energy_eV": "eV", "shift_ppm": "ppm",
          "two_theta_deg": "°", "x": ""}


# --------------------------------------------------------------------------- helpers


def spectrum_xy(spectrum, *, min_points: int = 5):
    """Axis name, axis values and intensities of one spectrum (checked).

    Raises :class:`~battlab.errors.MissingDataError` when fewer than ``min_points``
    finite points remain (empty or all-NaN data).
    """
    if not hasattr(spectrum, "dims"):
        raise InvalidParameterError("expected a spectrum DataArray (see battlab.spectra.make_spectrum).")
    axis = curve_axis(spectrum)
    if spectrum.ndim != 1:
        raise InvalidParameterError(f"expected one spectrum, got dims {spectrum.dims}; select one time first.")
    x = np.asarray(spectrum[axis].to_numpy(), float)
    y = np.asarray(spectrum.to_numpy(), float)
    n_good = int(np.sum(np.isfinite(x) & np.isfinite(y)))
    if n_good < min_points:
        raise MissingDataError(f"the spectrum has {n_good} finite points; at least {min_points} are needed.")
    return axis, x, y


def _rows(data):
    """(axis, list of 1-D spectra, is_series) for a spectrum or a (time, axis) series."""
    if not hasattr(data, "dims"):
        raise InvalidParameterError("expected a spectrum DataArray or a (time, axis) series "
                                    "(see battlab.spectra.make_spectrum / stack_spectra).")
    axis = curve_axis(data)
    if "time" in data.dims:
        if data.sizes["time"] == 0:
            raise MissingDataError("the series holds no spectra.")
        data = data.transpose("time", axis)
        return axis, [data.isel(time=i) for i in range(data.sizes["time"])], True
    return axis, [data], False


def _fill_nan(x, y):
    """Interpolate over isolated NaNs so filters and baselines that need a full grid run."""
    good = np.isfinite(y)
    if good.all():
        return y
    return np.interp(x, x[good], y[good])


def _window_mask(x, window, *, what: str = "window", units: str = "", min_points: int = 1):
    if window is None:
        return np.ones(x.size, bool)
    lo, hi = _pk.check_window(window, what=what)
    sel = (x >= lo) & (x <= hi)
    if sel.sum() < min_points:
        raise MissingDataError(f"{what} {lo:g}–{hi:g} {units} holds {int(sel.sum())} points of data spanning "
                               f"{np.nanmin(x):g}–{np.nanmax(x):g} {units}; move or widen it.")
    return sel


def _apply(data, func, *, name: str, options: dict):
    """Apply ``func(x, y) -> y'`` to each spectrum; same shape and coordinates as ``data``."""
    _, rows, series = _rows(data)
    out = []
    for r in rows:
        checkpoint()  # an app stops here when its user has already moved on
        out.append(func(*spectrum_xy(r)[1:]))
    res = data.copy(data=np.stack(out) if series else out[0])
    res.attrs["battlab"] = dict(data.attrs.get("battlab", {}), **{name: options})
    return res


# --------------------------------------------------------------------------- baselines


def baseline_xy(x, y, *, method: str = "als", **options):
    """Baseline of one curve (arrays), by one of :data:`BASELINE_METHODS`.

    Options per method (x units are the spectrum's axis units):

    * ``als``: ``lam`` (1e5), ``p`` (0.01), ``n_iter`` (10);
    * ``polynomial``: ``order`` (3), ``n_iter`` (30), ``anchor_windows`` (list of (lo, hi)
      background-only ranges: then a plain fit to them);
    * ``snip``: ``half_width`` in x units (default 1/20 of the range), ``lls`` (True);
    * ``shirley``: ``n_iter`` (50), ``tol`` (1e-6), ``end_points`` (5);
    * ``tougaard``: ``B`` (2866 eV²), ``C`` (1643 eV²), ``end_points`` (5);
    * ``linear``: the straight line through the means of ``end_points`` (5) points at each
      end, or through ``anchor_windows``;
    * ``none``: zeros.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    order = np.argsort(x)
    xs, ys = x[order], _fill_nan(x[order], y[order])
    base = _baseline_sorted(xs, ys, method, options)
    out = np.empty_like(base)
    out[order] = base
    return out


def _baseline_sorted(x, y, method, options):
    opts = dict(options)
    if method == "als":
        return _pk.background_als(y, lam=opts.get("lam", 1e5), p=opts.get("p", 0.01), n_iter=opts.get("n_iter", 10))
    if method == "polynomial":
        mask = None
        if opts.get("anchor_windows"):
            mask = np.zeros(x.size, bool)
            for w in opts["anchor_windows"]:
                mask |= _window_mask(x, w, what="anchor window")
        return _pk.background_polynomial(x, y, order=opts.get("order", 3), n_iter=opts.get("n_iter", 30), mask=mask)
    if method == "snip":
        step = float(np.median(np.diff(x)))
        half = opts.get("half_width", np.ptp(x) / 20)
        return _pk.background_snip(y, half_width=max(1, round(half / step)), lls=opts.get("lls", True))
    if method == "shirley":
        from battlab.spectra.xps import shirley_background

        return shirley_background(x, y, n_iter=opts.get("n_iter", 50), tol=opts.get("tol", 1e-6),
                                  end_points=opts.get("end_points", 5))
    if method == "tougaard":
        from battlab.spectra.xps import tougaard_background

        return tougaard_background(x, y, B=opts.get("B", 2866.0), C=opts.get("C", 1643.0),
                                   end_points=opts.get("end_points", 5))
    if method == "linear":
        if opts.get("anchor_windows"):
            return _pk.background_polynomial(x, y, order=1, n_iter=0, mask=np.logical_or.reduce(
                [_window_mask(x, w, what="anchor window") for w in opts["anchor_windows"]]))
        k = int(max(1, min(opts.get("end_points", 5), x.size // 4 or 1)))
        x0, x1 = x[:k].mean(), x[-k:].mean()
        y0, y1 = y[:k].mean(), y[-k:].mean()
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if method == "none":
        return np.zeros_like(y)
    raise InvalidParameterError(f"unknown baseline method {method!r}; choose one of {list(BASELINE_METHODS)}.")


def baseline(spectrum, *, method: str = "als", **options):
    """Baseline of a spectrum or of each spectrum of a series (same shape).

    Parameters
    ----------
    spectrum : DataArray
        One spectrum or a ``(time, axis)`` series.
    method : {"als", "polynomial", "snip", "shirley", "tougaard", "linear", "none"}
        ``shirley``/``tougaard`` are the XPS inelastic backgrounds; see
        :func:`baseline_xy` for every method's options (in axis units).

    Returns
    -------
    DataArray
        The baseline, in the intensity units of the input.
    """
    out = _apply(spectrum, lambda x, y: baseline_xy(x, y, method=method, **options), name="baseline",
                 options={"method": method, **options})
    out.name = "baseline"
    return out


def subtract_baseline(spectrum, *, method: str = "als", **options):
    """Spectrum (or series) minus :func:`baseline` with the same options."""
    out = _apply(spectrum, lambda x, y: y - baseline_xy(x, y, method=method, **options), name="baseline",
                 options={"method": method, **options})
    return out


# --------------------------------------------------------------------------- smoothing, normalisation


def smooth(spectrum, *, window_points: int = 11, order: int = 3):
    """Savitzky–Golay smoothing (preserves band positions and heights better than a moving mean).

    Parameters
    ----------
    window_points : int
        Odd filter length in points (made odd if even); must exceed ``order``.
    order : int
        Local polynomial degree.
    """
    from scipy.signal import savgol_filter

    window_points = int(window_points)
    if window_points % 2 == 0:
        window_points += 1
    if order < 0 or window_points <= order:
        raise InvalidParameterError(f"smoothing needs window_points > order ≥ 0, got {window_points} and {order}.")

    def run(x, y):
        if y.size < window_points:
            raise MissingDataError(f"{y.size} points are fewer than the smoothing window ({window_points}).")
        return savgol_filter(_fill_nan(x, y), window_points, order)

    return _apply(spectrum, run, name="smoothing", options={"window_points": window_points, "order": order})


def normalize(spectrum, *, method: str = "max", window=None):
    """Scale a spectrum (or each spectrum of a series) for comparison.

    Parameters
    ----------
    method : {"max", "area", "band", "snv", "edge"}
        ``max``: divide by the largest value (in ``window`` if given); ``area``: by the
        integral over ``window`` (axis units × intensity); ``band``: by the largest value in
        ``window`` (required: e.g. an internal-standard band); ``snv``: standard normal
        variate, (y − mean)/std; ``edge``: XAS pre/post-edge normalisation
        (:func:`battlab.spectra.xas.normalize_xas`).
    window : (float, float), optional
        Axis range for ``max``/``area``/``band``/``snv``.
    """
    if method == "edge":
        from battlab.spectra.xas import normalize_xas

        _, rows, series = _rows(spectrum)
        normed = [normalize_xas(r)[0].to_numpy() for r in rows]
        out = spectrum.copy(data=np.stack(normed) if series else normed[0])
        out.attrs["battlab"] = dict(spectrum.attrs.get("battlab", {}), normalization={"method": "edge"})
        return out
    if method not in ("max", "area", "band", "snv"):
        raise InvalidParameterError(f"unknown normalisation {method!r}; use max, area, band, snv or edge.")
    if method == "band" and window is None:
        raise InvalidParameterError("band normalisation needs window=(low, high) around the reference band.")
    units = _UNITS.get(curve_axis(spectrum), "")

    def run(x, y):
        sel = _window_mask(x, window, what="normalisation window", units=units, min_points=2) & np.isfinite(y)
        if sel.sum() < 2:
            raise MissingDataError("the normalisation window holds no finite data.")
        if method in ("max", "band"):
            scale = float(np.max(y[sel]))
        elif method == "area":
            order = np.argsort(x[sel])
            scale = float(np.trapezoid(y[sel][order], x[sel][order]))
        else:
            mu, sd = float(np.mean(y[sel])), float(np.std(y[sel]))
            if sd == 0:
                raise InvalidParameterError("SNV normalisation of a constant spectrum (zero spread).")
            return (y - mu) / sd
        if not np.isfinite(scale) or scale == 0:
            raise InvalidParameterError(f"cannot normalise by {method}: the reference value is {scale}.")
        return y / scale

    out = _apply(spectrum, run, name="normalization", options={"method": method, "window": window})
    out.attrs["units"] = "normalized"
    return out


# --------------------------------------------------------------------------- component fits


def _components(components):
    """Normalise ``components`` to a list of dicts with name, center and optional keys."""
    if components is None or len(components) == 0:
        raise MissingDataError("give at least one component (a centre or a dict with 'center').")
    out = []
    for k, c in enumerate(components):
        if isinstance(c, dict):
            if "center" not in c:
                raise InvalidParameterError(f"component {k + 1} has no 'center': {c!r}.")
            d = dict(c)
        else:
            d = {"center": c}
        try:
            d["center"] = float(d["center"])
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"component {k + 1}: centre {d['center']!r} is not a number.") from exc
        if not np.isfinite(d["center"]):
            raise InvalidParameterError(f"component {k + 1}: centre must be finite.")
        d.setdefault("name", f"peak_{k + 1}")
        out.append(d)
    names = [d["name"] for d in out]
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"component names must be unique, got {names}.")
    return out


@dataclass
class SpectrumFit:
    """Result of :func:`fit_spectrum`.

    Attributes
    ----------
    table : DataFrame
        One row per component: ``name``, ``center`` (main line, axis units),
        ``center_err``, ``fwhm``, ``fwhm_err``, ``eta``, ``area`` (including a doublet
        partner), ``area_err``, ``height`` (main line), ``fraction`` (of the total fitted
        area), and ``splitting``/``ratio`` for doublets (NaN for singlets).
    peak_fit : battlab.peaks.PeakFit
        The underlying least-squares fit (on baseline-subtracted data).
    x, y : ndarray
        Axis values and raw intensities in the fit window.
    baseline : ndarray
        The baseline subtracted before fitting (zeros for ``baseline="none"``).
    axis : str
        Axis name.
    """

    table: pd.DataFrame
    peak_fit: object
    x: np.ndarray
    y: np.ndarray
    baseline: np.ndarray
    axis: str
    options: dict = field(default_factory=dict)

    @property
    def r_squared(self) -> float:
        return self.peak_fit.r_squared

    @property
    def residual(self):
        return self.peak_fit.residual

    def evaluate(self, x=None, *, components: bool = False, baseline: bool = True):
        """Fitted model at ``x`` (default: the fit's points).

        With ``components`` a dict name -> curve (peaks only, each with its doublet
        partner); otherwise the total, plus the baseline (interpolated, and the fitted
        local polynomial) when ``baseline`` is true.
        """
        xe = self.x if x is None else np.asarray(x, float)
        if components:
            curves = self.peak_fit.evaluate(xe, background=False, components=True)
            return dict(zip(self.table["name"], curves, strict=True))
        total = self.peak_fit.evaluate(xe, background=baseline)
        if baseline:
            order = np.argsort(self.x)
            total = total + np.interp(xe, self.x[order], self.baseline[order])
        return total


def fit_spectrum(spectrum, components, *, model: str = "pseudo_voigt", window=None, background_order: int = 1,
                 shared_fwhm: bool = False, baseline: str = "none", baseline_options: dict | None = None,
                 fwhm=None, center_tolerance=None, eta: float = 0.5, max_nfev: int = 400) -> SpectrumFit:
    """Fit several components (bands, core-level species, resonances) to one spectrum.

    Parameters
    ----------
    spectrum : DataArray
        One spectrum.
    components : sequence of float or of dict
        Starting centres (axis units), or dicts with ``center`` and optional ``name``,
        ``center_tolerance`` (± axis units the centre may move), ``fwhm`` (starting
        width, axis units) and ``doublet`` ``{"splitting", "ratio"}`` (a spin–orbit
        partner at ``center + splitting`` with ``ratio`` × the area, same width).
    model : {"pseudo_voigt", "gaussian", "lorentzian"}
    window : (float, float), optional
        Axis range to fit (default: the whole spectrum).
    background_order : int
        Degree of a polynomial background fitted with the peaks (−1 = none; use −1 or 0
        after a Shirley/Tougaard baseline).
    shared_fwhm : bool
        One FWHM for all components.
    baseline : str
        A :func:`baseline` method applied to the window before fitting ("none" = only the
        fitted polynomial).
    baseline_options : dict, optional
        Options of that baseline method.
    fwhm : float, optional
        Default starting FWHM (axis units); default 1/20 of the window.
    center_tolerance : float, optional
        Default ± range of each centre (axis units); default the window.
    eta : float
        Starting Lorentzian fraction of the pseudo-Voigt.

    Returns
    -------
    SpectrumFit
    """
    axis, x, y = spectrum_xy(spectrum)
    units = _UNITS.get(axis, "")
    comps = _components(components)
    sel = _window_mask(x, window, what="fit window", units=units, min_points=1) & np.isfinite(y) & np.isfinite(x)
    n_min = 4 * len(comps) + background_order + 1
    if sel.sum() < max(n_min, 5):
        raise MissingDataError(f"{int(sel.sum())} points in the fit window are too few for {len(comps)} "
                               f"component(s); widen the window.")
    order = np.argsort(x[sel])
    xs, ys = x[sel][order], y[sel][order]
    lo_x, hi_x = float(xs[0]), float(xs[-1])
    base = baseline_xy(xs, ys, method=baseline, **(baseline_options or {}))
    span = hi_x - lo_x
    bounds, widths, doublets = [], [], []
    for c in comps:
        tol = c.get("center_tolerance", center_tolerance)
        if c["center"] < lo_x or c["center"] > hi_x:
            raise InvalidParameterError(f"component {c['name']!r} at {c['center']:g} {units} lies outside the fit "
                                        f"range {lo_x:g}–{hi_x:g} {units}.")
        if tol is None:
            bounds.append((lo_x, hi_x))
        else:
            bounds.append((max(lo_x, c["center"] - float(tol)), min(hi_x, c["center"] + float(tol))))
        widths.append(float(c.get("fwhm", fwhm if fwhm is not None else span / 20)))
        doublets.append(c.get("doublet"))
    fit = _pk.fit_peaks(xs, ys - base, [c["center"] for c in comps], model=model, fwhm=widths, eta=eta,
                        background_order=background_order, center_bounds=bounds,
                        doublet=doublets if any(doublets) else None, shared_fwhm=shared_fwhm, max_nfev=max_nfev)
    pk = fit.peaks
    ratio = np.array([float(d["ratio"]) if d else 0.0 for d in doublets])
    area = pk["area"].to_numpy() * (1 + ratio)
    total = area.sum()
    table = pd.DataFrame({
        "name": [c["name"] for c in comps],
        "center": pk["center"], "center_err": pk["center_err"],
        "fwhm": pk["fwhm"], "fwhm_err": pk["fwhm_err"], "eta": pk["eta"],
        "area": area, "area_err": pk["area_err"].to_numpy() * (1 + ratio),
        "height": pk["height"],
        "fraction": area / total if total > 0 else np.nan,
        "splitting": [float(d["splitting"]) if d and "splitting" in d else np.nan for d in doublets],
        "ratio": [float(d["ratio"]) if d else np.nan for d in doublets],
    })
    return SpectrumFit(table=table, peak_fit=fit, x=xs, y=ys, baseline=base, axis=axis,
                       options={"model": model, "window": window, "background_order": background_order,
                                "shared_fwhm": shared_fwhm, "baseline": baseline,
                                "baseline_options": baseline_options or {}})


# --------------------------------------------------------------------------- tracking


def track_bands(series, windows, *, model: str = "pseudo_voigt", baseline: str = "none",
                baseline_options: dict | None = None, background_order: int = 1,
                min_snr: float = 3.0) -> pd.DataFrame:
    """Fit one band per window in every spectrum of a series (or in one spectrum).

    Parameters
    ----------
    series : DataArray
        ``(time, axis)`` series or one spectrum.
    windows : dict name -> (low, high), or a technique name
        Axis units; one band plus a local polynomial background per window. A technique
        name ("ftir", "raman", "nmr") takes that preset's windows
        (:data:`battlab.spectra.presets.PRESETS`).
    model : {"pseudo_voigt", "gaussian", "lorentzian"}
    baseline : str
        A :func:`baseline` method applied to each whole spectrum first ("none": only the
        local polynomial of ``background_order`` in each window).
    min_snr : float
        A band below this height/noise, with an area not determined to better than a
        third, or at a window edge counts as absent: ``center``/``fwhm`` are NaN.

    Returns
    -------
    DataFrame
        One row per spectrum and band: ``time``, ``elapsed_s``, ``spectrum``, ``band``,
        ``center``, ``center_err``, ``fwhm``, ``fwhm_err``, ``eta``, ``area``,
        ``area_err``, ``height``, ``snr``, ``r_squared``, ``present`` (axis units).
    """
    if isinstance(windows, str):
        from battlab.spectra.presets import preset

        windows = preset(windows).get("windows")
        if not windows:
            raise MissingDataError("that technique preset has no band windows; give windows={name: (low, high)}.")
    if not hasattr(series, "dims"):
        raise InvalidParameterError("expected a spectrum DataArray or a (time, axis) series.")
    axis = curve_axis(series)
    units = _UNITS.get(axis, "")
    if "time" not in series.dims:
        # One spectrum: keep its own timestamp when it was selected from a series.
        series = series.expand_dims("time") if "time" in series.coords else \
            series.expand_dims(time=[np.datetime64("1970-01-01T00:00:00", "ns")])
    if series.sizes["time"] == 0:
        raise MissingDataError("the series holds no spectra.")
    _pk.parse_windows(windows, units=units)
    if baseline != "none":
        series = subtract_baseline(series, method=baseline, **(baseline_options or {}))
    data = series.transpose("time", axis)
    x = np.asarray(data[axis].to_numpy(), float)
    y = data.to_numpy().astype(float)
    if not np.isfinite(y).any():
        raise MissingDataError("the series holds no finite intensities.")
    tracked = _pk.track_windows(x, y, windows, min_snr=min_snr, model=model, background_order=background_order,
                                units=f" {units}")
    idx = tracked.pop("curve").to_numpy()
    times = data["time"].to_numpy()
    elapsed = data["elapsed_s"].to_numpy() if "elapsed_s" in data.coords and data["elapsed_s"].dims == ("time",) \
        else (times - times[0]) / np.timedelta64(1, "s")
    tracked = tracked.rename(columns={"peak": "band"})
    tracked.insert(0, "time", times[idx])
    tracked.insert(1, "elapsed_s", np.asarray(elapsed, float)[idx])
    tracked.insert(2, "spectrum", idx)
    tracked.attrs["battlab"] = {"analysis": "battlab.spectra.track_bands", "axis": axis, "units": units,
                                "windows": {n: (lo, hi) for n, lo, hi in _pk.parse_windows(windows)},
                                "model": model, "baseline": baseline, "min_snr": min_snr}
    return tracked
