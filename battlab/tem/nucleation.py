"""Nucleation and growth statistics from tracked particles.

* N(t): instantaneous nucleation N = N∞ (1 − e^{−A t}) against progressive nucleation
  N = J t (J = A N∞, the early-time limit), compared by AIC;
* growth exponents: r = k τⁿ with τ the particle's age, pooled over particles, shown
  next to the exponent each model expects (:data:`EXPECTED_EXPONENTS` — the same words
  mean different exponents in growth and in coarsening, so the model is always named);
* size distributions per frame;
* Scharifker–Hills dimensionless transients for a potentiostatic current step.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["EXPECTED_EXPONENTS", "classify_transient", "count_vs_time", "fit_growth_exponent", "fit_nucleation",
           "scharifker_hills", "size_distribution"]

#: model -> (exponent n in r ∝ tⁿ, what it means)
EXPECTED_EXPONENTS = {
    "growth, diffusion-limited": (0.5, "r ∝ t^1/2 (hemispherical diffusion to an isolated nucleus)"),
    "growth, reaction-limited": (1.0, "r ∝ t (interface attachment controls)"),
    "LSW coarsening, diffusion-limited": (1 / 3, "r³ − r₀³ = K t (Lifshitz–Slyozov–Wagner)"),
    "LSW coarsening, interface-limited": (0.5, "r² − r₀² = K t (Wagner)"),
}


def count_vs_time(particles: pd.DataFrame) -> pd.DataFrame:
    """Particle count per frame (all frames, zeros included) and new particles per frame.

    Returns
    -------
    DataFrame
        ``frame``, ``time_s``, ``count`` and, with ``particle_id`` (linked), ``new``.
    """
    for col in ("frame", "time_s"):
        if col not in particles:
            raise MissingDataError(f"the particle table has no {col!r} column.")
    frames = particles.attrs.get("battlab", {}).get("n_frames")
    counts = particles.groupby("frame").size()
    times = particles.groupby("frame")["time_s"].first()
    n = int(frames or (counts.index.max() + 1))
    idx = np.arange(n)
    out = pd.DataFrame({"frame": idx, "count": counts.reindex(idx, fill_value=0).to_numpy()})
    t = times.reindex(idx)
    if t.isna().any():  # frames without particles: interpolate their times
        t = t.interpolate(limit_direction="both")
    out.insert(1, "time_s", t.to_numpy())
    if "particle_id" in particles:
        first = particles.groupby("particle_id")["frame"].min()
        out["new"] = first.value_counts().reindex(idx, fill_value=0).to_numpy()
    return out


def fit_nucleation(time_s, count, *, t0_s: float = 0.0) -> pd.DataFrame:
    """Fit instantaneous and progressive nucleation laws to N(t).

    Returns
    -------
    DataFrame
        One row per model: ``model``, ``N_inf``, ``A_per_s``, ``rate_per_s`` (J),
        ``sse``, ``aic``, ``r_squared``, best (lowest AIC) first.
    """
    from scipy.optimize import curve_fit

    t = np.asarray(time_s, float) - t0_s
    n = np.asarray(count, float)
    ok = np.isfinite(t) & np.isfinite(n) & (t >= 0)
    t, n = t[ok], n[ok]
    if t.size < 5:
        raise MissingDataError("a nucleation fit needs at least 5 frames.")
    rows = []
    ss_tot = float(np.sum((n - n.mean()) ** 2)) or np.nan

    def add(model, pred, n_inf, a, j, k):
        sse = float(np.sum((n - pred) ** 2))
        rows.append({"model": model, "N_inf": n_inf, "A_per_s": a, "rate_per_s": j, "sse": sse,
                     "aic": t.size * np.log(max(sse, 1e-12) / t.size) + 2 * k, "r_squared": 1 - sse / ss_tot})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p, _ = curve_fit(lambda tt, ninf, a: ninf * (1 - np.exp(-a * tt)), t, n,
                             p0=(max(n.max(), 1), 1 / max(np.ptp(t) / 3, 1e-9)), maxfev=20000)
            add("instantaneous", p[0] * (1 - np.exp(-p[1] * t)), p[0], p[1], p[0] * p[1], 2)
        except RuntimeError:
            pass
    j = float(np.sum(n * t) / np.sum(t * t)) if np.sum(t * t) > 0 else np.nan
    add("progressive", j * t, np.nan, np.nan, j, 1)
    return pd.DataFrame(rows).sort_values("aic").reset_index(drop=True)


def fit_growth_exponent(tracks: pd.DataFrame, *, size: str = "equivalent_diameter_px", min_age_s: float = 0.0,
                        max_size=None) -> dict:
    """Pooled growth exponent n of r = k τⁿ, with τ the time since each particle appeared.

    Each particle's birth time is placed half a frame before its first detection. Only
    particles followed for ≥ 3 frames count; ``max_size`` drops sizes above a cap
    (impingement).

    Returns
    -------
    dict
        ``n``, ``k`` (size unit per sⁿ, radius = size/2), ``n_particles``, ``n_points``,
        ``expected`` (:data:`EXPECTED_EXPONENTS`) and ``closest_model``.
    """
    for col in ("particle_id", "time_s", size):
        if col not in tracks:
            raise MissingDataError(f"the track table has no {col!r} column (use link_particles).")
    taus, radii, used = [], [], 0
    dt = float(np.median(np.diff(np.unique(tracks["time_s"])))) if tracks["time_s"].nunique() > 1 else 1.0
    for _, g in tracks.groupby("particle_id"):
        if len(g) < 3:
            continue
        g = g.sort_values("time_s")
        tau = g["time_s"].to_numpy() - (g["time_s"].iloc[0] - dt / 2)
        r = g[size].to_numpy() / 2
        keep = (tau > min_age_s) & (r > 0)
        if max_size is not None:
            keep &= g[size].to_numpy() <= max_size
        if keep.sum() < 2:
            continue
        taus.append(tau[keep])
        radii.append(r[keep])
        used += 1
    if used == 0:
        raise MissingDataError("no particle was followed for 3 frames or more.")
    lt, lr = np.log(np.concatenate(taus)), np.log(np.concatenate(radii))
    n, lk = np.polyfit(lt, lr, 1)
    closest = min(EXPECTED_EXPONENTS, key=lambda m: abs(EXPECTED_EXPONENTS[m][0] - n))
    return {"n": float(n), "k": float(np.exp(lk)), "n_particles": used, "n_points": int(lt.size),
            "expected": {m: v[0] for m, v in EXPECTED_EXPONENTS.items()}, "closest_model": closest}


def size_distribution(particles: pd.DataFrame, *, size: str = "equivalent_diameter_px", bins=20) -> pd.DataFrame:
    """Per-frame size statistics: count, mean, sd, median and the log-normal σ (sd of ln size)."""
    if size not in particles:
        raise MissingDataError(f"the particle table has no {size!r} column.")
    g = particles.groupby("frame")
    out = pd.DataFrame({"time_s": g["time_s"].first(), "count": g.size(), "mean": g[size].mean(),
                        "sd": g[size].std(ddof=1), "median": g[size].median(),
                        "lognormal_sigma": g[size].apply(lambda s: float(np.std(np.log(s[s > 0]), ddof=1))
                                                         if (s > 0).sum() > 1 else np.nan)})
    return out.reset_index()


def scharifker_hills(t_over_tm, *, model: str = "instantaneous"):
    """Dimensionless (I/I_m)² of the Scharifker–Hills 3-D nucleation transients."""
    x = np.asarray(t_over_tm, float)
    if np.any(x <= 0):
        raise InvalidParameterError("t/t_m must be positive.")
    if model == "instantaneous":
        return 1.9542 / x * (1 - np.exp(-1.2564 * x)) ** 2
    if model == "progressive":
        return 1.2254 / x * (1 - np.exp(-2.3367 * x ** 2)) ** 2
    raise InvalidParameterError("model must be 'instantaneous' or 'progressive'.")


def classify_transient(time_s, current_A) -> dict:
    """Compare a potentiostatic current transient with both Scharifker–Hills curves.

    The transient is normalised to its maximum (I_m, t_m); points up to 3 t_m are used.

    Returns
    -------
    dict
        ``t_m_s``, ``I_m_A``, ``rms_instantaneous``, ``rms_progressive``, ``closer``.
    """
    t, i = np.asarray(time_s, float), np.abs(np.asarray(current_A, float))
    ok = np.isfinite(t) & np.isfinite(i) & (t > 0)
    t, i = t[ok], i[ok]
    if t.size < 5:
        raise MissingDataError("the transient needs at least 5 points after t = 0.")
    k = int(np.argmax(i))
    tm, im = t[k], i[k]
    if k == t.size - 1:
        raise MissingDataError("the current has no maximum inside the record (t_m is at its end).")
    x = t / tm
    sel = x <= 3
    y = (i[sel] / im) ** 2
    rms = {m: float(np.sqrt(np.mean((y - scharifker_hills(x[sel], model=m)) ** 2)))
           for m in ("instantaneous", "progressive")}
    return {"t_m_s": float(tm), "I_m_A": float(im), "rms_instantaneous": rms["instantaneous"],
            "rms_progressive": rms["progressive"], "closer": min(rms, key=rms.get)}
