"""Synthetic GITT and PITT experiments on a dense thin-film electrode with known D(x).

The electrode is a planar film of thickness L on an inert current collector: lithium
enters or leaves through the electrolyte face only (flux boundary condition there,
no flux at the collector). Fick's second law with a composition-dependent diffusion
coefficient, ∂x/∂t = ∂/∂y (D(x) ∂x/∂y), is solved by finite volumes on a grid refined
towards the surface, with variable-step BDF2 in time (a backward-Euler step after each
switch of the current). The cell voltage is OCV(x at the surface) + I·R.

Because the film is dense, the Weppner–Huggins geometry factor m_B·V_M/(M_B·S) equals
the thickness L, so both forms of the formula apply to the same data. The truth
tables give D(x) at the mid composition of each pulse/step, the composition before
and after, and whether the pulse sits on the two-phase-like plateau of the OCV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo
from battlab.io import schema as S

__all__ = ["FARADAY", "film_diffusivity", "film_ocv", "make_gitt", "make_pitt"]

FARADAY = 96485.33212  # C/mol

#: OCV model: sloping solid solution (centre E0, width a) plus a sharp plateau
#: (potential Ep, width d, share w of the composition range).
OCV_PARAMS = {"E0_V": 3.90, "a_V": 0.07, "Ep_V": 3.86, "d_V": 0.0015, "w": 0.18}
#: log10 D(x): a linear trend with a dip centred on the plateau (the classic GITT picture).
D_PARAMS = {"log10_D_at_0": -9.55, "slope_per_x": -0.9, "dip_decades": 0.5, "dip_x": 0.60, "dip_width": 0.10}


def _x_of_E(E, p=OCV_PARAMS):
    E = np.asarray(E, dtype=float)
    return ((1 - p["w"]) / (1 + np.exp((E - p["E0_V"]) / p["a_V"]))
            + p["w"] / (1 + np.exp((E - p["Ep_V"]) / p["d_V"])))


_E_GRID = np.linspace(3.0, 4.8, 400_001)
_X_UP = np.ascontiguousarray(_x_of_E(_E_GRID)[::-1])  # increasing x
_E_DOWN = np.ascontiguousarray(_E_GRID[::-1])


def film_ocv(x):
    """Open-circuit voltage (V) of the model film at Li fraction ``x`` (0 < x < 1).

    The composition x(E) is a broad Nernst-like sigmoid plus a sharp one that makes a
    nearly flat plateau near 3.86 V over x ≈ 0.43–0.61; E(x) is its exact inverse
    (interpolated on a 4.5 µV grid).
    """
    return np.interp(np.asarray(x, dtype=float), _X_UP, _E_DOWN)


def film_plateau(x, *, p=OCV_PARAMS):
    """True where the OCV is within 4 widths of the plateau potential (two-phase-like)."""
    return np.abs(film_ocv(x) - p["Ep_V"]) < 4 * p["d_V"]


def film_diffusivity(x, *, p=D_PARAMS):
    """Chemical diffusion coefficient D(x) in cm²/s of the model film (≈ 1e-10 to 3e-10)."""
    x = np.asarray(x, dtype=float)
    log10 = (p["log10_D_at_0"] + p["slope_per_x"] * x
             - p["dip_decades"] * np.exp(-((x - p["dip_x"]) / p["dip_width"]) ** 2))
    return 10.0 ** log10


class _Film:
    """Finite-volume diffusion in a planar film; composition x per cell."""

    def __init__(self, thickness_cm, x0, diffusivity, n_cells=90, growth=1.07):
        # scipy is imported here, not at the top, so `import battlab.datasets` stays light.
        from scipy.linalg import solve_banded

        self.solve = solve_banded
        h = growth ** np.arange(n_cells)
        h *= thickness_cm / h.sum()  # thinnest cell at the surface (y = 0)
        self.h = h
        centres = np.cumsum(h) - h / 2
        self.dy = np.diff(centres)
        self.x = np.full(n_cells, float(x0))
        self.x_prev = None
        self.dt_prev = None
        self.D = diffusivity

    def surface(self, flux):
        """x at y = 0 from the first cell and the imposed flux (−D ∂x/∂y = flux)."""
        return self.x[0] + flux * self.h[0] / (2 * self.D(self.x[0]))

    def step(self, dt, flux, restart=False):
        """Advance by ``dt`` with influx ``flux`` (x·cm/s) at the surface."""
        x = self.x
        if restart or self.x_prev is None:
            omega, a0, guess = None, 1.0, x
        else:
            omega = dt / self.dt_prev
            a0 = (1 + 2 * omega) / (1 + omega)
            guess = x + omega * (x - self.x_prev)  # extrapolated state for D at the faces
        xf = 0.5 * (guess[1:] + guess[:-1])
        g = self.D(np.clip(xf, 1e-6, 1 - 1e-6)) / self.dy
        h = self.h
        n = len(h)
        ab = np.zeros((3, n))
        ab[1] = a0
        ab[1, :-1] += dt * g / h[:-1]
        ab[1, 1:] += dt * g / h[1:]
        ab[0, 1:] = -dt * g / h[:-1]
        ab[2, :-1] = -dt * g / h[1:]
        if omega is None:
            rhs = x.copy()
        else:
            rhs = (1 + omega) * x - omega ** 2 / (1 + omega) * self.x_prev
        rhs[0] += dt * flux / h[0]
        new = self.solve((1, 1), ab, rhs)
        self.x_prev, self.dt_prev, self.x = x, dt, new

    def mean(self):
        return float(np.dot(self.h, self.x) / self.h.sum())


def _steps(duration, first, growth, max_dt):
    """Step sizes: geometric from ``first`` up to ``max_dt``, summing exactly to duration."""
    out, t = [], 0.0
    dt = first
    while t + dt < duration * (1 - 1e-9):
        out.append(dt)
        t += dt
        dt = min(dt * growth, max_dt)
    out.append(duration - t)
    if len(out) > 1 and out[-1] < 0.3 * out[-2]:  # avoid a sliver step at the end
        out[-2] += out.pop()
    return np.array(out)


def _geometry(thickness_um, area_cm2, molar_mass_g_mol, density_g_cm3):
    thickness_cm = thickness_um * 1e-4
    volume_cm3 = thickness_cm * area_cm2
    mass_g = volume_cm3 * density_g_cm3
    molar_volume = molar_mass_g_mol / density_g_cm3
    moles = mass_g / molar_mass_g_mol
    return thickness_cm, mass_g, molar_volume, moles


def _frame(rows, technique, source, start_time, notes):
    arr = np.concatenate([np.asarray(r, dtype=float) for r in rows])
    df = pd.DataFrame({S.TEST_TIME: arr[:, 0], S.VOLTAGE: arr[:, 1], S.CURRENT: arr[:, 2],
                       S.STEP: arr[:, 3].astype(np.int64)})
    t0 = pd.Timestamp(start_time).timestamp()
    df.insert(1, S.UNIX_TIME, t0 + df[S.TEST_TIME].to_numpy())
    meta = S.empty_metadata(format_name="battlab-demo", source_name=source, sha256="")
    meta.update(technique=technique, start_time_utc=pd.Timestamp(start_time).isoformat(), notes=notes)
    df.attrs["battlab"] = meta
    return df


def make_gitt(*, direction: str = "discharge", x_start: float | None = None, delta_x: float = 0.004,
              n_pulses: int = 190, pulse_s: float = 60.0, rest_s: float = 2400.0, initial_rest_s: float = 600.0,
              thickness_um: float = 2.0, area_cm2: float = 1.0, molar_mass_g_mol: float = 97.87,
              density_g_cm3: float = 5.05, resistance_ohm: float = 4.0, noise_V: float = 1e-5,
              n_cells: int = 90, start_time: str = "2026-02-02T08:00:00Z", rng=0) -> Demo:
    """GITT on a dense intercalation film with a known D(x) and OCV(x).

    Each titration unit is a constant-current pulse of ``pulse_s`` passing ``delta_x``
    Li per formula unit, then an open-circuit rest of ``rest_s``. The first sample after
    every switch comes 0.2 % of the pulse duration later (as a cycler's voltage trigger
    records it); sampling then coarsens geometrically.

    Parameters
    ----------
    direction : {"discharge", "charge"}
        "discharge" lithiates (negative current, x rises from ``x_start``, default
        0.08); "charge" delithiates (positive current, x falls from 0.90 by default).
    delta_x, n_pulses, pulse_s, rest_s : float, int
        Titration protocol. τ·D/L² stays between ~0.03 and ~0.35 for the defaults.
    thickness_um, area_cm2, molar_mass_g_mol, density_g_cm3 : float
        Film geometry; mass and molar volume follow (reported in ``truth``).
    resistance_ohm : float
        Ohmic resistance (the instantaneous IR drop is I·R).
    noise_V : float
        Gaussian voltage noise (V).
    rng : int or numpy.random.Generator
        Seed for the noise.

    Returns
    -------
    Demo
        ``data``: canonical table. ``truth``: geometry (``active_mass_mg``,
        ``molar_mass_g_mol``, ``molar_volume_cm3_mol``, ``area_cm2``, ``thickness_um``),
        ``resistance_ohm`` and ``pulses`` (one row per pulse: current, τ, x before/after,
        ``diffusion_coefficient_cm2_s`` = D(x) at the mid composition, ``ocv_V`` at the end
        of the rest, ``plateau``).
    """
    if direction not in ("discharge", "charge"):
        from battlab.errors import InvalidParameterError

        raise InvalidParameterError("direction must be 'discharge' or 'charge'.")
    rng = np.random.default_rng(rng)
    sign = 1.0 if direction == "discharge" else -1.0  # dx per pulse
    if x_start is None:
        x_start = 0.08 if direction == "discharge" else 0.90
    L, mass_g, vm, moles = _geometry(thickness_um, area_cm2, molar_mass_g_mol, density_g_cm3)
    current = -sign * delta_x * FARADAY * moles / pulse_s  # A; lithiation is negative current
    flux = sign * delta_x * L / pulse_s  # x·cm/s into the film
    film = _Film(L, x_start, film_diffusivity, n_cells=n_cells)

    rows, truth = [], []
    t = 0.0
    step = 0
    t_rest = np.arange(60.0, initial_rest_s + 1e-9, 60.0)
    v0 = film_ocv(x_start)
    rows.append(np.column_stack([np.r_[0.0, t_rest], np.full(len(t_rest) + 1, v0), np.zeros(len(t_rest) + 1),
                                 np.zeros(len(t_rest) + 1)]))
    t = float(initial_rest_s)

    def run(duration, i_A, fl, step_no):
        nonlocal t
        base = min(duration, pulse_s)
        # Fine solver steps right after the switch (the √t response starts there); rows
        # are recorded from 0.2 % of the pulse on, each ≥ 15 % later than the one before.
        dts = _steps(duration, 1e-5 * base, 1.2, duration / 60)
        out = []
        elapsed, next_record = 0.0, 2e-3 * base
        for k, dt in enumerate(dts):
            film.step(dt, fl, restart=(k == 0))
            t += dt
            elapsed += dt
            if elapsed >= next_record * (1 - 1e-9) or k == len(dts) - 1:
                out.append((t, film_ocv(film.surface(fl)) + i_A * resistance_ohm, i_A, step_no))
                next_record = elapsed * 1.15
        rows.append(np.array(out))

    for k in range(n_pulses):
        x_before = film.mean()
        step += 1
        run(pulse_s, current, flux, step)
        x_after = film.mean()
        step += 1
        run(rest_s, 0.0, 0.0, step)
        x_mid = 0.5 * (x_before + x_after)
        truth.append({"pulse": k + 1, "current_A": current, "tau_s": pulse_s, "x_before": x_before,
                      "x_after": x_after, "x_mid": x_mid,
                      "diffusion_coefficient_cm2_s": float(film_diffusivity(x_mid)),
                      "ocv_V": float(film_ocv(x_after)),
                      "surface_to_bulk_gap_end": float(film.x[0] - film.x[-1]),
                      "plateau": bool(film_plateau(x_before) | film_plateau(x_after) | film_plateau(x_mid))})
    df = _frame(rows, "gitt", "demo:gitt-thin-film", start_time,
                ["synthetic GITT on a dense thin film (battlab.datasets.make_gitt)"])
    if noise_V:
        df[S.VOLTAGE] += rng.normal(0.0, noise_V, len(df))
    info = {
        "active_mass_mg": mass_g * 1e3, "molar_mass_g_mol": molar_mass_g_mol,
        "molar_volume_cm3_mol": vm, "area_cm2": area_cm2, "thickness_um": thickness_um,
        "resistance_ohm": resistance_ohm, "noise_V": noise_V, "x_initial": x_start,
        "direction": direction, "pulses": pd.DataFrame(truth),
    }
    return Demo(data=df, truth=info,
                description=f"Thin-film GITT ({direction}), {n_pulses} pulses, known D(x) with a dip at a plateau.")


def make_pitt(*, step_mV: float = 10.0, n_steps: int = 20, step_s: float = 900.0, start_V: float = 4.05,
              direction: str = "discharge", thickness_um: float = 2.0, area_cm2: float = 1.0,
              molar_mass_g_mol: float = 97.87, density_g_cm3: float = 5.05,
              diffusion_coefficient_cm2_s: float = 1.5e-10, noise_A: float = 0.0, n_cells: int = 90,
              start_time: str = "2026-02-09T08:00:00Z", rng=0) -> Demo:
    """PITT on the same film with a constant, known D.

    The potential starts at ``start_V`` (equilibrium) and steps by ``step_mV``
    (down for "discharge", up for "charge") every ``step_s``. The potentiostat holds the
    surface at the set potential (no ohmic drop), so the current decays as the
    Fourier series whose long-time term is I ∝ exp(−π²·D·t/(4·L²)).

    Returns
    -------
    Demo
        ``truth``: geometry, ``diffusion_coefficient_cm2_s`` and ``steps`` (potential,
        charge and x before/after per step).
    """
    rng = np.random.default_rng(rng)
    L, mass_g, vm, moles = _geometry(thickness_um, area_cm2, molar_mass_g_mol, density_g_cm3)
    D = float(diffusion_coefficient_cm2_s)
    sgn = -1.0 if direction == "discharge" else 1.0
    film = _Film(L, float(_x_of_E(start_V)), lambda x: np.full(np.shape(x), D), n_cells=n_cells)
    rows = [np.column_stack([np.arange(0.0, 601.0, 60.0), np.full(11, start_V), np.zeros(11), np.zeros(11)])]
    t = 600.0
    truth = []
    for k in range(n_steps):
        v = start_V + sgn * (k + 1) * step_mV * 1e-3
        xs = float(_x_of_E(v))
        x_before = film.mean()
        dts = _steps(step_s, 0.05, 1.12, step_s / 150)
        out = np.empty((len(dts), 4))
        for j, dt in enumerate(dts):
            before = film.mean()
            _dirichlet_step(film, dt, xs, D, restart=(j == 0))
            t += dt
            # Interval-mean current (as cyclers log <I>): exactly the charge the film took up.
            current = -(film.mean() - before) * FARADAY * moles / dt
            out[j] = (t, v, current, k + 1)
        x_after = film.mean()
        truth.append({"step": k + 1, "potential_V": v, "x_before": x_before, "x_after": x_after,
                      "charge_C": -(x_after - x_before) * FARADAY * moles})
        rows.append(out)
    df = _frame(rows, "pitt", "demo:pitt-thin-film", start_time,
                ["synthetic PITT on a dense thin film (battlab.datasets.make_pitt)"])
    if noise_A:
        df[S.CURRENT] += rng.normal(0.0, noise_A, len(df)) * (df[S.CURRENT] != 0)
    info = {"active_mass_mg": mass_g * 1e3, "molar_mass_g_mol": molar_mass_g_mol, "molar_volume_cm3_mol": vm,
            "area_cm2": area_cm2, "thickness_um": thickness_um, "diffusion_coefficient_cm2_s": D,
            "steps": pd.DataFrame(truth)}
    return Demo(data=df, truth=info,
                description=f"Thin-film PITT, {n_steps} steps of {step_mV:g} mV, D = {D:g} cm²/s.")


def _dirichlet_step(film, dt, xs, D, restart):
    """One implicit step with x fixed at ``xs`` on the surface."""
    h = film.h
    x = film.x
    if restart or film.x_prev is None:
        omega, a0 = None, 1.0
    else:
        omega = dt / film.dt_prev
        a0 = (1 + 2 * omega) / (1 + omega)
    g = D / film.dy
    gs = D / (h[0] / 2)  # conductance from the surface to the first cell centre
    n = len(h)
    ab = np.zeros((3, n))
    ab[1] = a0
    ab[1, :-1] += dt * g / h[:-1]
    ab[1, 1:] += dt * g / h[1:]
    ab[0, 1:] = -dt * g / h[:-1]
    ab[2, :-1] = -dt * g / h[1:]
    ab[1, 0] += dt * gs / h[0]
    rhs = x.copy() if omega is None else (1 + omega) * x - omega ** 2 / (1 + omega) * film.x_prev
    rhs[0] += dt * gs * xs / h[0]
    new = film.solve((1, 1), ab, rhs)
    film.x_prev, film.dt_prev, film.x = x, dt, new
