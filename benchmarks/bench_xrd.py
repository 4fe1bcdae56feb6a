"""Diffraction benchmark: fit and track 5 peaks over a 2,000-pattern operando series.

Rows
----
- battlab ``diffraction.track_peaks`` (pseudo-Voigt + linear background per window,
  bounded least squares with an analytic Jacobian, all 2,000 patterns of a window solved
  together by a vectorised Levenberg–Marquardt iteration) over 2,000 patterns × 5 windows.
- the same task with lmfit (``PseudoVoigtModel + LinearModel`` per window per pattern,
  starting values from the data of each pattern). lmfit is timed on a 100-pattern evenly
  spaced subset and scaled ×20 (stated in the row). Both fit the same model: lmfit's
  ``amplitude`` is the area, ``fraction`` is η and its FWHM is 2σ. The row reports the
  largest difference between the two results on the subset.

lmfit is not a battlab dependency: ``pip install lmfit`` to get the peer row (it is
skipped with that reason otherwise).

Run alone: ``.venv/bin/python benchmarks/bench_xrd.py`` prints a markdown table.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
for p in (str(HERE.parent), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from run import fmt_s, time_one

from battlab.datasets.diffraction import pattern_from_peaks
from battlab.diffraction import make_pattern, stack_patterns, track_peaks

N_PATTERNS, SUBSET = 2000, 100
CENTERS = np.array([18.4, 35.6, 43.3, 57.2, 62.9])  # LTO-like lines, Cu Kα1
AREAS = np.array([600.0, 300.0, 250.0, 150.0, 200.0])
FWHM, ETA = 0.12, 0.5


def series_data(n=N_PATTERNS, rng=0):
    """n patterns (15–66° 2θ, 0.02° steps) whose 5 peaks shift by up to 0.1° and change area."""
    import pandas as pd

    gen = np.random.default_rng(rng)
    tt = np.arange(15.0, 66.0, 0.02)
    phase = np.linspace(0, 2 * np.pi, n)
    pats = []
    start = pd.Timestamp("2026-01-05T09:00:00Z")
    for i in range(n):
        shift = -0.1 * np.sin(phase[i] / 2) * CENTERS / CENTERS.max()
        areas = AREAS * (1 + 0.2 * np.sin(phase[i]))
        peaks = list(zip(areas, CENTERS + shift, np.full(5, FWHM), strict=True))
        y = pattern_from_peaks(tt, peaks, background=40 + 0.3 * (tt - 15), eta=ETA, rng=gen)
        pats.append(make_pattern(tt, y, wavelength_A=1.540598,
                                 meta={"start_time_utc": (start + pd.Timedelta(seconds=60 * i)).isoformat()}))
    windows = {f"peak_{k + 1}": (c - 0.6, c + 0.6) for k, c in enumerate(CENTERS)}
    return stack_patterns(pats), windows


def lmfit_track(series, windows):
    """lmfit per window per pattern, starting from the pattern's maximum in each window."""
    from lmfit.models import LinearModel, PseudoVoigtModel

    model = PseudoVoigtModel() + LinearModel()
    x = series["two_theta_deg"].to_numpy()
    data = series.to_numpy()
    out = np.empty((data.shape[0], len(windows), 4))
    for i in range(data.shape[0]):
        for k, (lo, hi) in enumerate(windows.values()):
            sel = (x >= lo) & (x <= hi)
            xs, ys = x[sel], data[i, sel]
            # Starting values from the data, as a typical lmfit loop does (a warm start from
            # the previous pattern left lmfit stuck on some patterns of this series).
            height = float(ys.max() - np.median(ys))
            params = model.make_params(amplitude=height * 0.1, center=float(xs[np.argmax(ys)]), sigma=0.05,
                                       fraction=0.5, slope=0.0, intercept=float(np.median(ys)))
            # Centre left unbounded: lmfit's bound transform maps a start at the window middle
            # to internal 0, where its relative finite-difference step vanishes and the fit stalls.
            params["fraction"].set(min=0, max=1)
            params["amplitude"].set(min=0)
            p = model.fit(ys, params, x=xs).params
            out[i, k] = [p["amplitude"].value, p["center"].value, 2 * p["sigma"].value, p["fraction"].value]
    return out


def measure(repeats: int = 3) -> list[dict]:
    warnings.filterwarnings("ignore")
    series, windows = series_data()

    def ours():
        return track_peaks(series, windows, doublet=None)

    t = time_one(ours, min(repeats, 2))
    ours_s = min(t["a"])
    tracked = ours()
    truth_err = []
    for k, name in enumerate(windows):
        sub = tracked[tracked["peak"] == name]
        phase = np.linspace(0, 2 * np.pi, N_PATTERNS)
        true_c = CENTERS[k] - 0.1 * np.sin(phase / 2) * CENTERS[k] / CENTERS.max()
        truth_err.append(np.max(np.abs(sub["two_theta_deg"].to_numpy() - true_c)))
    detail = (f"{len(tracked):,} fits, all present: {bool(tracked['present'].all())}; max |centre − truth| "
              f"{max(truth_err):.4f}°")
    peer_s = None
    try:
        import lmfit  # noqa: F401
    except ImportError:
        detail += "; lmfit row skipped: lmfit is not installed (pip install lmfit)"
        have_peer = False
    else:
        have_peer = True
    if have_peer:
        idx = np.linspace(0, N_PATTERNS - 1, SUBSET).round().astype(int)
        sub_series = series.isel(time=idx)
        tp = time_one(lambda: lmfit_track(sub_series, windows), 1)
        peer_s = min(tp["a"]) * (N_PATTERNS / SUBSET)
        peer = lmfit_track(sub_series, windows)
        ours_sub = track_peaks(sub_series, windows, doublet=None)
        cols = ["area", "two_theta_deg", "fwhm_deg", "eta"]
        mine = np.stack([ours_sub[ours_sub["peak"] == n][cols].to_numpy() for n in windows], axis=1)
        d_c = np.max(np.abs(mine[..., 1] - peer[..., 1]))
        d_w = np.max(np.abs(mine[..., 2] - peer[..., 2]))
        d_a = np.max(np.abs(mine[..., 0] / peer[..., 0] - 1))
        d_e = np.max(np.abs(mine[..., 3] - peer[..., 3]))
        detail += (f"; lmfit timed on {SUBSET} evenly spaced patterns and scaled ×{N_PATTERNS // SUBSET}; max "
                   f"difference battlab − lmfit on those: centre {d_c:.1e}°, FWHM {d_w:.1e}°, area {d_a:.1e} "
                   f"relative, η {d_e:.1e}")
    return [{"id": "xrd-track-5-peaks", "task": f"Fit and track 5 peaks over {N_PATTERNS:,} patterns",
             "input": f"{N_PATTERNS} × {series.sizes['two_theta_deg']} points, pseudo-Voigt, Poisson noise",
             "battlab": "diffraction.track_peaks", "battlab_s": ours_s,
             "peer": "lmfit PseudoVoigtModel+LinearModel per pattern" if have_peer else None, "peer_s": peer_s,
             "detail": detail}]


if __name__ == "__main__":
    out = measure(3)
    print("| id | task | input | battlab | peer | ratio (peer/battlab) | detail |")
    print("|---|---|---|---|---|---|---|")
    for r in out:
        ratio = f"{r['peer_s'] / r['battlab_s']:.1f}×" if r["peer_s"] else "—"
        peer = f"{r['peer']} {fmt_s(r['peer_s'])}" if r["peer"] else "—"
        print(f"| {r['id']} | {r['task']} | {r['input']} | {r['battlab']} {fmt_s(r['battlab_s'])} | {peer} "
              f"| {ratio} | {r['detail']} |")
