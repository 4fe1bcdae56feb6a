"""A cell among its population, and cross-technique reality checks.

Operando imaging usually follows one cell. Whether what it shows is typical can only
be judged against the cells cycled beside it: this module summarises each cell of a
population (initial capacity, early fade, knee, cycle life, the early-cycle ΔQ(V)
feature) and places the imaged cell in that distribution, so that a champion cell is
seen as one.

The reality checks ask whether techniques agree with each other: the charge passed
against the amount of phase an image shows transformed (Faraday's law), and state of
charge estimates from optical, diffraction and electrochemical data (Bland–Altman).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["CycleLife", "DeltaQ", "Knee", "agreement", "capacity_knee", "cycle_life", "delta_q_v",
           "faraday_check", "highlight_cell", "population_summary", "summarize_cell"]

FARADAY_C_MOL = 96485.33212


def _xy(cycles, capacity):
    x = np.asarray(cycles, dtype=float).ravel()
    y = np.asarray(capacity, dtype=float).ravel()
    if x.size != y.size:
        raise InvalidParameterError(f"cycles ({x.size}) and capacity ({y.size}) must have the same length.")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


# --------------------------------------------------------------------------- ΔQ(V)


@dataclass
class DeltaQ:
    """ΔQ(V) = Q_b(V) − Q_a(V) between two cycles of one cell.

    Attributes
    ----------
    curve : DataFrame
        ``voltage_V``, ``q_a_mAh``, ``q_b_mAh``, ``delta_q_mAh`` on the voltage grid.
    features : dict
        ``delta_q_variance_mAh2``, ``delta_q_log10_variance``, ``delta_q_min_mAh``,
        ``delta_q_mean_mAh``, ``delta_q_n_points``, the two cycles and the direction.
    """

    curve: pd.DataFrame
    features: dict


def delta_q_v(cell_table: pd.DataFrame, *, cycle_a: int, cycle_b: int, voltage_grid_V=None,
              direction: str = "discharge", n_points: int = 1000, cell_type: str = "auto") -> DeltaQ:
    """Difference of the capacity–voltage curves of two cycles, and its summary features.

    Q(V) of each cycle is the capacity passed in the chosen half cycle when the voltage
    reaches V, from :func:`battlab.echem.cycling.incremental_capacity` (constant-voltage
    holds left out, noise reversals pooled), interpolated onto one voltage grid. The
    variance of ΔQ(V) over the grid is the early-life feature of Severson et al. (2019):
    across a population its logarithm tracks cycle life.

    Parameters
    ----------
    cell_table : DataFrame
        Canonical cycling table of one cell.
    cycle_a, cycle_b : int
        The early and the later cycle (ΔQ = Q_b − Q_a, negative where capacity was lost).
    voltage_grid_V : array-like, optional
        Voltages at which Q is compared; points outside either curve give NaN. Default:
        ``n_points`` evenly over the voltage range both curves cover.
    direction : {"discharge", "charge"}
        Which half cycle (discharge = negative current, lithiation in an anode half cell).
    cell_type : str
        Passed to the cycle labelling (see :func:`battlab.echem.cycling.label_cycles`).

    Returns
    -------
    DeltaQ
    """
    from battlab.echem.cycling import incremental_capacity

    if direction not in ("discharge", "charge"):
        raise InvalidParameterError("direction must be 'discharge' or 'charge'.")
    if int(cycle_a) == int(cycle_b):
        raise InvalidParameterError("cycle_a and cycle_b must differ.")
    ica = incremental_capacity(cell_table, cycles=[int(cycle_a), int(cycle_b)], smoothing="none",
                               voltage_step_V=0.001, cell_type=cell_type)
    curves = {}
    for c in (int(cycle_a), int(cycle_b)):
        part = ica[(ica["cycle"] == c) & (ica["direction"] == direction)]
        if part.empty:
            raise MissingDataError(f"cycle {c} has no {direction} half cycle in this table; choose cycles the "
                                   "cell completed (see summarize_cycles).")
        # One half cycle per cycle and direction; keep the longest if a cycler split it.
        half = part.groupby("half_cycle").size().idxmax()
        part = part[part["half_cycle"] == half].sort_values("voltage_V")
        curves[c] = (part["voltage_V"].to_numpy(dtype=float), part["capacity_mAh"].to_numpy(dtype=float))
    (va, qa), (vb, qb) = curves[int(cycle_a)], curves[int(cycle_b)]
    lo, hi = max(va[0], vb[0]), min(va[-1], vb[-1])
    if voltage_grid_V is None:
        if not hi > lo:
            raise MissingDataError("the two cycles cover no common voltage range.")
        grid = np.linspace(lo, hi, int(n_points))
    else:
        grid = np.asarray(voltage_grid_V, dtype=float).ravel()
        if grid.size < 2 or not np.isfinite(grid).all():
            raise InvalidParameterError("voltage_grid_V must hold at least two finite voltages.")
    q_a = np.interp(grid, va, qa, left=np.nan, right=np.nan)
    q_b = np.interp(grid, vb, qb, left=np.nan, right=np.nan)
    dq = q_b - q_a
    ok = np.isfinite(dq)
    if ok.sum() < 10:
        raise MissingDataError(f"only {int(ok.sum())} grid voltages lie inside both curves "
                               f"({lo:.3f}–{hi:.3f} V); give a voltage_grid_V inside that range.")
    var = float(np.var(dq[ok], ddof=1))
    features = {"cycle_a": int(cycle_a), "cycle_b": int(cycle_b), "direction": direction,
                "delta_q_variance_mAh2": var,
                "delta_q_log10_variance": float(np.log10(var)) if var > 0 else -np.inf,
                "delta_q_min_mAh": float(np.min(dq[ok])), "delta_q_mean_mAh": float(np.mean(dq[ok])),
                "delta_q_n_points": int(ok.sum())}
    curve = pd.DataFrame({"voltage_V": grid, "q_a_mAh": q_a, "q_b_mAh": q_b, "delta_q_mAh": dq})
    curve.attrs["battlab"] = dict(features)
    return DeltaQ(curve=curve, features=features)


# --------------------------------------------------------------------------- knee


@dataclass
class Knee:
    """Knee of a capacity-fade curve from a Bacon–Watts (two-line) fit.

    Attributes
    ----------
    knee_cycle : float
        Where the two fitted lines meet (NaN when ``detected`` is False).
    ci_low, ci_high : float
        Profile-likelihood confidence interval of the knee (see :func:`capacity_knee`).
    slope_before, slope_after : float
        Capacity change per cycle before and after the knee (capacity units per cycle).
    capacity_at_knee : float
        Fitted capacity at the knee.
    p_value : float
        F-test of the two-line fit against one straight line (approximate, see notes).
    detected : bool
        The slope steepens at the knee and the two-line model is significantly better.
    method : str
    """

    knee_cycle: float
    ci_low: float
    ci_high: float
    slope_before: float
    slope_after: float
    capacity_at_knee: float
    p_value: float
    detected: bool
    method: str


def _bw_design(x, x1, gamma):
    d = x - x1
    bend = np.abs(d) if gamma <= 0 else d * np.tanh(d / gamma)
    return np.column_stack([np.ones_like(x), d, bend])


def _bw_rss(x, y, x1, gamma):
    a = _bw_design(x, x1, gamma)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    r = y - a @ coef
    return float(r @ r), coef


def _bw_rss_many(x, y, knees, gamma):
    """RSS of the Bacon–Watts fit for many trial knees at once (normal equations)."""
    d = x[None, :] - knees[:, None]
    bend = np.abs(d) if gamma <= 0 else d * np.tanh(d / gamma)
    yc = y - y.mean()  # centring keeps the normal equations well conditioned
    cols = (np.ones_like(d), d, bend)
    ata = np.empty((knees.size, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            ata[:, i, j] = ata[:, j, i] = (cols[i] * cols[j]).sum(axis=1)
    aty = np.stack([c @ yc for c in cols], axis=1)
    coef = np.linalg.solve(ata, aty[..., None])[..., 0]
    r = yc[None, :] - coef[:, :1] - coef[:, 1:2] * d - coef[:, 2:3] * bend
    return (r * r).sum(axis=1)


def _profile_edge(x, y, gamma, best, outside, limit, search_end, *, last):
    """Where the profile RSS crosses ``limit`` between the best knee and the nearest
    trial knee outside the interval (bisection); the search edge if none is outside."""
    if not outside.size:
        return float(search_end)
    out_pt, in_pt = float(outside[-1] if last else outside[0]), float(best)
    for _ in range(30):
        mid = 0.5 * (out_pt + in_pt)
        if _bw_rss(x, y, mid, gamma)[0] > limit:
            out_pt = mid
        else:
            in_pt = mid
    return 0.5 * (out_pt + in_pt)


def capacity_knee(cycles, capacity, *, transition_cycles: float = 0.0, confidence: float = 0.95,
                  min_points_per_side: int = 5, alpha: float = 0.05) -> Knee:
    """Knee point of a capacity-fade curve.

    Method: the Bacon–Watts change-point model
    ``Q = a₀ + a₁(k − k₀) + a₂(k − k₀)·tanh((k − k₀)/γ)``, two lines of slopes
    a₁ − a₂ and a₁ + a₂ meeting at the knee k₀ with a transition of width γ
    (``transition_cycles``; 0 = a sharp two-line fit). For each trial k₀ the model is
    linear in a₀, a₁, a₂ and solved by least squares; k₀ minimises the residual sum of
    squares (a grid of quarter cycles, then golden-section refinement).

    Uncertainty: the profile-likelihood interval, every k₀ whose RSS stays below
    RSS_min·(1 + F₁,ₙ₋₄(confidence)/(n − 4)). Detection: the slope must steepen
    (slope_after < slope_before) and the two-line model must beat one straight line
    in an F-test at ``alpha``. The F-test ignores that k₀ was searched for, so its
    p-value is optimistic; use it to reject flat or straight curves, not as an exact
    probability. The interval reflects the scatter of the capacities only, not the
    choice of model: a gradual bend sampled only a few transition widths past the knee
    (a cell stopped soon after it) pulls a sharp two-line estimate early, by 1–2 % of
    the knee cycle on :func:`battlab.datasets.population.population_demo`.

    Parameters
    ----------
    cycles, capacity : array-like
        Cycle numbers and capacities (any unit); NaNs are left out.
    transition_cycles : float
        γ of the Bacon–Watts model, in cycles.
    confidence : float
        Level of the knee interval.
    min_points_per_side : int
        Fewest points on each side of a trial knee.
    alpha : float
        Significance level of the detection test.

    Returns
    -------
    Knee
    """
    from scipy.stats import f as fdist

    x, y = _xy(cycles, capacity)
    m = int(min_points_per_side)
    if m < 2:
        raise InvalidParameterError("min_points_per_side must be at least 2.")
    n = x.size
    if n < 2 * m + 1 or n < 8:
        raise MissingDataError(f"{n} cycles are too few to find a knee; at least {max(2 * m + 1, 8)} are needed.")
    if not 0 < confidence < 1:
        raise InvalidParameterError("confidence must be between 0 and 1.")
    gamma = float(transition_cycles)
    if gamma < 0:
        raise InvalidParameterError("transition_cycles must be ≥ 0.")
    lo, hi = x[m - 1], x[n - m]
    grid = np.arange(lo, hi + 1e-9, 0.25)
    rss = _bw_rss_many(x, y, grid, gamma)
    j = int(np.argmin(rss))
    a_, b_ = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c_, d_ = b_ - g * (b_ - a_), a_ + g * (b_ - a_)
    fc, fd = _bw_rss(x, y, c_, gamma)[0], _bw_rss(x, y, d_, gamma)[0]
    for _ in range(30):  # golden section: the bracket shrinks to ~1e-7 cycle
        if fc <= fd:
            b_, d_, fd = d_, c_, fc
            c_ = b_ - g * (b_ - a_)
            fc = _bw_rss(x, y, c_, gamma)[0]
        else:
            a_, c_, fc = c_, d_, fd
            d_ = a_ + g * (b_ - a_)
            fd = _bw_rss(x, y, d_, gamma)[0]
    best = (a_ + b_) / 2.0
    rss_best, coef = _bw_rss(x, y, best, gamma)
    if rss[j] < rss_best:
        best, (rss_best, coef) = float(grid[j]), _bw_rss(x, y, grid[j], gamma)
    dof = n - 4
    limit = rss_best * (1.0 + fdist.ppf(confidence, 1, dof) / dof)
    ci_low = _profile_edge(x, y, gamma, best, grid[(grid < best) & (rss > limit)], limit, grid[0], last=True)
    ci_high = _profile_edge(x, y, gamma, best, grid[(grid > best) & (rss > limit)], limit, grid[-1], last=False)
    slope_before, slope_after = float(coef[1] - coef[2]), float(coef[1] + coef[2])
    line = np.polyfit(x, y, 1)
    rss_line = float(np.sum((y - np.polyval(line, x)) ** 2))
    if rss_best > 0:
        f_stat = ((rss_line - rss_best) / 2.0) / (rss_best / dof)
        p = float(fdist.sf(f_stat, 2, dof))
    else:
        p = 0.0 if rss_line > 0 else 1.0
    detected = bool(slope_after < slope_before and p < alpha)
    method = "Bacon-Watts" + (f" (transition {gamma:g} cycles)" if gamma > 0 else " (sharp two-line fit)")
    if not detected:
        return Knee(np.nan, np.nan, np.nan, slope_before, slope_after, np.nan, p, False, method)
    return Knee(float(best), ci_low, ci_high, slope_before, slope_after, float(coef[0]), p, True, method)


# --------------------------------------------------------------------------- cycle life


@dataclass
class CycleLife:
    """Cycles until the capacity falls below a fraction of its reference.

    Attributes
    ----------
    cycle_life : int
        First cycle below the threshold; the last cycle measured when ``censored``.
    censored : bool
        The threshold was not reached: the true life is longer than ``cycle_life``.
    reference_capacity, threshold_capacity : float
    """

    cycle_life: int
    censored: bool
    reference_capacity: float
    threshold_capacity: float


def cycle_life(cycles, capacity, *, threshold_fraction: float = 0.8, reference_capacity: float | None = None,
               reference_cycles: int = 5, smooth_cycles: int = 5) -> CycleLife:
    """Cycle life to a capacity threshold, censored when the threshold is not reached.

    Parameters
    ----------
    cycles, capacity : array-like
        Cycle numbers and capacities.
    threshold_fraction : float
        End of life at this fraction of the reference capacity (0.8 = 80 %).
    reference_capacity : float, optional
        E.g. the nominal capacity. Default: the median of the first
        ``reference_cycles`` cycles.
    smooth_cycles : int
        Width of a centred running median applied first, so one noisy cycle does not
        end a cell's life (1 = no smoothing). A running median leaves a monotonic fade
        unchanged.

    Returns
    -------
    CycleLife
    """
    if not 0 < threshold_fraction < 1:
        raise InvalidParameterError("threshold_fraction must be between 0 and 1 (e.g. 0.8).")
    if int(reference_cycles) < 1 or int(smooth_cycles) < 1:
        raise InvalidParameterError("reference_cycles and smooth_cycles must be at least 1.")
    x, y = _xy(cycles, capacity)
    if x.size < 2:
        raise MissingDataError("at least two cycles with a capacity are needed.")
    if reference_capacity is None:
        reference_capacity = float(np.median(y[: int(reference_cycles)]))
    elif not (np.isfinite(reference_capacity) and reference_capacity > 0):
        raise InvalidParameterError("reference_capacity must be a positive number.")
    smooth = pd.Series(y).rolling(int(smooth_cycles), center=True, min_periods=1).median().to_numpy()
    threshold = threshold_fraction * float(reference_capacity)
    below = np.flatnonzero(smooth < threshold)
    if below.size:
        return CycleLife(int(x[below[0]]), False, float(reference_capacity), threshold)
    return CycleLife(int(x[-1]), True, float(reference_capacity), threshold)


# --------------------------------------------------------------------------- population


SUMMARY_COLUMNS = ["cell", "n_cycles", "initial_capacity_mAh", "fade_per_cycle", "knee_cycle", "knee_ci_low",
                   "knee_ci_high", "knee_detected", "cycle_life", "censored", "delta_q_variance_mAh2",
                   "delta_q_log10_variance", "delta_q_min_mAh", "delta_q_mean_mAh", "notes"]


def summarize_cell(table, *, name: str = "", capacity_column: str = "out_capacity_mAh", cycle_a: int = 10,
                   cycle_b: int = 100, voltage_grid_V=None, direction: str = "discharge",
                   threshold_fraction: float = 0.8, reference_cycles: int = 5, transition_cycles: float = 0.0,
                   cell_type: str = "auto") -> dict:
    """One cell's row of :func:`population_summary` (see there for the options).

    ``table`` is a canonical cycling table, the path of a cycler file (read with
    :func:`battlab.load`, so a dask worker reads its own file), or a per-cycle table
    with ``cycle`` and ``capacity_column`` (then the ΔQ(V) columns are NaN).
    """
    from battlab.echem.cycling import label_cycles, summarize_cycles
    from battlab.io import schema as S

    notes = []
    if isinstance(table, (str, Path)):
        from battlab.io.registry import load

        name = name or Path(table).stem
        table = load(table, kind="echem")
    if not isinstance(table, pd.DataFrame):
        raise InvalidParameterError(f"cell {name!r}: expected a cycling table or a file path, "
                                    f"got {type(table).__name__}.")
    timeseries = {S.TEST_TIME, S.VOLTAGE, S.CURRENT} <= set(table.columns)
    if timeseries:
        lab = label_cycles(table, cell_type=cell_type)
        per_cycle = summarize_cycles(lab, cell_type=cell_type)
    elif {"cycle", capacity_column} <= set(table.columns):
        lab, per_cycle = None, table
    else:
        raise MissingDataError(f"cell {name!r}: the table is neither a cycling record (time, voltage, current) nor "
                               f"a per-cycle table with 'cycle' and {capacity_column!r}.")
    if capacity_column not in per_cycle:
        raise MissingDataError(f"cell {name!r}: no column {capacity_column!r} in the per-cycle summary.")
    cyc = per_cycle["cycle"].to_numpy(dtype=float)
    cap = per_cycle[capacity_column].to_numpy(dtype=float)
    keep = np.isfinite(cap) & (cap > 0)
    cyc, cap = cyc[keep], cap[keep]
    row = {c: np.nan for c in SUMMARY_COLUMNS}
    row.update(cell=name, n_cycles=int(cyc.size), knee_detected=False, censored=True)
    if cyc.size < 2:
        row["notes"] = "fewer than two cycles with a capacity"
        return row
    life = cycle_life(cyc, cap, threshold_fraction=threshold_fraction, reference_cycles=reference_cycles)
    row.update(initial_capacity_mAh=life.reference_capacity, cycle_life=life.cycle_life, censored=life.censored)
    try:
        knee = capacity_knee(cyc, cap, transition_cycles=transition_cycles)
    except MissingDataError as exc:
        knee = None
        notes.append(str(exc))
    if knee is not None:
        row.update(knee_cycle=knee.knee_cycle, knee_ci_low=knee.ci_low, knee_ci_high=knee.ci_high,
                   knee_detected=knee.detected)
    if knee is not None and knee.detected:
        slope = knee.slope_before
    else:
        slope = float(np.polyfit(cyc, cap, 1)[0])
        notes.append("no knee: fade rate from a straight line over all cycles")
    row["fade_per_cycle"] = -slope / life.reference_capacity
    if lab is None:
        notes.append("per-cycle table: no voltage curves for ΔQ(V)")
    elif cyc.max() < max(cycle_a, cycle_b):
        notes.append(f"ΔQ(V) needs cycle {max(cycle_a, cycle_b)}; the cell has {int(cyc.max())}")
    else:
        try:
            dq = delta_q_v(lab, cycle_a=cycle_a, cycle_b=cycle_b, voltage_grid_V=voltage_grid_V,
                           direction=direction, cell_type=cell_type)
            row.update({k: dq.features[k] for k in ("delta_q_variance_mAh2", "delta_q_log10_variance",
                                                     "delta_q_min_mAh", "delta_q_mean_mAh")})
        except MissingDataError as exc:
            notes.append(f"ΔQ(V): {exc}")
    row["notes"] = "; ".join(notes)
    return row


def population_summary(cells: dict, *, capacity_column: str = "out_capacity_mAh", cycle_a: int = 10,
                       cycle_b: int = 100, voltage_grid_V=None, direction: str = "discharge",
                       threshold_fraction: float = 0.8, reference_cycles: int = 5, transition_cycles: float = 0.0,
                       cell_type: str = "auto", scheduler=None, n_workers: int = 0) -> pd.DataFrame:
    """One row per cell: initial capacity, early fade, knee, cycle life and ΔQ(V) features.

    Parameters
    ----------
    cells : dict
        ``{cell name: cycling table}``; a value may also be a file path (read where it is
        summarised) or a per-cycle table with ``cycle`` and ``capacity_column``.
    capacity_column : str
        Column of :func:`battlab.echem.cycling.summarize_cycles` used as the capacity
        (``out_capacity_mAh``: discharge of a full cell, delithiation of an anode half
        cell).
    cycle_a, cycle_b : int
        Cycles compared by ΔQ(V) (Severson et al.: 10 and 100).
    voltage_grid_V, direction : see :func:`delta_q_v`.
    threshold_fraction, reference_cycles : see :func:`cycle_life`.
    transition_cycles : see :func:`capacity_knee`.
    scheduler : str or distributed.Client, optional
        Address of a running dask scheduler (or a client) to spread the cells over.
    n_workers : int
        With no scheduler: 0 summarises the cells one by one here; more starts a local
        dask cluster of that many worker processes (as ``battlab batch`` does).

    Returns
    -------
    DataFrame
        ``cell``, ``n_cycles``, ``initial_capacity_mAh`` (median of the first
        ``reference_cycles``), ``fade_per_cycle`` (fraction of the initial capacity lost
        per cycle before the knee), ``knee_cycle`` with ``knee_ci_low``/``knee_ci_high``
        and ``knee_detected``, ``cycle_life`` and ``censored``, ``delta_q_variance_mAh2``,
        ``delta_q_log10_variance``, ``delta_q_min_mAh``, ``delta_q_mean_mAh``, ``notes``.
        Cells are in the order given.
    """
    if not isinstance(cells, dict) or not cells:
        raise MissingDataError("give the population as a non-empty {cell name: cycling table} dict.")
    if int(n_workers) < 0:
        raise InvalidParameterError("n_workers must be ≥ 0.")
    options = dict(capacity_column=capacity_column, cycle_a=int(cycle_a), cycle_b=int(cycle_b),
                   voltage_grid_V=voltage_grid_V, direction=direction, threshold_fraction=threshold_fraction,
                   reference_cycles=reference_cycles, transition_cycles=transition_cycles, cell_type=cell_type)
    names = [str(k) for k in cells]
    if scheduler is None and int(n_workers) == 0:
        rows = [summarize_cell(cells[k], name=str(k), **options) for k in cells]
    else:
        from distributed import Client, LocalCluster

        cluster = None
        if isinstance(scheduler, Client):
            client, own_client = scheduler, False
        else:
            if scheduler is None:
                cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True,
                                       dashboard_address=None)
            client, own_client = Client(scheduler or cluster), True
        try:
            futures = [client.submit(summarize_cell, cells[k], name=str(k), pure=False, **options) for k in cells]
            rows = client.gather(futures)
        finally:
            if own_client:
                client.close()
            if cluster is not None:
                cluster.close()
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out["cell"] = names
    out.attrs["battlab"] = {"options": {k: v for k, v in options.items() if k != "voltage_grid_V"}}
    return out


DEFAULT_HIGHLIGHT = ("initial_capacity_mAh", "fade_per_cycle", "knee_cycle", "cycle_life", "delta_q_log10_variance")


def highlight_cell(summary: pd.DataFrame, name: str, *, columns=None, cell_column: str = "cell") -> pd.DataFrame:
    """Where one cell (e.g. the imaged one) stands in its population.

    Parameters
    ----------
    summary : DataFrame
        One row per cell, e.g. :func:`population_summary`.
    name : str
        The cell to place.
    columns : sequence of str, optional
        Metrics (default: initial capacity, fade, knee, cycle life, ΔQ variance; those
        present).

    Returns
    -------
    DataFrame
        One row per metric: ``metric``, ``value``, ``n`` (cells with a value), ``rank``
        (1 = largest value), ``percentile`` (mid-rank: % of cells below plus half of
        those equal), ``population_median``, ``population_q25``, ``population_q75``,
        ``population_min``, ``population_max`` and ``note`` (e.g. a censored cycle life
        is a lower bound, so its rank is a lower bound too).
    """
    if cell_column not in summary:
        raise MissingDataError(f"the summary has no {cell_column!r} column naming the cells.")
    names = summary[cell_column].astype(str)
    if str(name) not in set(names):
        raise InvalidParameterError(f"no cell named {name!r} in the population; cells: "
                                    f"{', '.join(names.iloc[:10])}{' …' if len(names) > 10 else ''}.")
    if columns is None:
        columns = [c for c in DEFAULT_HIGHLIGHT if c in summary]
    missing = [c for c in columns if c not in summary]
    if missing:
        raise MissingDataError(f"the summary has no column {', '.join(map(repr, missing))}.")
    me = summary.loc[names == str(name)].iloc[0]
    rows = []
    for c in columns:
        values = summary[c].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        v = float(me[c]) if me[c] is not None else np.nan
        note = ""
        if c == "cycle_life" and "censored" in summary and bool(me.get("censored", False)):
            note = "censored: cycle life is at least this"
        if not np.isfinite(v) or values.size == 0:
            rows.append({"metric": c, "value": v, "n": int(values.size), "rank": np.nan, "percentile": np.nan,
                         "population_median": np.nan, "population_q25": np.nan, "population_q75": np.nan,
                         "population_min": np.nan, "population_max": np.nan,
                         "note": note or "no value for this cell"})
            continue
        below, equal = np.sum(values < v), np.sum(values == v)
        rows.append({"metric": c, "value": v, "n": int(values.size), "rank": int(np.sum(values > v) + 1),
                     "percentile": 100.0 * (below + 0.5 * equal) / values.size,
                     "population_median": float(np.median(values)),
                     "population_q25": float(np.percentile(values, 25)),
                     "population_q75": float(np.percentile(values, 75)),
                     "population_min": float(values.min()), "population_max": float(values.max()), "note": note})
    out = pd.DataFrame(rows)
    out.attrs["battlab"] = {"cell": str(name), "n_cells": int(len(summary))}
    return out


# --------------------------------------------------------------------------- reality checks


def faraday_check(charge_C, *, moles=None, volume_um3=None, molar_volume_cm3_mol: float | None = None,
                  electrons_per_formula: float = 1.0, tolerance: float = 0.1) -> pd.DataFrame:
    """Does the charge passed match the amount of material an image shows transformed?

    Faraday's law: a phase change of N moles of formula units taking z electrons each
    needs Q = z·F·N. N comes from ``moles`` or from an imaged volume and the molar
    volume of the phase (N = V / V_m).

    Parameters
    ----------
    charge_C : float or array-like
        Charge passed (C; the sign is ignored).
    moles : float or array-like, optional
        Formula units transformed (mol).
    volume_um3 : float or array-like, optional
        Imaged volume transformed (µm³), with ``molar_volume_cm3_mol``.
    molar_volume_cm3_mol : float, optional
        Molar volume of the transformed phase per formula unit (cm³/mol), i.e. molar
        mass / density.
    electrons_per_formula : float
        z, electrons per formula unit (e.g. 1 for C6 → LiC6).
    tolerance : float
        Relative difference accepted as agreement (0.1 = ±10 %).

    Returns
    -------
    DataFrame
        One row per value: ``charge_C``, ``moles`` (from the image),
        ``expected_charge_C`` (z·F·N), ``moles_from_charge`` (Q / zF), ``ratio`` (charge
        passed / expected), ``verdict`` and ``hint``.
    """
    if (moles is None) == (volume_um3 is None):
        raise InvalidParameterError("give either moles or volume_um3 (with molar_volume_cm3_mol), not both.")
    if not (np.isfinite(electrons_per_formula) and electrons_per_formula > 0):
        raise InvalidParameterError("electrons_per_formula must be positive.")
    if not (np.isfinite(tolerance) and 0 < tolerance < 1):
        raise InvalidParameterError("tolerance must be between 0 and 1 (e.g. 0.1 for ±10 %).")
    q = np.abs(np.atleast_1d(np.asarray(charge_C, dtype=float)))
    if moles is None:
        if molar_volume_cm3_mol is None or not (np.isfinite(molar_volume_cm3_mol) and molar_volume_cm3_mol > 0):
            raise InvalidParameterError("volume_um3 needs molar_volume_cm3_mol (a positive number).")
        vol = np.atleast_1d(np.asarray(volume_um3, dtype=float))
        if (vol < 0).any():
            raise InvalidParameterError("volume_um3 must be ≥ 0.")
        n = vol * 1e-12 / float(molar_volume_cm3_mol)  # µm³ → cm³
    else:
        n = np.atleast_1d(np.asarray(moles, dtype=float))
        if (n < 0).any():
            raise InvalidParameterError("moles must be ≥ 0.")
    try:
        q, n = np.broadcast_arrays(q, n)
    except ValueError as exc:
        raise InvalidParameterError(f"charge_C and the amount must have the same length ({exc}).") from exc
    expected = electrons_per_formula * FARADAY_C_MOL * n
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, q / np.where(expected > 0, expected, 1.0), np.nan)
    verdict, hint = [], []
    for r in ratio:
        if not np.isfinite(r):
            verdict.append("undetermined")
            hint.append("no transformed material in the image to compare with")
        elif abs(r - 1.0) <= tolerance:
            verdict.append("consistent")
            hint.append("")
        elif r > 1.0:
            verdict.append("more charge than imaged")
            hint.append("side reactions (SEI, plating) or material outside the field of view took charge")
        else:
            verdict.append("less charge than imaged")
            hint.append("the imaged volume is overestimated (segmentation, voxel size) or the phase change is "
                        "not all faradaic")
    out = pd.DataFrame({"charge_C": q, "moles": n, "expected_charge_C": expected,
                        "moles_from_charge": q / (electrons_per_formula * FARADAY_C_MOL), "ratio": ratio,
                        "verdict": verdict, "hint": hint})
    out.attrs["battlab"] = {"electrons_per_formula": float(electrons_per_formula), "tolerance": float(tolerance),
                            "faraday_C_mol": FARADAY_C_MOL}
    return out


def agreement(table: pd.DataFrame, columns, *, tolerance: float | None = None, z: float = 1.96) -> pd.DataFrame:
    """Pairwise agreement of estimates of one quantity by different techniques (Bland–Altman).

    Parameters
    ----------
    table : DataFrame
        One row per observation (time point or region), one column per technique's
        estimate, in the same units (e.g. SOC from the optical lithiation index, the
        XRD phase fraction and the charge passed, all 0–1).
    columns : sequence of str
        At least two estimate columns.
    tolerance : float, optional
        Largest acceptable difference; when given, a pair ``agrees`` if both limits of
        agreement lie within ±tolerance.
    z : float
        Limits of agreement are bias ± z·SD (1.96: 95 % of differences).

    Returns
    -------
    DataFrame
        One row per pair: ``a``, ``b``, ``n``, ``mean_difference`` (b − a, the bias),
        ``sd_difference``, ``rms_difference``, ``loa_low``, ``loa_high``, ``r`` (Pearson)
        and, with a tolerance, ``agrees``.
    """
    columns = list(columns)
    if len(columns) < 2:
        raise InvalidParameterError("agreement needs at least two estimate columns.")
    missing = [c for c in columns if c not in table]
    if missing:
        raise MissingDataError(f"the table has no column {', '.join(map(repr, missing))}.")
    if tolerance is not None and not (np.isfinite(tolerance) and tolerance > 0):
        raise InvalidParameterError("tolerance must be a positive number.")
    rows = []
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            x, y = table[a].to_numpy(dtype=float), table[b].to_numpy(dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            d = y[ok] - x[ok]
            n = int(d.size)
            bias = float(d.mean()) if n else np.nan
            sd = float(d.std(ddof=1)) if n > 1 else np.nan
            r = (float(np.corrcoef(x[ok], y[ok])[0, 1])
                 if n > 2 and x[ok].std() > 0 and y[ok].std() > 0 else np.nan)
            row = {"a": a, "b": b, "n": n, "mean_difference": bias, "sd_difference": sd,
                   "rms_difference": float(np.sqrt(np.mean(d * d))) if n else np.nan,
                   "loa_low": bias - z * sd, "loa_high": bias + z * sd, "r": r}
            if tolerance is not None:
                row["agrees"] = bool(n > 1 and max(abs(row["loa_low"]), abs(row["loa_high"])) <= tolerance)
            rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["battlab"] = {"z": float(z), "tolerance": tolerance}
    return out
