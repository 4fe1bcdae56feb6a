"""Statistics across techniques: correlation with confidence intervals, lag correlation,
PCA of combined features and outlier (rare-event) flags.

The inputs are tidy tables: one row per observation (a time point, a cycle, a cell or
a region) and one column per feature, e.g. the output of
:func:`battlab.correlate.timeline.on_common_times` or
:func:`battlab.correlate.timeline.per_cycle`. Rows with a missing value are left out
pair by pair (correlation) or row by row (PCA, outliers), and the count used is
always reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["CombinedPCA", "LagCorrelation", "combined_pca", "correlation_table", "flag_outliers",
           "lag_correlation"]

METHODS = ("pearson", "spearman")
OUTLIER_METHODS = ("robust_z", "mahalanobis")


def _numeric_columns(df: pd.DataFrame, columns, *, minimum: int) -> list[str]:
    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    if columns is None:
        columns = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
                   and not pd.api.types.is_bool_dtype(df[c])]
    else:
        columns = list(columns)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise MissingDataError(f"the table has no column {', '.join(map(repr, missing))}; "
                                   f"it has {', '.join(map(str, df.columns))}.")
        wrong = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]
        if wrong:
            raise InvalidParameterError(f"columns {', '.join(map(repr, wrong))} are not numeric; "
                                        "choose numeric feature columns.")
    if len(columns) < minimum:
        raise MissingDataError(f"at least {minimum} numeric columns are needed, got {len(columns)} "
                               f"({', '.join(map(str, columns)) or 'none'}).")
    return columns


def _check_confidence(confidence):
    if not (0.0 < float(confidence) < 1.0):
        raise InvalidParameterError(f"confidence must be between 0 and 1 (e.g. 0.95), not {confidence!r}.")
    return float(confidence)


# --------------------------------------------------------------------------- correlation


def _pair_stats(x, y, method, confidence):
    """r, its CI and p for one pair of finite vectors."""
    from scipy import stats as st

    n = len(x)
    if method == "spearman":
        x, y = st.rankdata(x), st.rankdata(y)
    if n < 3 or np.std(x) == 0 or np.std(y) == 0:
        return n, np.nan, np.nan, np.nan, np.nan
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    # Two-sided p from t = r·√((n−2)/(1−r²)) with n−2 degrees of freedom (exact for
    # Pearson under bivariate normality; the usual large-sample test for Spearman).
    if abs(r) >= 1.0:
        p = 0.0
    else:
        t = r * np.sqrt((n - 2) / (1.0 - r * r))
        p = float(2.0 * st.t.sf(abs(t), n - 2))
    if n < 4:
        return n, r, np.nan, np.nan, p
    # Fisher z. Standard error 1/√(n−3) for Pearson; Bonett & Wright (2000) widen it to
    # √((1 + r²/2)/(n−3)) for Spearman's rank correlation.
    se = 1.0 / np.sqrt(n - 3) if method == "pearson" else np.sqrt((1.0 + r * r / 2.0) / (n - 3))
    z = np.arctanh(np.clip(r, -0.999999999, 0.999999999))
    half = st.norm.ppf(0.5 + confidence / 2.0) * se
    return n, r, float(np.tanh(z - half)), float(np.tanh(z + half)), p


def correlation_table(df: pd.DataFrame, *, columns=None, method=METHODS, confidence: float = 0.95,
                      min_n: int = 4) -> pd.DataFrame:
    """Pairwise correlation coefficients with confidence intervals and p-values.

    Parameters
    ----------
    df : DataFrame
        One row per observation, one column per feature.
    columns : sequence of str, optional
        Features to correlate (default: every numeric column).
    method : str or sequence of {"pearson", "spearman"}
        Coefficient(s) to compute; each pair gets one row per method.
    confidence : float
        Confidence level of the interval (0.95 → 95 %).
    min_n : int
        Pairs with fewer complete observations get NaN for r, the interval and p.

    Returns
    -------
    DataFrame
        Tidy: ``x``, ``y``, ``method``, ``n`` (complete pairs used), ``r``, ``ci_low``,
        ``ci_high``, ``p_value``, ``ci_method``. Pearson intervals use Fisher's z with
        standard error 1/√(n−3); Spearman intervals use Fisher's z with the Bonett–Wright
        standard error √((1 + r²/2)/(n−3)). p-values are two-sided, from Student's t
        with n−2 degrees of freedom. ``attrs["battlab"]`` records the confidence level.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200)
    >>> table = correlation_table(pd.DataFrame({"a": x, "b": x + rng.normal(size=200)}))
    >>> table[["x", "y", "method"]].values.tolist()
    [['a', 'b', 'pearson'], ['a', 'b', 'spearman']]
    """
    confidence = _check_confidence(confidence)
    methods = (method,) if isinstance(method, str) else tuple(method)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InvalidParameterError(f"method must be one or more of {METHODS}, not {method!r}.")
    if int(min_n) < 3:
        raise InvalidParameterError("min_n must be at least 3 (a correlation of two points is always ±1).")
    columns = _numeric_columns(df, columns, minimum=2)
    values = {c: df[c].to_numpy(dtype=float) for c in columns}
    rows = []
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            ok = np.isfinite(values[a]) & np.isfinite(values[b])
            for m in methods:
                n, r, lo, hi, p = _pair_stats(values[a][ok], values[b][ok], m, confidence)
                if n < min_n:
                    r = lo = hi = p = np.nan
                rows.append({"x": a, "y": b, "method": m, "n": int(n), "r": r, "ci_low": lo, "ci_high": hi,
                             "p_value": p,
                             "ci_method": "Fisher z" if m == "pearson" else "Fisher z, Bonett-Wright SE"})
    out = pd.DataFrame(rows, columns=["x", "y", "method", "n", "r", "ci_low", "ci_high", "p_value", "ci_method"])
    out.attrs["battlab"] = {"confidence": confidence, "min_n": int(min_n)}
    return out


# --------------------------------------------------------------------------- lag


@dataclass
class LagCorrelation:
    """Cross-correlation of two signals on one time grid as a function of lag.

    Attributes
    ----------
    lag_samples : int
        Lag of the largest correlation: ``b[i]`` follows ``a[i - lag_samples]``
        (positive: ``b`` is late).
    lag_s : float
        The same lag in seconds (``lag_samples · sample_spacing_s``). Subtract it from
        ``b``'s times to put ``b`` on ``a``'s clock.
    r : float
        Pearson r at that lag (signed, even when ``absolute`` picked it).
    table : DataFrame
        ``lag_samples``, ``lag_s``, ``r``, ``n`` for every lag searched.
    """

    lag_samples: int
    lag_s: float
    r: float
    table: pd.DataFrame


def _lagged_sums(u, v, max_lag):
    """Σᵢ u[i]·v[i + k] for k = −max_lag … max_lag, by FFT (O(n log n))."""
    n = u.size
    size = 1 << int(np.ceil(np.log2(2 * n)))
    full = np.fft.irfft(np.conj(np.fft.rfft(u, size)) * np.fft.rfft(v, size), size)
    # full[k] holds lag k ≥ 0 and full[size − k] lag −k.
    return np.r_[full[size - max_lag:], full[: max_lag + 1]] if max_lag else full[:1]


def _overlap_correlations(a, b, max_lag):
    """Pearson r of a[i] with b[i + k] over each lag's common finite samples, and their count."""
    ma, mb = np.isfinite(a).astype(float), np.isfinite(b).astype(float)
    # Centring on the global means first keeps the sums' cancellation small.
    a0 = np.where(ma > 0, a - np.nanmean(a), 0.0)
    b0 = np.where(mb > 0, b - np.nanmean(b), 0.0)
    n = np.rint(_lagged_sums(ma, mb, max_lag))
    sa, sb = _lagged_sums(a0, mb, max_lag), _lagged_sums(ma, b0, max_lag)
    saa, sbb = _lagged_sums(a0 * a0, mb, max_lag), _lagged_sums(ma, b0 * b0, max_lag)
    sab = _lagged_sums(a0, b0, max_lag)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sab - sa * sb / n
        var_a, var_b = saa - sa * sa / n, sbb - sb * sb / n
        scale = np.sqrt(saa * sbb)
        tiny = 1e-10 * np.where(scale > 0, scale, 1.0)
        ok = (n >= 3) & (var_a > tiny) & (var_b > tiny)
        r = np.where(ok, cov / np.sqrt(np.where(ok, var_a * var_b, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0), n.astype(int)


def lag_correlation(a, b, *, max_lag: int | None = None, sample_spacing_s: float = 1.0,
                    absolute: bool = False, min_overlap: int = 10) -> LagCorrelation:
    """The lag at which two equally sampled signals correlate best.

    Used to estimate a clock offset between two techniques that watch the same event:
    resample both onto one time grid first (e.g. with
    :func:`battlab.correlate.timeline.on_common_times`), then pass the two columns.

    Parameters
    ----------
    a, b : array-like
        Signals of the same length on the same, evenly spaced time grid; NaNs are left
        out of each overlap.
    max_lag : int, optional
        Lags from ``-max_lag`` to ``+max_lag`` samples are searched (default: a quarter
        of the length, so every overlap keeps three quarters of the samples).
    sample_spacing_s : float
        Spacing of the grid in seconds; converts the lag to ``lag_s``.
    absolute : bool
        Pick the largest |r| instead of the largest r (for a signal that falls while the
        other rises).
    min_overlap : int
        Lags leaving fewer common finite samples are not considered.

    Returns
    -------
    LagCorrelation
        ``lag_samples`` (an integer: the correlation is evaluated at whole samples),
        ``lag_s``, ``r`` and the full ``table`` of r against lag. For each lag r is the
        Pearson coefficient of the overlapping parts only (each normalised by its own
        mean and spread), so a trend does not favour small lags. The sums over every
        overlap come from FFT cross-correlations, so long records (a day at 1 Hz) and
        wide searches cost O(n log n).
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if len(a) != len(b):
        raise InvalidParameterError(f"a ({len(a)} samples) and b ({len(b)}) must be on the same time grid; "
                                    "resample them to common times first.")
    if not (np.isfinite(sample_spacing_s) and sample_spacing_s > 0):
        raise InvalidParameterError(f"sample_spacing_s must be a positive number of seconds, not {sample_spacing_s!r}.")
    n = len(a)
    if max_lag is None:
        max_lag = n // 4
    max_lag = int(max_lag)
    if max_lag < 0 or max_lag >= n:
        raise InvalidParameterError(f"max_lag must be between 0 and {n - 1} samples, not {max_lag}.")
    lags = np.arange(-max_lag, max_lag + 1)
    rs, ns = _overlap_correlations(a, b, max_lag)
    valid = np.isfinite(rs) & (ns >= min_overlap)
    if not valid.any():
        raise MissingDataError(f"no lag within ±{max_lag} samples leaves {min_overlap} common finite samples "
                               "with varying values; check the signals overlap in time.")
    score = np.where(valid, np.abs(rs) if absolute else rs, -np.inf)
    best = int(np.argmax(score))
    table = pd.DataFrame({"lag_samples": lags, "lag_s": lags * float(sample_spacing_s), "r": rs, "n": ns})
    return LagCorrelation(lag_samples=int(lags[best]), lag_s=float(lags[best] * sample_spacing_s),
                          r=float(rs[best]), table=table)


# --------------------------------------------------------------------------- PCA


@dataclass
class CombinedPCA:
    """PCA of standardised features from several techniques.

    Attributes
    ----------
    scores : DataFrame
        ``pc1`` … per observation, indexed like the input rows that were complete.
    loadings : DataFrame
        One row per feature, ``pc1`` … columns: each component's unit weights on the
        standardised features.
    explained_variance_ratio : Series
        Share of the total (standardised) variance per component.
    feature_mean, feature_scale : Series
        The centring and scaling applied to each feature (scale 1 when not standardised).
    dropped_rows : list
        Index labels of rows left out for a missing value.
    """

    scores: pd.DataFrame
    loadings: pd.DataFrame
    explained_variance_ratio: pd.Series
    feature_mean: pd.Series
    feature_scale: pd.Series
    dropped_rows: list


def combined_pca(df: pd.DataFrame, columns=None, *, n_components: int = 3, standardize: bool = True) -> CombinedPCA:
    """Principal components of features measured by different techniques.

    Features in different units (V, Å, Ω, nm) are standardised (z-scores, ddof = 1)
    so each weighs the same; the decomposition itself is :func:`battlab.series.pca`.

    Parameters
    ----------
    df : DataFrame
        One row per observation (time point, cycle, cell), one column per feature.
    columns : sequence of str, optional
        At least three feature columns (default: every numeric column).
    n_components : int
        Components kept.
    standardize : bool
        Divide each centred feature by its standard deviation.

    Returns
    -------
    CombinedPCA
    """
    import xarray as xr

    from battlab.series import pca

    columns = _numeric_columns(df, columns, minimum=3)
    if int(n_components) < 1:
        raise InvalidParameterError("n_components must be at least 1.")
    data = df[columns].astype(float)
    complete = np.isfinite(data.to_numpy()).all(axis=1)
    dropped = list(df.index[~complete])
    data = data.loc[complete]
    if len(data) < 3:
        raise MissingDataError(f"PCA needs at least three rows with every feature present; {len(data)} are "
                               f"complete out of {len(df)}.")
    mean = data.mean()
    scale = data.std(ddof=1) if standardize else pd.Series(1.0, index=columns)
    constant = [c for c in columns if not scale[c] > 0]
    if constant:
        raise InvalidParameterError(f"features {', '.join(map(repr, constant))} do not vary; leave them out.")
    z = (data - mean) / scale
    series = xr.DataArray(z.to_numpy(), dims=("time", "feature"),
                          coords={"time": np.arange(len(z)), "feature": np.array(columns, dtype=object)})
    result = pca(series, n_components=min(int(n_components), len(columns)), center=False)
    names = [c for c in result.scores.columns if c.startswith("pc")]
    scores = pd.DataFrame(result.scores[names].to_numpy(), index=data.index, columns=names)
    loadings = pd.DataFrame(result.components[names].to_numpy(), index=pd.Index(columns, name="feature"),
                            columns=names)
    # The data are already centred, so the ratio over the total sum of squares is the
    # share of variance.
    ratio = pd.Series(np.asarray(result.explained_variance_ratio, dtype=float), index=names)
    return CombinedPCA(scores=scores, loadings=loadings, explained_variance_ratio=ratio, feature_mean=mean,
                       feature_scale=scale, dropped_rows=dropped)


# --------------------------------------------------------------------------- outliers


def _robust_z(x):
    """|x − median| / robust σ per column (MAD, or mean absolute deviation when MAD is 0)."""
    med = np.median(x, axis=0)
    dev = np.abs(x - med)
    sigma = 1.4826 * np.median(dev, axis=0)
    fallback = 1.2533 * dev.mean(axis=0)  # σ from the mean absolute deviation of a normal
    sigma = np.where(sigma > 0, sigma, fallback)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, dev / np.where(sigma > 0, sigma, 1.0), 0.0)
    return z


def _mahalanobis2(x, mu, cov):
    try:
        inv = np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        inv = None
    if inv is None or not np.isfinite(inv).all() or np.linalg.cond(cov) > 1e12:
        raise InvalidParameterError("the features are collinear (singular covariance); drop redundant columns "
                                    "or use method='robust_z'.")
    d = x - mu
    return np.einsum("ij,jk,ik->i", d, inv, d)


def _robust_mahalanobis2(x):
    """Squared distances from a robust (MCD-style) location and covariance.

    Start from the half of the rows closest to the coordinate-wise median (in robust
    z units), then apply concentration steps: refit mean and covariance on the h rows
    with the smallest distance until the subset stops changing; rescale the covariance
    for consistency at the normal and reweight with the 97.5 % χ² cut.
    """
    from scipy.stats import chi2

    n, p = x.shape
    h = max(p + 1, int(np.ceil(0.75 * n)))
    subset = np.argsort((_robust_z(x) ** 2).sum(axis=1))[:h]
    for _ in range(100):
        mu, cov = x[subset].mean(axis=0), np.cov(x[subset], rowvar=False).reshape(p, p)
        d2 = _mahalanobis2(x, mu, cov)
        new = np.sort(np.argsort(d2)[:h])
        if np.array_equal(new, np.sort(subset)):
            break
        subset = new
    cov *= np.median(d2) / chi2.ppf(0.5, p)
    d2 = _mahalanobis2(x, mu, cov)
    inliers = d2 <= chi2.ppf(0.975, p)
    if inliers.sum() > p + 1:
        mu, cov = x[inliers].mean(axis=0), np.cov(x[inliers], rowvar=False).reshape(p, p)
        # Consistency factor of a covariance from a 97.5 %-truncated normal sample.
        cov /= chi2.cdf(chi2.ppf(0.975, p), p + 2) / 0.975
        d2 = _mahalanobis2(x, mu, cov)
    return d2


def flag_outliers(df: pd.DataFrame, columns=None, *, method: str = "robust_z",
                  threshold: float | None = None) -> pd.DataFrame:
    """Flag rare events: observations far from the bulk of the data.

    Parameters
    ----------
    df : DataFrame
        One row per observation.
    columns : sequence of str, optional
        Features to test (default: every numeric column).
    method : {"robust_z", "mahalanobis"}
        ``"robust_z"``: per feature |x − median| / (1.4826·MAD) (the modified z-score
        of Iglewicz & Hoaglin); a row's score is its largest over the features.
        ``"mahalanobis"``: squared Mahalanobis distance from a robust location and
        covariance (MCD-style concentration steps, reweighted), which also catches
        rows whose features are each ordinary but whose combination is not.
    threshold : float, optional
        Score above which a row is flagged. Default 3.5 for ``robust_z``; the 99.9 %
        quantile of χ² with one degree of freedom per feature for ``mahalanobis``.

    Returns
    -------
    DataFrame
        Indexed like ``df``: ``score``, ``outlier`` (bool) and, for ``robust_z``,
        ``feature`` (the column with the largest score). Rows with a missing value get
        NaN score and are not flagged. ``attrs["battlab"]`` records method and threshold.
    """
    from scipy.stats import chi2

    if method not in OUTLIER_METHODS:
        raise InvalidParameterError(f"method must be one of {OUTLIER_METHODS}, not {method!r}.")
    columns = _numeric_columns(df, columns, minimum=1 if method == "robust_z" else 2)
    x = df[columns].to_numpy(dtype=float)
    complete = np.isfinite(x).all(axis=1)
    xc = x[complete]
    p = len(columns)
    if len(xc) < max(5, 2 * p + 1):
        raise MissingDataError(f"{len(xc)} complete rows are too few to tell outliers from the bulk; "
                               f"at least {max(5, 2 * p + 1)} are needed for {p} feature(s).")
    if threshold is None:
        threshold = 3.5 if method == "robust_z" else float(chi2.ppf(0.999, p))
    elif not (np.isfinite(threshold) and threshold > 0):
        raise InvalidParameterError(f"threshold must be a positive number, not {threshold!r}.")
    score = np.full(len(df), np.nan)
    out = pd.DataFrame(index=df.index)
    if method == "robust_z":
        z = _robust_z(xc)
        score[complete] = z.max(axis=1)
        feature = np.full(len(df), None, dtype=object)
        feature[complete] = np.asarray(columns, dtype=object)[z.argmax(axis=1)]
        out["score"] = score
        out["feature"] = feature
    else:
        score[complete] = _robust_mahalanobis2(xc)
        out["score"] = score
    out["outlier"] = np.where(np.isfinite(score), score > threshold, False).astype(bool)
    out.attrs["battlab"] = {"method": method, "threshold": float(threshold), "columns": columns}
    return out
