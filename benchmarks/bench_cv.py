"""Dunn decomposition benchmark: battlab against a naive per-potential numpy loop.

Input: CVs at 10 scan rates (0.1–5 mV/s), one file of 100,000 rows per rate (one
cycle each), from ``battlab.datasets.make_cv``. The peer is what one would write by
hand: split each file at its upper vertex, ``np.interp`` each sweep onto a potential
grid, then call ``np.linalg.lstsq`` once per potential. battlab's
``dunn_decomposition`` also finds the sweeps and scan rates itself, averages each
sweep per grid cell, and solves all potentials in one least-squares call.

Run alone: ``.venv/bin/python benchmarks/bench_cv.py`` prints a markdown table.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy as np

RATES_MV_S = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)
ROWS_PER_RATE = 100_000


def _tables():
    from battlab.datasets import make_cv

    demo = make_cv(scan_rates_mV_s=RATES_MV_S, n_cycles=1, points_per_sweep=ROWS_PER_RATE // 2,
                   separate_files=True)
    return demo.data, demo.truth


def naive_dunn(tables, rates_mV_s, n_grid):
    """The hand-written baseline: interp per sweep, one lstsq per potential."""
    sweeps = {"anodic": [], "cathodic": []}
    for df in tables:
        v = df["voltage_V"].to_numpy()
        i = df["current_A"].to_numpy()
        top = int(np.argmax(v))
        sweeps["anodic"].append((v[: top + 1], i[: top + 1]))
        sweeps["cathodic"].append((v[top:][::-1], i[top:][::-1]))
    rates = np.asarray(rates_mV_s) * 1e-3
    q_cap = np.zeros(len(rates))
    q_dif = np.zeros(len(rates))
    for direction, parts in sweeps.items():
        lo = max(p[0].min() for p in parts)
        hi = min(p[0].max() for p in parts)
        margin = 0.01 * (hi - lo)
        grid = np.linspace(lo + margin, hi - margin, n_grid)
        currents = np.vstack([np.interp(grid, vv, ii) for vv, ii in parts])
        k1 = np.empty(n_grid)
        k2 = np.empty(n_grid)
        design = np.column_stack([rates, np.sqrt(rates)])
        for g in range(n_grid):
            (k1[g], k2[g]), *_ = np.linalg.lstsq(design, currents[:, g], rcond=None)
        sign = 1.0 if direction == "anodic" else -1.0
        q_cap += sign * np.trapezoid(k1, grid)
        q_dif += sign * np.trapezoid(k2, grid) / np.sqrt(rates)
    return 100.0 * q_cap / (q_cap + q_dif)


def measure(repeats: int = 5) -> list[dict]:
    from run import time_pair

    from battlab.echem import cv

    tables, truth = _tables()
    n_rows = sum(len(t) for t in tables)
    exact = truth["capacitive_fraction"]["capacitive_fraction_pct"].to_numpy()
    labelled = cv.label_sweeps(tables)
    rows = []
    for rid, task, n_grid, ours_input in (
            ("cv1", "Dunn decomposition from raw tables (sweep and scan-rate detection included)", 400, tables),
            ("cv1b", "Dunn decomposition, sweeps already labelled", 400, labelled),
            ("cv2", "Dunn decomposition at full resolution (sweeps already labelled)", ROWS_PER_RATE // 2,
             labelled)):
        ours = cv.dunn_decomposition(ours_input, n_grid=n_grid).fractions_["capacitive_fraction_pct"].to_numpy()
        peer = naive_dunn(tables, RATES_MV_S, n_grid)
        res = time_pair(lambda x=ours_input, n=n_grid: cv.dunn_decomposition(x, n_grid=n),
                        lambda n=n_grid: naive_dunn(tables, RATES_MV_S, n), repeats)
        rows.append({
            "id": rid, "task": task,
            "input": f"synthetic CV, {len(RATES_MV_S)} scan rates × {ROWS_PER_RATE:,} rows ({n_rows:,} rows); "
                     f"grid of {n_grid:,} potentials per direction",
            "battlab": "`battlab.echem.cv.dunn_decomposition`", "battlab_s": min(res["a"]),
            "peer": "naive numpy: `np.interp` + one `np.linalg.lstsq` per potential", "peer_s": min(res["b"]),
            "detail": (f"capacitive fraction vs truth, max |error|: battlab {np.max(np.abs(ours - exact)):.2f} pp, "
                       f"peer {np.max(np.abs(peer - exact)):.2f} pp; the peer is told the layout (one cycle "
                       f"per file, split at the highest potential) where battlab finds sweeps, cycles and "
                       f"scan rates itself; best of {res['n']}"),
        })
    return rows


def _fmt(x):
    return "–" if x is None else (f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s")


def main():
    rows = measure(5)
    print("| id | task | input | battlab | time | peer | time | peer/battlab | detail |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['peer_s'] / r['battlab_s']:.1f}×" if r["peer_s"] else "–"
        print(f"| {r['id']} | {r['task']} | {r['input']} | {r['battlab']} | {_fmt(r['battlab_s'])} | {r['peer']} | "
              f"{_fmt(r['peer_s'])} | {ratio} | {r['detail']} |")


if __name__ == "__main__":
    main()
