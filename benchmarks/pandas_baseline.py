"""A naive but reasonable pandas per-cycle summary: the peer for benchmark 1a.

What someone would write in a notebook without battlab: sign of the current, rest rows
forward-filled into the half cycle before them, half cycles numbered with
``shift``/``cumsum``, a new cycle on every half cycle whose direction matches the first
current, then one ``groupby(...).agg`` that integrates I·Δt (capacity), I·V·Δt (energy,
trapezoidal voltage) and Δt per cycle and direction. Vectorised throughout; no Python
loops over rows or cycles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pandas_summary(df: pd.DataFrame, *, active_mass_mg: float | None = None,
                   time_col: str = "test_time_s", voltage_col: str = "voltage_V",
                   current_col: str = "current_A") -> pd.DataFrame:
    t = df[time_col]
    v = df[voltage_col]
    i = df[current_col]

    dt = t.diff().fillna(0.0)
    sign = np.sign(i).replace(0.0, np.nan).ffill().fillna(0.0)  # rest joins the half cycle before it
    new_half = sign != sign.shift()
    first = sign[sign != 0].iloc[0]  # the direction that opens a cycle
    cycle = (new_half & (sign == first)).cumsum()

    dq = i * dt / 3.6  # A·s -> mAh
    v_mid = ((v + v.shift()) / 2).fillna(v)
    frame = pd.DataFrame({"cycle": cycle, "sign": sign, "dq": dq, "de": dq * v_mid, "dt": dt})
    frame = frame[frame["cycle"] > 0]
    g = frame.groupby(["cycle", "sign"]).agg(q=("dq", "sum"), e=("de", "sum"), t=("dt", "sum")).unstack("sign")

    out = pd.DataFrame(index=g.index)
    out["charge_capacity_mAh"] = g[("q", 1.0)].fillna(0.0)
    out["discharge_capacity_mAh"] = -g[("q", -1.0)].fillna(0.0)
    out["charge_energy_mWh"] = g[("e", 1.0)].fillna(0.0)
    out["discharge_energy_mWh"] = -g[("e", -1.0)].fillna(0.0)
    q_in, q_out = (("charge_capacity_mAh", "discharge_capacity_mAh") if first > 0
                   else ("discharge_capacity_mAh", "charge_capacity_mAh"))
    out["coulombic_efficiency_pct"] = 100.0 * out[q_out] / out[q_in]
    out["mean_charge_voltage_V"] = out["charge_energy_mWh"] / out["charge_capacity_mAh"]
    out["mean_discharge_voltage_V"] = out["discharge_energy_mWh"] / out["discharge_capacity_mAh"]
    out["duration_h"] = g["t"].sum(axis=1) / 3600.0
    if active_mass_mg is not None:
        for col in ("charge_capacity_mAh", "discharge_capacity_mAh"):
            out[col.replace("_mAh", "_mAh_g")] = out[col] / (active_mass_mg * 1e-3)
    return out.reset_index()
