"""Known-answer tests for battlab.correlate.stats: correlation intervals, lag recovery,
combined PCA and outlier flags, each on generated data with a known truth."""

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from battlab.correlate.stats import combined_pca, correlation_table, flag_outliers, lag_correlation
from battlab.errors import InvalidParameterError, MissingDataError


def _bivariate(rng, rho, n):
    cov = [[1.0, rho], [rho, 1.0]]
    xy = rng.multivariate_normal([0.0, 0.0], cov, size=n)
    return pd.DataFrame({"a": xy[:, 0], "b": 3.0 * xy[:, 1] + 10.0})


# Coverage: 200 seeded draws of n = 40 from a bivariate normal with ρ = 0.6. A 95 %
# interval must contain the true coefficient in at least 90 % of the draws (binomial
# sd of the coverage is 1.5 %, so 90 % is > 3 sd below nominal). The true Spearman
# coefficient of a bivariate normal is (6/π)·arcsin(ρ/2).
def test_confidence_intervals_cover_the_true_coefficient():
    rho = 0.6
    truth = {"pearson": rho, "spearman": 6.0 / np.pi * np.arcsin(rho / 2.0)}
    hits = {"pearson": 0, "spearman": 0}
    rng = np.random.default_rng(11)
    n_draws = 200
    for _ in range(n_draws):
        table = correlation_table(_bivariate(rng, rho, 40))
        for _, row in table.iterrows():
            hits[row["method"]] += row["ci_low"] <= truth[row["method"]] <= row["ci_high"]
    for method, count in hits.items():
        assert count / n_draws >= 0.90, (method, count)
        assert count / n_draws <= 0.99, (method, count)  # not absurdly wide either


def test_coefficients_and_p_values_match_scipy():
    rng = np.random.default_rng(3)
    df = _bivariate(rng, 0.3, 60)
    df["c"] = rng.normal(size=60)
    table = correlation_table(df, columns=["a", "b", "c"]).set_index(["x", "y", "method"])
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        r, p = st.pearsonr(df[x], df[y])
        assert table.loc[(x, y, "pearson"), "r"] == pytest.approx(r, abs=1e-12)
        assert table.loc[(x, y, "pearson"), "p_value"] == pytest.approx(p, rel=1e-8)
        rs, ps = st.spearmanr(df[x], df[y])
        assert table.loc[(x, y, "spearman"), "r"] == pytest.approx(rs, abs=1e-12)
        assert table.loc[(x, y, "spearman"), "p_value"] == pytest.approx(ps, rel=1e-8)
    # Fisher z interval of Pearson's r, written out.
    n, r = 60, table.loc[("a", "b", "pearson"), "r"]
    half = st.norm.ppf(0.975) / np.sqrt(n - 3)
    assert table.loc[("a", "b", "pearson"), "ci_low"] == pytest.approx(np.tanh(np.arctanh(r) - half), abs=1e-12)
    assert table.loc[("a", "b", "pearson"), "ci_high"] == pytest.approx(np.tanh(np.arctanh(r) + half), abs=1e-12)
    # Bonett–Wright intervals are wider than Fisher's for the same r and n.
    sp = table.loc[("a", "b", "spearman")]
    assert sp["ci_high"] - sp["ci_low"] > 0


def test_missing_values_are_left_out_pair_by_pair():
    df = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) ** 2, "c": np.r_[np.nan, np.arange(19.0)]})
    table = correlation_table(df, method="spearman").set_index(["x", "y"])
    assert table.loc[("a", "b"), "n"] == 20
    assert table.loc[("a", "c"), "n"] == 19
    assert table.loc[("a", "b"), "r"] == pytest.approx(1.0)
    too_few = correlation_table(df.iloc[:3], method="pearson", min_n=4)
    assert too_few["r"].isna().all()


def test_correlation_table_rejects_bad_input():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 1, 4, 3], "s": list("wxyz")})
    with pytest.raises(InvalidParameterError, match="method"):
        correlation_table(df, columns=["a", "b"], method="kendall")
    with pytest.raises(MissingDataError, match="no column"):
        correlation_table(df, columns=["a", "zz"])
    with pytest.raises(InvalidParameterError, match="not numeric"):
        correlation_table(df, columns=["a", "s"])
    with pytest.raises(MissingDataError, match="at least 2"):
        correlation_table(df[["a", "s"]])
    with pytest.raises(InvalidParameterError, match="confidence"):
        correlation_table(df, columns=["a", "b"], confidence=95)


# Lag: b is a copy of a delayed by a whole number of samples, plus noise; the lag must
# come back exactly (in samples) and in seconds from the sample spacing.
@pytest.mark.parametrize("shift", [7, -12, 0])
def test_lag_is_recovered_exactly(shift):
    rng = np.random.default_rng(5)
    n = 600
    base = np.convolve(rng.normal(size=n + 200), np.ones(15) / 15, mode="same")  # smooth random signal
    a = base[100:100 + n]
    b = base[100 - shift:100 - shift + n] + rng.normal(0, 0.02, n)  # b[i] = a[i - shift]
    res = lag_correlation(a, b, max_lag=40, sample_spacing_s=0.5)
    assert res.lag_samples == shift
    assert res.lag_s == pytest.approx(0.5 * shift)
    assert res.r > 0.9
    assert len(res.table) == 81
    inverted = lag_correlation(a, -b, max_lag=40, sample_spacing_s=0.5, absolute=True)
    assert inverted.lag_samples == shift and inverted.r < -0.9


def test_lag_table_equals_direct_overlap_correlations_with_gaps():
    # The FFT sums must give, lag by lag, the Pearson r of the overlapping finite
    # samples (to 1e-10) and their count (exactly), also with NaN gaps and an offset mean.
    rng = np.random.default_rng(4)
    n = 400
    a = np.cumsum(rng.normal(size=n)) + 50.0
    b = 2.0 * np.r_[a[5:], rng.normal(size=5)] + rng.normal(0, 0.5, n)
    a[[10, 11, 300]] = np.nan
    b[[3, 70, 200]] = np.nan
    res = lag_correlation(a, b, max_lag=50)
    for k, r, count in res.table[["lag_samples", "r", "n"]].itertuples(index=False):
        x, y = (a[: n - k], b[k:]) if k >= 0 else (a[-k:], b[: n + k])
        ok = np.isfinite(x) & np.isfinite(y)
        assert count == ok.sum()
        assert r == pytest.approx(np.corrcoef(x[ok], y[ok])[0, 1], abs=1e-10)
    assert res.lag_samples == -5  # b[i] follows a[i + 5]: b leads by 5 samples


def test_lag_of_a_day_at_one_hertz_is_fast_and_exact():
    rng = np.random.default_rng(6)
    x = np.sin(np.arange(86_400) / 500.0) + rng.normal(0, 0.1, 86_400)
    y = np.r_[np.zeros(37), x[:-37]]  # the second clock runs 37 s late
    started = time.perf_counter()
    res = lag_correlation(x, y)  # ±21 600 lags
    assert time.perf_counter() - started < 10.0  # ~0.3 s; a lag-by-lag loop takes minutes
    assert res.lag_samples == 37 and res.lag_s == 37.0


def test_lag_correlation_checks_its_input():
    with pytest.raises(InvalidParameterError, match="same time grid"):
        lag_correlation(np.ones(10), np.ones(11))
    with pytest.raises(InvalidParameterError, match="max_lag"):
        lag_correlation(np.arange(10.0), np.arange(10.0), max_lag=10)
    with pytest.raises(MissingDataError, match="no lag"):
        lag_correlation(np.ones(50), np.ones(50), max_lag=5)


# Combined PCA: five features in unrelated units built from two latent factors plus 1 %
# noise. Two components must explain > 98 % of the standardised variance, and the
# first two score columns must span the latent factors (canonical correlations > 0.99).
def test_combined_pca_recovers_two_latent_factors_whatever_the_units():
    rng = np.random.default_rng(8)
    n = 300
    latent = rng.normal(size=(n, 2))
    mixing = np.array([[1.0, 0.2], [0.5, -1.0], [-0.8, 0.6], [0.3, 0.9], [1.0, 1.0]])
    x = latent @ mixing.T
    x += 0.01 * x.std(axis=0) * rng.normal(size=x.shape)
    units = np.array([1e-3, 1.0, 1e3, 1e6, 0.1])  # V, Å, Ω, nm… very different scales
    df = pd.DataFrame(x * units, columns=["voltage_V", "lattice_A", "rct_ohm", "thickness_nm", "index"])
    df.loc[5, "rct_ohm"] = np.nan
    res = combined_pca(df, n_components=3)
    assert res.dropped_rows == [5]
    assert res.explained_variance_ratio.iloc[:2].sum() > 0.98
    assert res.explained_variance_ratio.iloc[2] < 0.01
    scores = res.scores[["pc1", "pc2"]].to_numpy()
    lat = np.delete(latent, 5, axis=0)
    q1, _ = np.linalg.qr(scores - scores.mean(axis=0))
    q2, _ = np.linalg.qr(lat - lat.mean(axis=0))
    canonical = np.linalg.svd(q1.T @ q2, compute_uv=False)
    assert canonical.min() > 0.99
    # Loadings are unit vectors over the features; units do not matter after scaling.
    assert np.allclose(np.linalg.norm(res.loadings.to_numpy(), axis=0), 1.0)
    rescaled = df.assign(rct_ohm=df["rct_ohm"] * 1e-6)
    assert np.allclose(combined_pca(rescaled, n_components=3).scores.to_numpy(), res.scores.to_numpy())


def test_combined_pca_rejects_too_few_or_constant_features():
    df = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2, "c": np.ones(10)})
    with pytest.raises(MissingDataError, match="at least 3"):
        combined_pca(df, ["a", "b"])
    with pytest.raises(InvalidParameterError, match="do not vary"):
        combined_pca(df)


# Outliers: 300 normal rows with 6 planted outliers. Robust z (threshold 3.5) must flag
# every planted row that is extreme in one feature with at most 2 false alarms;
# robust Mahalanobis must also flag rows that are ordinary feature by feature but break
# the correlation (x = 2, y = −2 when ρ = 0.95), which robust z cannot see.
def test_planted_outliers_are_flagged():
    rng = np.random.default_rng(21)
    n = 300
    xy = rng.multivariate_normal([0, 0], [[1, 0.95], [0.95, 1]], size=n)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "z": rng.normal(size=n)})
    extreme = [10, 50, 200]
    df.loc[extreme, "z"] = [9.0, -8.0, 12.0]
    joint = [30, 120, 250]
    df.loc[joint, ["x", "y"]] = [[2.0, -2.0], [-2.0, 2.0], [1.8, -1.9]]

    rz = flag_outliers(df, method="robust_z")
    flagged = set(rz.index[rz["outlier"]])
    assert set(extreme) <= flagged
    assert len(flagged - set(extreme) - set(joint)) <= 2
    assert (rz.loc[extreme, "feature"] == "z").all()
    assert not rz.loc[joint, "outlier"].any()

    md = flag_outliers(df, ["x", "y", "z"], method="mahalanobis")
    flagged = set(md.index[md["outlier"]])
    assert set(extreme) | set(joint) <= flagged
    assert len(flagged - set(extreme) - set(joint)) <= 2
    assert md.attrs["battlab"]["threshold"] == pytest.approx(st.chi2.ppf(0.999, 3))


def test_flag_outliers_handles_missing_rows_and_bad_options():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    df.loc[3, "a"] = np.nan
    out = flag_outliers(df)
    assert np.isnan(out.loc[3, "score"]) and not out.loc[3, "outlier"]
    with pytest.raises(InvalidParameterError, match="method"):
        flag_outliers(df, method="iforest")
    with pytest.raises(InvalidParameterError, match="threshold"):
        flag_outliers(df, threshold=-1)
    with pytest.raises(MissingDataError, match="too few"):
        flag_outliers(df.iloc[:4])
    collinear = df.assign(c=2 * df["a"] + df["b"]).dropna()
    with pytest.raises(InvalidParameterError, match="collinear"):
        flag_outliers(collinear, method="mahalanobis")
