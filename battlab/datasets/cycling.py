"""Synthetic galvanostatic cycling of a graphite half cell with exact ground truth.

The open-circuit curve is a sum of logistic steps, so each graphite staging transition
gives a dQ/dV peak exactly at its potential (0.21, 0.12 and 0.085 V vs Li/Li+ by
default). Under current the cell voltage is OCV + I·R, so peaks move by ±|I|·R, which
the ground truth reports. Currents are logged as the mean over each sampling interval
(as cyclers log <I>), so the exact capacity of a half cycle is the sum of I·Δt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.io import schema as S

__all__ = ["make_cycling", "graphite_ocv", "operando_clock"]

#: Staging transitions of graphite: (potential V vs Li, fraction of capacity, width V).
GRAPHITE_STAGES = ((0.21, 0.17, 0.006), (0.12, 0.33, 0.005), (0.085, 0.44, 0.004))
#: A broad sloping region (dilute stage / SEI-free solid solution) above the plateaus.
GRAPHITE_SLOPE = (0.55, 0.06, 0.12)
V_MAX, V_MIN = 1.5, 0.005


def _lithiation_fraction(voltage_V, stages=GRAPHITE_STAGES, slope=GRAPHITE_SLOPE):
    v = np.asarray(voltage_V, dtype=float)
    x = np.zeros_like(v)
    for e, w, s in (*stages, slope):
        x += w / (1.0 + np.exp((v - e) / s))
    return x


def graphite_ocv(*, stages=GRAPHITE_STAGES, slope=GRAPHITE_SLOPE, n_points=150_001):
    """Open-circuit voltage of the model graphite electrode.

    Returns
    -------
    x, voltage_V : ndarray
        Lithiation fraction (0 = empty at ``V_MAX``, 1 = full at 0 V) and OCV, with
        ``x`` increasing and ``voltage_V`` decreasing.
    """
    v = np.linspace(0.0, V_MAX, n_points)
    x = _lithiation_fraction(v, stages, slope)
    x = (x - x[-1]) / (x[0] - x[-1])
    return x[::-1].copy(), v[::-1].copy()


class _Cell:
    """State of the synthetic cell while the protocol runs."""

    def __init__(self, capacity_mAh, resistance_ohm, noise_V, rng):
        self.x_grid, self.v_grid = graphite_ocv()
        self.capacity_mAh = capacity_mAh
        self.resistance_ohm = resistance_ohm
        self.noise_V = noise_V
        self.rng = rng
        self.x = 0.0
        self.t = 0.0
        self.rows = []  # (t, V, I, step)

    def ocv(self, x):
        return np.interp(x, self.x_grid, self.v_grid)

    def x_at(self, v):
        return np.interp(v, self.v_grid[::-1], self.x_grid[::-1])

    def _emit(self, t, v, i, step):
        noise = self.rng.normal(0.0, self.noise_V, size=np.shape(t)) if self.noise_V else 0.0
        self.rows.append(np.column_stack([t, np.asarray(v) + noise, np.broadcast_to(i, np.shape(t)),
                                          np.full(np.shape(t), step)]))

    def constant_current(self, current_A, *, capacity_scale_mAh, side_fraction, n_points, step):
        """Charge (I>0, delithiation) or discharge (I<0, lithiation) to the cut-off."""
        ir = current_A * self.resistance_ohm
        if current_A < 0:
            x_stop = float(self.x_at(V_MIN - ir))  # V = OCV + I·R reaches V_MIN
            x_stop = max(x_stop, self.x)
        else:
            x_stop = float(self.x_at(V_MAX - ir))
            x_stop = min(x_stop, self.x)
        dx = abs(x_stop - self.x)
        # Side reactions consume charge without moving x: more charge for the same dx.
        charge_mAh = dx * capacity_scale_mAh * (1.0 + side_fraction)
        duration_s = charge_mAh / (abs(current_A) * 1e3) * 3600.0
        t = self.t + np.linspace(0.0, duration_s, n_points + 1)[1:]
        x = self.x + np.sign(x_stop - self.x) * dx * (t - self.t) / duration_s
        self._emit(t, self.ocv(x) + ir, current_A, step)
        self.t += duration_s
        self.x = x_stop
        return charge_mAh, duration_s

    def constant_voltage(self, voltage_V, current0_A, *, cutoff_fraction,
                         capacity_scale_mAh, side_fraction, n_points, step):
        """Hold at ``voltage_V`` until |I| decays to ``cutoff_fraction``·|I0|.

        The current decays as I0·exp(-t/tau), with tau set so that the charge passed to
        infinity equals what the electrode can still take at that voltage.
        """
        x_full = float(self.x_at(voltage_V)) if current0_A < 0 else 0.0
        remaining_mAh = abs(x_full - self.x) * capacity_scale_mAh * (1.0 + side_fraction)
        tau_s = max(remaining_mAh * 3.6 / abs(current0_A), 1.0)
        duration_s = tau_s * np.log(1.0 / cutoff_fraction)
        edges = np.linspace(0.0, duration_s, n_points + 1)
        # Interval-mean current of an exponential decay: exact, as a cycler's <I> would be.
        q_edges = current0_A * tau_s * (1.0 - np.exp(-edges / tau_s))
        i_mean = np.diff(q_edges) / np.diff(edges)
        charge_mAh = abs(q_edges[-1]) / 3.6
        dx = charge_mAh / (capacity_scale_mAh * (1.0 + side_fraction))
        self._emit(self.t + edges[1:], np.full(n_points, voltage_V), i_mean, step)
        self.t += duration_s
        self.x = min(1.0, self.x + dx) if current0_A < 0 else max(0.0, self.x - dx)
        return charge_mAh, duration_s

    def rest(self, duration_s, *, n_points, step, tau_s=120.0):
        """Open circuit: the voltage relaxes from the last value to the OCV."""
        v_last = self.rows[-1][-1, 1] if self.rows else float(self.ocv(self.x))
        v_ocv = float(self.ocv(self.x))
        t_rel = np.linspace(0.0, duration_s, n_points + 1)[1:]
        v = v_ocv + (v_last - v_ocv) * np.exp(-t_rel / tau_s)
        self._emit(self.t + t_rel, v, 0.0, step)
        self.t += duration_s


def make_cycling(*, n_cycles: int = 100, active_mass_mg: float = 12.5,
                 specific_capacity_mAh_g: float = 350.0, first_cycle_loss: float = 0.08,
                 side_reaction_fraction: float = 0.002, fade_per_cycle: float = 0.0008,
                 resistance_ohm: float = 8.0,
                 rate_block=((0.1, 3), (0.2, 3), (0.5, 3), (1.0, 3), (2.0, 3), (5.0, 3), (0.1, 3)),
                 formation_cycles: int = 2, formation_c_rate: float = 0.1,
                 long_term_c_rate: float = 0.5, cv_hold: bool = True,
                 points_per_half_cycle: int = 200, rest_s: float = 600.0,
                 noise_V: float = 0.0003, start_time: str = "2026-01-05T09:00:00Z",
                 rng=0) -> Demo:
    """Galvanostatic cycling of a graphite ‖ Li half cell.

    Protocol: ``formation_cycles`` at ``formation_c_rate``, then the ``rate_block``
    ((C-rate, cycles) pairs, constant current both ways), then cycles at
    ``long_term_c_rate`` with a constant-voltage hold at the lithiation cut-off when
    ``cv_hold``. Every cycle starts with lithiation (negative current), as graphite
    half cells do; rests separate half cycles.

    Parameters
    ----------
    n_cycles : int
        Total number of cycles (formation + rate block + long-term).
    active_mass_mg, specific_capacity_mAh_g : float
        Define the nominal capacity that sets 1C.
    first_cycle_loss : float
        Fraction of the first lithiation lost to SEI formation (ICE = 1 − loss).
    side_reaction_fraction : float
        Extra lithiation charge per later cycle (CE = 1 / (1 + fraction)).
    fade_per_cycle : float
        Fractional loss of active capacity per cycle.
    resistance_ohm : float
        Ohmic polarisation; shifts dQ/dV peaks by ±|I|·R and limits high-rate capacity.
    rng : int or numpy.random.Generator
        Seed for the voltage noise.

    Returns
    -------
    Demo
        ``data``: canonical DataFrame. ``truth``: ``cycles`` (exact lithiation and
        delithiation capacities per cycle from I·Δt, C-rate, current), the plateau
        potentials, resistance, nominal capacity, active mass.
    """
    rng = np.random.default_rng(rng)
    nominal_mAh = active_mass_mg * 1e-3 * specific_capacity_mAh_g
    cell = _Cell(nominal_mAh, resistance_ohm, noise_V, rng)

    schedule = [formation_c_rate] * formation_cycles
    for c_rate, count in rate_block:
        schedule += [c_rate] * count
    long_term = max(0, n_cycles - len(schedule))
    schedule = schedule[:n_cycles] + [long_term_c_rate] * long_term
    in_rate_block = [formation_cycles <= k < formation_cycles + sum(c for _, c in rate_block)
                     for k in range(n_cycles)]

    truth_rows = []
    step = 0
    cell.rest(rest_s, n_points=10, step=step)
    for k, c_rate in enumerate(schedule):
        cycle = k + 1
        scale = nominal_mAh * (1.0 - fade_per_cycle) ** k
        side = first_cycle_loss / (1.0 - first_cycle_loss) if k == 0 else side_reaction_fraction
        current = c_rate * nominal_mAh * 1e-3
        step += 1
        q_lith, t_lith = cell.constant_current(-current, capacity_scale_mAh=scale, side_fraction=side,
                                               n_points=points_per_half_cycle, step=step)
        q_cv = 0.0
        if cv_hold and not in_rate_block[k]:
            step += 1
            q_cv, _ = cell.constant_voltage(V_MIN, -current, cutoff_fraction=0.1, capacity_scale_mAh=scale,
                                            side_fraction=side, n_points=50, step=step)
        step += 1
        cell.rest(rest_s, n_points=10, step=step)
        step += 1
        q_delith, t_delith = cell.constant_current(current, capacity_scale_mAh=scale, side_fraction=0.0,
                                                   n_points=points_per_half_cycle, step=step)
        step += 1
        cell.rest(rest_s, n_points=10, step=step)
        truth_rows.append({
            "cycle": cycle, "c_rate": c_rate, "current_A": current,
            "lithiation_capacity_mAh": q_lith + q_cv, "cv_capacity_mAh": q_cv,
            "delithiation_capacity_mAh": q_delith,
            "coulombic_efficiency": q_delith / (q_lith + q_cv),
        })

    arr = np.concatenate(cell.rows)
    df = pd.DataFrame({
        S.TEST_TIME: arr[:, 0],
        S.VOLTAGE: arr[:, 1],
        S.CURRENT: arr[:, 2],
        S.STEP: arr[:, 3].astype(np.int64),
    })
    t0 = pd.Timestamp(start_time).timestamp()
    df.insert(1, S.UNIX_TIME, t0 + df[S.TEST_TIME].to_numpy())
    meta = S.empty_metadata(format_name="battlab-demo", source_name="demo:graphite-half-cell",
                            sha256="")
    meta.update(technique="cycling", start_time_utc=pd.Timestamp(start_time).isoformat(),
                notes=["synthetic graphite half cell generated by battlab.datasets.make_cycling"])
    df.attrs["battlab"] = meta
    truth = {
        "cycles": pd.DataFrame(truth_rows),
        "plateau_potentials_V": tuple(s[0] for s in GRAPHITE_STAGES),
        "resistance_ohm": resistance_ohm,
        "nominal_capacity_mAh": nominal_mAh,
        "active_mass_mg": active_mass_mg,
        "specific_capacity_mAh_g": specific_capacity_mAh_g,
        "cell_type": "anode_half",
    }
    return Demo(data=df, truth=truth,
                description="Graphite half cell: formation, C/10–5C rate test, then C/2 with CV holds.")


def operando_clock(n_samples: int, *, rng=0):
    """One lithiation/delithiation of a :func:`make_cycling` half cell, sampled for an operando series.

    Returns
    -------
    cycling : DataFrame
        The canonical cycling table.
    times_s : ndarray
        ``n_samples`` acquisition times (``test_time_s``), evenly spread over the record.
    x_lithiation : ndarray
        State of lithiation (0–1, from the charge passed) at those times.
    stamps_utc : list of str
        ISO 8601 UTC timestamps of those times on the cycling clock.
    """
    import pandas as pd

    cyc = make_cycling(n_cycles=1, formation_cycles=1, rate_block=(), points_per_half_cycle=200, rng=rng)
    df = cyc.data
    t = df["test_time_s"].to_numpy()
    dt = np.diff(t, prepend=t[0])
    # State of lithiation from the charge passed (lithiation = negative current).
    q = np.cumsum(-df["current_A"].to_numpy() * dt)
    x_li = np.clip(q / np.max(q), 0, 1)
    times = np.linspace(t[0], t[-1], n_samples)
    stamps = [pd.Timestamp(df["unix_time_s"].iloc[0] + (ti - t[0]), unit="s", tz="UTC").isoformat() for ti in times]
    return df, times, np.interp(times, t, x_li), stamps
