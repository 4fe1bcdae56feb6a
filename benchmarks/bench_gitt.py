"""GITT benchmark: battlab against a naive pandas groupby/loop analysis, 500 pulses.

Input: ``battlab.datasets.make_gitt(n_pulses=500, delta_x=0.0015)``, a simulated thin
film with known D(x) (finite-volume Fick solution, 3 µV noise: small pulses need a quiet
instrument). The peer is what one
writes by hand in pandas: label runs of equal current sign with ``cumsum``, ``groupby``
the runs, loop over them in Python to pair each pulse with the rest after it, take
ΔEt as last − first sample of the pulse and ΔEs as the step between rest ends, and apply
Weppner–Huggins. battlab additionally extrapolates E(0+) along √t, fits E against √t,
computes IR drops, x and SOC and runs the validity checks.

Run alone: ``.venv/bin/python benchmarks/bench_gitt.py`` prints a markdown table.
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
import pandas as pd

N_PULSES = 500


def _demo():
    from battlab.datasets import make_gitt

    return make_gitt(n_pulses=N_PULSES, delta_x=0.0015, noise_V=3e-6)


def naive_gitt(df: pd.DataFrame, *, mass_mg, molar_mass_g_mol, molar_volume_cm3_mol, area_cm2) -> pd.DataFrame:
    """The hand-written baseline: sign runs, groupby, a Python loop over pulses."""
    df = df[["test_time_s", "voltage_V", "current_A"]].copy()
    thr = 1e-3 * df["current_A"].abs().quantile(0.99)
    df["state"] = np.sign(df["current_A"].where(df["current_A"].abs() > thr, 0.0))
    df["run"] = (df["state"] != df["state"].shift()).cumsum()
    runs = list(df.groupby("run", sort=True))
    length = mass_mg * 1e-3 * molar_volume_cm3_mol / (molar_mass_g_mol * area_cm2)
    rows, last_rest_end = [], None
    for k, (_, g) in enumerate(runs):
        state = g["state"].iloc[0]
        if state == 0:
            last_rest_end = g["voltage_V"].iloc[-1]
            continue
        if k + 1 >= len(runs) or runs[k + 1][1]["state"].iloc[0] != 0 or last_rest_end is None:
            continue
        rest = runs[k + 1][1]
        t_on = df["test_time_s"].iloc[g.index[0] - 1]
        tau = g["test_time_s"].iloc[-1] - t_on
        d_et = g["voltage_V"].iloc[-1] - g["voltage_V"].iloc[0]
        d_es = rest["voltage_V"].iloc[-1] - last_rest_end
        rows.append({"tau_s": tau, "current_A": g["current_A"].median(), "delta_Es_V": d_es, "delta_Et_V": d_et,
                     "diffusion_coefficient_cm2_s": 4 / (np.pi * tau) * length ** 2 * (d_es / d_et) ** 2})
    return pd.DataFrame(rows)


def measure(repeats: int = 5) -> list[dict]:
    from run import time_pair

    from battlab.echem import gitt

    demo = _demo()
    t = demo.truth
    geometry = {"mass_mg": t["active_mass_mg"], "molar_mass_g_mol": t["molar_mass_g_mol"],
                "molar_volume_cm3_mol": t["molar_volume_cm3_mol"], "area_cm2": t["area_cm2"]}
    data = demo.data
    ours = gitt.analyze_gitt(data, x_initial=t["x_initial"], **geometry)
    peer = naive_gitt(data, **geometry)
    d_true = t["pulses"]["diffusion_coefficient_cm2_s"].to_numpy()
    valid = ours["valid"].to_numpy()
    err_ours = np.abs(ours["diffusion_coefficient_cm2_s"].to_numpy()[valid] / d_true[valid] - 1)
    err_peer = np.abs(peer["diffusion_coefficient_cm2_s"].to_numpy()[valid] / d_true[valid] - 1)
    res = time_pair(lambda: gitt.analyze_gitt(data, x_initial=t["x_initial"], **geometry),
                    lambda: naive_gitt(data, **geometry), repeats)
    detail = (f"pulses found: battlab {len(ours)}, peer {len(peer)}; on the {int(valid.sum())} pulses "
              f"battlab marks valid, |D/D_true − 1|: battlab median {np.median(err_ours) * 100:.1f} %, "
              f"max {err_ours.max() * 100:.1f} %; peer median {np.median(err_peer) * 100:.1f} %, "
              f"max {err_peer.max() * 100:.1f} % (first/last samples miss the early √t part); best of {res['n']}")
    return [{
        "id": "gitt1", "task": "GITT analysis: pulse/rest detection, ΔEs, ΔEt, D per pulse",
        "input": f"synthetic thin-film GITT, {N_PULSES} pulses, {len(data):,} rows",
        "battlab": "`battlab.echem.gitt.analyze_gitt` (+ IR, √t fit, x/SOC, validity flags)",
        "battlab_s": min(res["a"]),
        "peer": "naive pandas: sign runs + `groupby` + Python loop", "peer_s": min(res["b"]),
        "detail": detail,
    }]


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
