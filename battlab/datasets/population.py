"""A population of synthetic graphite half cells with known fade, knee and cycle life.

Each cell is the :mod:`battlab.datasets.cycling` graphite electrode (same open-circuit
curve, cut-offs and current conventions: lithiation first, negative current), cycled at
constant current with its active capacity following a two-slope fade:

    f(k) = 1 − s₁·(k − 1) − (s₂ − s₁)·γ·ln(1 + exp((k − k_knee)/γ))

a slow linear fade s₁ per cycle that turns, over about γ cycles around the knee
``k_knee``, into a fast fade s₂; the two asymptotes meet exactly at ``k_knee``. Cells
with a faster early fade reach their knee sooner (as in large cycling data sets), so
the early-cycle ΔQ(V) feature predicts cycle life. The whole cycling record of a cell
is generated at once with array operations, so a population of 24 cells takes a
fraction of a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.datasets.cycling import V_MAX, V_MIN, graphite_ocv
from battlab.errors import InvalidParameterError
from battlab.io import schema as S

__all__ = ["knee_fade", "make_fading_cell", "population_demo"]

_RELAX_TAU_S = 120.0


def knee_fade(cycles, *, fade_per_cycle: float, knee_cycle: float, fade_after_knee: float,
              transition_cycles: float = 5.0) -> np.ndarray:
    """Fraction of the initial active capacity left at each cycle (1 at cycle 1).

    Slope ``-fade_per_cycle`` before the knee and ``-fade_after_knee`` after it; the
    change is smoothed over ``transition_cycles`` (a softplus), keeping the
    intersection of the two lines at ``knee_cycle``.
    """
    k = np.asarray(cycles, dtype=float)
    g = float(transition_cycles)
    hinge = g * np.logaddexp(0.0, (k - knee_cycle) / g) if g > 0 else np.maximum(k - knee_cycle, 0.0)
    hinge0 = g * np.logaddexp(0.0, (1.0 - knee_cycle) / g) if g > 0 else 0.0
    return 1.0 - fade_per_cycle * (k - 1.0) - (fade_after_knee - fade_per_cycle) * (hinge - hinge0)


def _cell_arrays(capacity_scale_mAh, resistance_ohm, current_A, ocv):
    """Lithiation start/end states of every cycle (noise-free physics of the cut-offs)."""
    xg, vg = ocv
    x_of_v = lambda v: np.interp(v, vg[::-1], xg[::-1])  # noqa: E731  OCV falls as x rises
    ir = current_A * resistance_ohm
    x_lith_end = x_of_v(V_MIN + ir)  # V = OCV − |I|R reaches V_MIN
    x_delith_end = x_of_v(V_MAX - ir)  # V = OCV + |I|R reaches V_MAX
    x_start = np.r_[0.0, x_delith_end[:-1]]
    return x_start, x_lith_end, x_delith_end


def make_fading_cell(capacity_fraction, *, nominal_capacity_mAh: float = 4.375, c_rate: float = 0.5,
                     resistance_ohm=8.0, side_reaction_fraction: float = 0.002,
                     points_per_half_cycle: int = 30, rest_s: float = 300.0, rest_points: int = 2,
                     noise_V: float = 0.0003, start_time: str = "2026-01-05T09:00:00Z", rng=0) -> pd.DataFrame:
    """Canonical cycling table of one graphite half cell whose capacity follows a given fade.

    Parameters
    ----------
    capacity_fraction : array-like
        Active capacity of each cycle relative to ``nominal_capacity_mAh`` (one value
        per cycle; its length sets the number of cycles).
    nominal_capacity_mAh : float
        Capacity of the fresh electrode; also sets 1C.
    c_rate : float
        Constant current of both half cycles, in C.
    resistance_ohm : float or array-like
        Ohmic resistance, one value or one per cycle; V = OCV + I·R.
    side_reaction_fraction : float
        Extra lithiation charge per cycle (coulombic efficiency 1/(1 + fraction)).
    points_per_half_cycle, rest_s, rest_points : int, float, int
        Sampling: rows per constant-current half cycle, and the rest after each half.
    noise_V : float
        Gaussian voltage noise (V).
    rng : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        ``test_time_s``, ``unix_time_s``, ``voltage_V``, ``current_A``, ``step``; currents
        are interval means, so Σ I·Δt of a half cycle is its exact capacity.
    """
    frac = np.asarray(capacity_fraction, dtype=float).ravel()
    if frac.size < 1 or not np.isfinite(frac).all() or (frac <= 0).any():
        raise InvalidParameterError("capacity_fraction must hold one positive value per cycle.")
    if points_per_half_cycle < 2 or rest_points < 1 or rest_s <= 0 or c_rate <= 0 or nominal_capacity_mAh <= 0:
        raise InvalidParameterError("points_per_half_cycle ≥ 2, rest_points ≥ 1 and positive rest_s, c_rate and "
                                    "nominal_capacity_mAh are required.")
    rng = np.random.default_rng(rng)
    n_cyc, n, m = frac.size, int(points_per_half_cycle), int(rest_points)
    r = np.broadcast_to(np.asarray(resistance_ohm, dtype=float), (n_cyc,)).copy()
    current = c_rate * nominal_capacity_mAh * 1e-3
    ocv = graphite_ocv(n_points=30_001)
    xg, vg = ocv
    scale = nominal_capacity_mAh * frac
    x0, x1, x2 = _cell_arrays(scale, r, current, ocv)
    q_lith = (x1 - x0) * scale * (1.0 + side_reaction_fraction)
    q_delith = (x1 - x2) * scale
    d_lith = q_lith / (current * 1e3) * 3600.0
    d_delith = q_delith / (current * 1e3) * 3600.0

    u = np.arange(1, n + 1) / n  # fraction of each half cycle at the end of each row's interval
    w = np.arange(1, m + 1) / m
    x_lith = x0[:, None] + (x1 - x0)[:, None] * u
    x_del = x1[:, None] + (x2 - x1)[:, None] * u
    v_lith = np.interp(x_lith, xg, vg) - current * r[:, None]
    v_del = np.interp(x_del, xg, vg) + current * r[:, None]
    t_rest = rest_s * w
    relax = np.exp(-t_rest / _RELAX_TAU_S)
    ocv1, ocv2 = np.interp(x1, xg, vg), np.interp(x2, xg, vg)
    v_rest1 = ocv1[:, None] + (v_lith[:, -1] - ocv1)[:, None] * relax
    v_rest2 = ocv2[:, None] + (v_del[:, -1] - ocv2)[:, None] * relax

    cycle_len = d_lith + d_delith + 2 * rest_s
    t0 = rest_s + np.r_[0.0, np.cumsum(cycle_len)[:-1]]  # an opening rest precedes cycle 1
    t_lith = t0[:, None] + d_lith[:, None] * u
    t_r1 = (t0 + d_lith)[:, None] + t_rest
    t_del = (t0 + d_lith + rest_s)[:, None] + d_delith[:, None] * u
    t_r2 = (t0 + d_lith + rest_s + d_delith)[:, None] + t_rest
    times = np.hstack([t_lith, t_r1, t_del, t_r2])
    volts = np.hstack([v_lith, v_rest1, v_del, v_rest2])
    amps = np.hstack([np.full((n_cyc, n), -current), np.zeros((n_cyc, m)), np.full((n_cyc, n), current),
                      np.zeros((n_cyc, m))])
    steps = 4 * np.arange(n_cyc)[:, None] + np.repeat(np.arange(1, 5), [n, m, n, m])[None, :]
    opening = np.full(m, 0.0)
    times = np.r_[t_rest, times.ravel()]
    volts = np.r_[np.full(m, float(np.interp(0.0, xg, vg))), volts.ravel()]
    amps = np.r_[opening, amps.ravel()]
    steps = np.r_[np.zeros(m, dtype=np.int64), steps.ravel()]
    if noise_V:
        volts = volts + rng.normal(0.0, noise_V, volts.size)
    df = pd.DataFrame({S.TEST_TIME: times, S.VOLTAGE: volts, S.CURRENT: amps, S.STEP: steps.astype(np.int64)})
    start = pd.Timestamp(start_time)
    df.insert(1, S.UNIX_TIME, start.timestamp() + times)
    meta = S.empty_metadata(format_name="battlab-demo", source_name="demo:fading-graphite-cell", sha256="")
    meta.update(technique="cycling", start_time_utc=start.isoformat(),
                notes=["synthetic graphite half cell generated by battlab.datasets.population.make_fading_cell"])
    df.attrs["battlab"] = meta
    return df


def _expected_out_capacity(scale_mAh, resistance_ohm, current_A):
    x0, x1, x2 = _cell_arrays(scale_mAh, resistance_ohm, current_A, graphite_ocv(n_points=30_001))
    return (x1 - x2) * scale_mAh


def population_demo(n_cells: int = 24, *, seed: int = 0, max_cycles: int = 240, threshold_fraction: float = 0.8,
                    stop_fraction: float = 0.72, capacity_noise: float = 0.0005,
                    points_per_half_cycle: int = 30) -> Demo:
    """A population of graphite half cells with cell-to-cell variation and known answers.

    Per cell (seeded): fresh capacity 4.375 mAh ± 1.5 %; early fade s₁ log-normal about
    4·10⁻⁴ per cycle; knee at 100 + 0.03/s₁ cycles (± 10 %), so fast early fade means an
    early knee; fade after the knee 4–8·10⁻³ per cycle; resistance 8 Ω ± 10 % growing
    0.1 % per cycle; a cycle-to-cycle capacity scatter of ``capacity_noise`` (relative).
    A cell is cycled until its capacity falls below ``stop_fraction`` of the start or
    until ``max_cycles`` (then its cycle life may be censored: with the defaults one
    cell of 24 has not reached 80 % by cycle 240).

    Returns
    -------
    Demo
        ``data``: ``{cell name: canonical cycling table}``. ``truth``: ``cells`` (one row
        per cell: ``cell``, ``initial_capacity_mAh`` (noise-free out capacity of cycle
        1), ``fade_per_cycle`` (s₁, fraction of the fresh capacity per cycle),
        ``fade_after_knee``, ``knee_cycle``, ``cycle_life`` (first cycle whose noise-free
        out capacity is below ``threshold_fraction`` of the median of cycles 1–5),
        ``censored``, ``n_cycles``, ``resistance_ohm``), ``capacity`` (noise-free out
        capacity per cell and cycle), ``imaged_cell`` (the cell also "imaged" in the
        correlation demo: an ordinary member, not the best), ``threshold_fraction``.
    """
    if int(n_cells) < 3:
        raise InvalidParameterError("a population needs at least 3 cells.")
    if not 0 < stop_fraction < threshold_fraction < 1:
        raise InvalidParameterError("need 0 < stop_fraction < threshold_fraction < 1.")
    rng = np.random.default_rng(seed)
    n_cells = int(n_cells)
    nominal = 4.375 * (1.0 + 0.015 * rng.standard_normal(n_cells))
    s1 = 4e-4 * np.exp(0.35 * rng.standard_normal(n_cells))
    knee = (100.0 + 0.03 / s1) * (1.0 + 0.10 * rng.standard_normal(n_cells))
    s2 = rng.uniform(4e-3, 8e-3, n_cells)
    r0 = 8.0 * (1.0 + 0.10 * rng.standard_normal(n_cells))
    c_rate = 0.5
    data, rows, capacity = {}, [], []
    cycles_all = np.arange(1, int(max_cycles) + 1)
    for j in range(n_cells):
        name = f"cell_{j + 1:02d}"
        f = knee_fade(cycles_all, fade_per_cycle=s1[j], knee_cycle=knee[j], fade_after_knee=s2[j])
        below = np.flatnonzero(f < stop_fraction)
        n_cyc = int(below[0]) + 1 if below.size else int(max_cycles)
        cycles = cycles_all[:n_cyc]
        r = r0[j] * (1.0 + 1e-3 * (cycles - 1))
        current = c_rate * nominal[j] * 1e-3
        q_true = _expected_out_capacity(nominal[j] * f[:n_cyc], r, current)
        noisy = f[:n_cyc] * (1.0 + capacity_noise * rng.standard_normal(n_cyc))
        data[name] = make_fading_cell(noisy, nominal_capacity_mAh=nominal[j], c_rate=c_rate, resistance_ohm=r,
                                      points_per_half_cycle=points_per_half_cycle, rng=rng)
        ref = float(np.median(q_true[:5]))
        crossed = np.flatnonzero(q_true < threshold_fraction * ref)
        life = int(cycles[crossed[0]]) if crossed.size else int(cycles[-1])
        rows.append({"cell": name, "initial_capacity_mAh": float(q_true[0]), "fade_per_cycle": float(s1[j]),
                     "fade_after_knee": float(s2[j]), "knee_cycle": float(knee[j]), "cycle_life": life,
                     "censored": not crossed.size, "n_cycles": n_cyc, "resistance_ohm": float(r0[j])})
        capacity.append(pd.DataFrame({"cell": name, "cycle": cycles, "out_capacity_mAh": q_true}))
    cells = pd.DataFrame(rows)
    # The imaged cell: the one closest to the population's median cycle life (an
    # ordinary cell, so the imaging result is not a champion's).
    life = cells["cycle_life"].to_numpy(dtype=float)
    imaged = str(cells["cell"].iloc[int(np.argmin(np.abs(life - np.median(life))))])
    truth = {"cells": cells, "capacity": pd.concat(capacity, ignore_index=True), "imaged_cell": imaged,
             "threshold_fraction": threshold_fraction, "reference_cycles": 5, "c_rate": c_rate,
             "transition_cycles": 5.0}
    return Demo(data=data, truth=truth,
                description=f"{n_cells} graphite half cells with cell-to-cell variation: early fade, knee and "
                            "cycle life known per cell.")
