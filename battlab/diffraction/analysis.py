"""Pattern analysis: backgrounds, peak fits with d-spacings, tracking over an operando series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab import peaks as _pk
from battlab.diffraction.bragg import d_spacing_A, fit_lattice, strain
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = [
    "background",
    "doublet_for",
    "find_pattern_peaks",
    "fit_pattern",
    "lattice_series",
    "phase_fractions",
    "subtract_background",
    "suggest_windows",
    "track_peaks",
]


def _xy(pattern):
    if "two_theta_deg" not in getattr(pattern, "dims", ()):
        raise InvalidParameterError("expected a pattern DataArray over two_theta_deg (see battlab.diffraction.io).")
    return np.asarray(pattern["two_theta_deg"].to_numpy(), float), np.asarray(pattern.to_numpy(), float)


def background(pattern, *, method: str = "snip", order: int = 3, half_width_deg: float = 1.5,
               lam: float = 1e6, p: float = 0.01):
    """Background of one pattern (same shape), by ``"snip"``, ``"polynomial"`` or ``"als"``.

    ``half_width_deg`` is the SNIP clipping half-window in degrees (about the broadest
    peak's full width); ``order`` the polynomial degree; ``lam``/``p`` the ALS settings.
    """
    x, y = _xy(pattern)
    y = np.where(np.isfinite(y), y, np.nanmedian(y))
    if method == "snip":
        step = float(np.median(np.diff(x)))
        return _pk.background_snip(y, half_width=max(1, round(half_width_deg / step)))
    if method == "polynomial":
        return _pk.background_polynomial(x, y, order=order)
    if method == "als":
        return _pk.background_als(y, lam=lam, p=p)
    if method == "none":
        return np.zeros_like(y)
    raise InvalidParameterError(f"unknown background method {method!r}; use snip, polynomial, als or none.")


def subtract_background(pattern, **options):
    """Pattern (or series, pattern by pattern) minus :func:`background`; options as there."""
    if "time" in pattern.dims:
        out = pattern.copy(data=np.stack([pattern.isel(time=i).to_numpy() - background(pattern.isel(time=i), **options)
                                          for i in range(pattern.sizes["time"])]))
    else:
        out = pattern.copy(data=pattern.to_numpy() - background(pattern, **options))
    out.attrs["battlab"] = dict(pattern.attrs.get("battlab", {}), background=options or {"method": "snip"})
    return out


def doublet_for(pattern, doublet):
    """Resolve ``doublet`` ("auto", True, False/None or a dict) for a pattern's wavelengths."""
    if doublet in (None, False):
        return None
    if isinstance(doublet, dict):
        return doublet
    lam1, lam2 = pattern.attrs.get("wavelength_A"), pattern.attrs.get("wavelength2_A")
    ratio = pattern.attrs.get("ka2_ratio")
    if doublet == "auto":
        return {"lambda1": lam1, "lambda2": lam2, "ratio": ratio} if lam1 and lam2 and ratio else None
    if not (lam1 and lam2):
        raise MissingDataError("a Kα1/Kα2 doublet fit needs both wavelengths; give anode='Cu' when reading.")
    return {"lambda1": lam1, "lambda2": lam2, "ratio": ratio or 0.5}


def find_pattern_peaks(pattern, *, prominence=None, min_separation_deg: float = 0.1, max_peaks: int | None = 30,
                       background_method: str = "snip"):
    """Peak search on the background-subtracted pattern; adds ``d_A`` when λ is known."""
    x, _ = _xy(pattern)
    y = subtract_background(pattern, method=background_method).to_numpy()
    found = _pk.find_peaks(x, y, prominence=prominence, min_separation=min_separation_deg, max_peaks=max_peaks)
    found = found.rename(columns={"center": "two_theta_deg", "fwhm": "fwhm_deg"})
    lam = pattern.attrs.get("wavelength_A")
    found["d_A"] = d_spacing_A(found["two_theta_deg"], lam) if lam else np.nan
    return found


def suggest_windows(pattern, *, n_peaks: int = 3, exclude=None) -> dict:
    """Windows around the ``n_peaks`` most prominent peaks not inside ``exclude`` windows.

    Each is ± max(0.3°, 2.5 × the estimated FWHM) and named by its 2θ, e.g. ``"29.04°"``.
    """
    x, _ = _xy(pattern)
    y = subtract_background(pattern, method="snip").to_numpy()
    return _pk.suggest_windows(x, y, n_peaks=n_peaks, exclude=exclude, min_half_width=0.3, label="{:.2f}°",
                               min_separation=0.1)


def _windows(windows):
    return _pk.parse_windows(windows, units="degrees 2θ")


_RENAME = {"center": "two_theta_deg", "center_err": "two_theta_err_deg", "fwhm": "fwhm_deg",
           "fwhm_err": "fwhm_err_deg"}


def _with_d(table, lam):
    """Generic window-fit columns renamed to 2θ names, with d-spacings after the position."""
    table = table.rename(columns=_RENAME)
    table.insert(table.columns.get_loc("two_theta_err_deg") + 1, "d_A",
                 d_spacing_A(table["two_theta_deg"], lam) if lam else np.nan)
    return table


def fit_pattern(pattern, windows, *, model: str = "pseudo_voigt", background_order: int = 1,
                doublet="auto", start=None) -> tuple[pd.DataFrame, dict]:
    """Fit one peak in each 2θ window of one pattern.

    Parameters
    ----------
    pattern : DataArray over ``two_theta_deg``
    windows : dict name -> (low, high) or sequence of (low, high)
        Degrees 2θ; one peak is fitted per window with a polynomial background.
    model : {"pseudo_voigt", "gaussian", "lorentzian"}
    background_order : int
        Local background polynomial degree in each window.
    doublet : "auto", bool or dict
        Kα1/Kα2 doublet: ``"auto"`` uses it when the pattern states both wavelengths
        and a non-zero Kα2 ratio. Positions reported are Kα1.
    start : dict, optional
        name -> (center, fwhm) starting values (e.g. the previous pattern's fit).

    Returns
    -------
    (DataFrame, dict)
        One row per window (``peak``, ``two_theta_deg``, ``d_A``, ``fwhm_deg``, ``eta``,
        ``area``, ``height``, errors, ``r_squared``) and name -> :class:`~battlab.peaks.PeakFit`.
    """
    x, y = _xy(pattern)
    _windows(windows)
    table, fits = _pk.fit_windows(x, y, windows, model=model, background_order=background_order,
                                  doublet=doublet_for(pattern, doublet), start=start, units="°")
    return _with_d(table, pattern.attrs.get("wavelength_A")), fits


def track_peaks(series, windows, *, model: str = "pseudo_voigt", background_order: int = 1, doublet="auto",
                reference=None, min_snr: float = 3.0, echem: pd.DataFrame | None = None,
                clock_offset_s: float = 0.0, time_basis: str = "auto") -> pd.DataFrame:
    """Fit every pattern of a series and tabulate each peak over time.

    Parameters
    ----------
    series : DataArray (time, two_theta_deg)
    windows : dict name -> (low, high)
        One peak per window, as in :func:`fit_pattern`.
    reference : dict name -> d0_A, or "first"
        Reference d-spacings for the strain column (default: each peak's first fitted d).
    min_snr : float
        Below this height/noise (or with an area not determined to better than 1/3, or
        a centre at the window edge) a peak counts as absent: its position, d, FWHM and strain
        are NaN (the area is kept, near zero, for phase-fraction plots).
    echem : DataFrame, optional
        Cycling table of the cell: each row then also gets the cell's state at the
        pattern's instant (:data:`battlab.series.ECHEM_COLUMNS`: voltage, current, cycle,
        charge, ``capacity_mAh`` counted from the first pattern, ``soc``), joined by
        :func:`battlab.series.curve_echem`.
    clock_offset_s, time_basis
        How the pattern clock meets the cycler's (see :func:`battlab.series.curve_echem`):
        by default UTC times against the cycler's ``unix_time_s`` when it has them,
        else ``elapsed_s + clock_offset_s`` against ``test_time_s``.

    Returns
    -------
    DataFrame
        Tidy: one row per pattern and peak, with ``time``, ``elapsed_s``,
        ``two_theta_deg``, ``d_A``, ``strain``, ``fwhm_deg``, ``area``, ``present``
        (and the electrochemistry columns when ``echem`` is given).
    """
    if "time" not in series.dims:
        series = series.expand_dims(time=[np.datetime64("1970-01-01T00:00:00", "ns")])
    names = [w[0] for w in _windows(windows)]
    x, _ = _xy(series.isel(time=0))
    times = series["time"].to_numpy()
    elapsed = series["elapsed_s"].to_numpy() if "elapsed_s" in series.coords else \
        (times - times[0]) / np.timedelta64(1, "s")
    # One doublet for the whole series (the wavelengths are series attributes).
    tracked = _pk.track_windows(x, series.transpose("time", "two_theta_deg").to_numpy(), windows,
                                min_snr=min_snr, model=model, background_order=background_order,
                                doublet=doublet_for(series, doublet), units="°")
    idx = tracked.pop("curve").to_numpy()
    out = _with_d(tracked, series.attrs.get("wavelength_A"))
    out.insert(0, "time", times[idx])
    out.insert(1, "elapsed_s", elapsed[idx].astype(float))
    out.insert(2, "pattern", idx)
    ref = reference if isinstance(reference, dict) else {}
    d0 = {}
    for name in names:
        sub = out.loc[(out["peak"] == name) & out["present"], "d_A"]
        d0[name] = ref.get(name, sub.iloc[0] if len(sub) else np.nan)
    out["d0_A"] = out["peak"].map(d0)
    out["strain"] = strain(out["d_A"], out["d0_A"])
    meta = {"analysis": "battlab.diffraction.track_peaks", "windows": {
        n: (lo, hi) for n, lo, hi in _windows(windows)}, "model": model, "min_snr": min_snr}
    if echem is not None:
        from battlab.series import add_echem, curve_echem

        per_pattern = curve_echem(series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis,
                                  label="patterns")
        out = add_echem(out, per_pattern, index="pattern")
        meta["alignment"] = per_pattern.attrs["battlab"]["alignment"]
    out.attrs["battlab"] = meta
    return out


def _with_pattern_echem(table, tracked):
    """Per-pattern table plus the electrochemistry ``tracked`` carries (if any)."""
    from battlab.series import add_echem, echem_of

    per_pattern = echem_of(tracked, index="pattern")
    return table if per_pattern is None else add_echem(table, per_pattern, index="pattern")


def phase_fractions(tracked: pd.DataFrame, peaks=None, *, scale=None) -> pd.DataFrame:
    """Phase fractions from integrated intensities of one peak per phase.

    ``fraction_i = s_i A_i / Σ s_j A_j`` with optional scale factors ``s`` (relative
    intensity corrections, 1 by default). A two-phase reaction shows as intensity moving
    between peaks at fixed positions; a solid solution as one peak whose position shifts.

    Returns
    -------
    DataFrame
        One row per pattern: ``time``, ``elapsed_s`` and ``fraction_<peak>`` columns (and
        the electrochemistry columns when ``tracked`` has them).
    """
    names = list(peaks) if peaks is not None else list(dict.fromkeys(tracked["peak"]))
    # An absent peak (below min_snr) counts as zero intensity, not as a fit to the noise.
    area = tracked["area"].where(tracked["present"], 0.0) if "present" in tracked else tracked["area"]
    wide = tracked.assign(area=area).pivot_table(index=["pattern", "time", "elapsed_s"], columns="peak",
                                                 values="area")[names]
    s = pd.Series({n: (scale or {}).get(n, 1.0) for n in names})
    w = wide.clip(lower=0) * s
    frac = w.div(w.sum(axis=1).replace(0, np.nan), axis=0)
    frac.columns = [f"fraction_{c}" for c in frac.columns]
    return _with_pattern_echem(frac.reset_index(), tracked)


def lattice_series(tracked: pd.DataFrame, hkl: dict, *, system: str) -> pd.DataFrame:
    """Lattice parameters per pattern from tracked, indexed peaks.

    Parameters
    ----------
    tracked : DataFrame from :func:`track_peaks` (needs ``d_A``)
    hkl : dict peak name -> (h, k, l)
    system : {"cubic", "tetragonal", "hexagonal", "orthorhombic"}

    Returns
    -------
    DataFrame
        One row per pattern with a lattice fit (and the electrochemistry columns when
        ``tracked`` has them).
    """
    missing = [n for n in hkl if n not in set(tracked["peak"])]
    if missing:
        raise MissingDataError(f"no tracked peak named {missing[0]!r}; tracked peaks: {sorted(set(tracked['peak']))}.")
    rows = []
    for (pattern, time, elapsed), sub in tracked[tracked["peak"].isin(list(hkl))].groupby(
            ["pattern", "time", "elapsed_s"], sort=True):
        sub = sub[np.isfinite(sub["d_A"])]
        try:
            fit = fit_lattice([hkl[n] for n in sub["peak"]], sub["d_A"].to_numpy(), system=system)
        except MissingDataError:
            continue
        row = {"pattern": pattern, "time": time, "elapsed_s": elapsed, "n_peaks": len(sub)}
        row.update(fit.to_frame().iloc[0].to_dict())
        rows.append(row)
    if not rows:
        raise MissingDataError("no pattern had enough indexed peaks for a lattice fit.")
    return _with_pattern_echem(pd.DataFrame(rows), tracked)
