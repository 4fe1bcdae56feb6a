"""Tortuosity factor from a steady-state diffusion simulation on the voxel grid.

Fick's law is solved with finite volumes on the conducting voxels: a fixed
concentration of 1 on the inlet face and 0 on the outlet face, no flux through the
side faces, and diffusivity ``D`` per voxel (1 in pores, 0 in solid by default; other
values model a partly conducting phase such as a porous binder). The steady flux gives
an effective diffusivity,

    D_eff / D0 = J · L / (A · Δc),

and the tortuosity factor of the pore phase is τ = ε · D0 / D_eff (Archie-style
definition: τ = 1 for straight channels, whatever their porosity ε).

Voxel faces between different diffusivities use the harmonic mean, and boundary
voxels sit half a voxel from the fixed-concentration planes, so layered media give the
series (harmonic) and parallel (arithmetic) bounds exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["tortuosity", "diffusivity_field"]

_AXES = ("z", "y", "x")


def diffusivity_field(labels, *, diffusivity: dict | None = None) -> np.ndarray:
    """Voxel diffusivities (relative to D0) from phase labels.

    ``diffusivity`` maps phase -> D/D0; phases not listed are solid (0). Default:
    phase 0 conducts (D = 1), everything else is solid.
    """
    lab = np.asarray(getattr(labels, "values", labels))
    table = {0: 1.0} if diffusivity is None else dict(diffusivity)
    field = np.zeros(lab.shape, float)
    for phase, d in table.items():
        if not np.isfinite(d) or d < 0:
            raise InvalidParameterError(f"diffusivity of phase {phase} must be ≥ 0, got {d!r}.")
        field[lab == phase] = float(d)
    return field


def _solve_axis(field, k, tol, report=None):
    from scipy import ndimage as ndi
    from scipy import sparse
    from scipy.sparse.linalg import cg

    d = np.moveaxis(field, k, 0)
    n_flow = d.shape[0]
    area = d.shape[1] * d.shape[2]
    conducting = d > 0
    lab, n = ndi.label(conducting)
    first, last = np.unique(lab[0]), np.unique(lab[-1])
    span = np.intersect1d(first[first > 0], last[last > 0])
    if span.size == 0:
        return 0.0, False, 0
    active = np.isin(lab, span)
    idx = -np.ones(d.shape, np.int64)
    n_unknown = int(active.sum())
    idx[active] = np.arange(n_unknown)
    diag = np.zeros(n_unknown)
    rows, cols, vals = [], [], []
    for ax in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[ax], b[ax] = slice(0, -1), slice(1, None)
        both = active[tuple(a)] & active[tuple(b)]
        da_, db_ = d[tuple(a)][both], d[tuple(b)][both]
        g = 2 * da_ * db_ / (da_ + db_)  # harmonic mean: exact for layers in series
        ia, ib = idx[tuple(a)][both], idx[tuple(b)][both]
        rows += [ia, ib]
        cols += [ib, ia]
        vals += [-g, -g]
        np.add.at(diag, ia, g)
        np.add.at(diag, ib, g)
    rhs = np.zeros(n_unknown)
    inlet = active[0]
    g_in = 2 * d[0][inlet]  # half a voxel to the fixed-concentration plane
    i_in = idx[0][inlet]
    np.add.at(diag, i_in, g_in)
    np.add.at(rhs, i_in, g_in)
    outlet = active[-1]
    np.add.at(diag, idx[-1][outlet], 2 * d[-1][outlet])
    rows.append(np.arange(n_unknown))
    cols.append(np.arange(n_unknown))
    vals.append(diag)
    a_mat = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(n_unknown, n_unknown))
    precond = sparse.diags(1.0 / diag)
    x0 = 1.0 - (np.nonzero(active)[0] + 0.5) / n_flow  # the straight-channel answer: a good start
    from threadpoolctl import threadpool_limits

    # CG is a chain of small vector operations: multithreaded BLAS only adds contention
    # (measured ten times slower on 2 busy cores than one thread).
    # CG gives no residual to its callback; the iteration count against a typical count for
    # this grid (a few sweeps of its longest side) is the honest progress estimate. Every
    # tenth iteration also lets an app stop a solve its user has superseded.
    expected = 4.0 * max(d.shape)
    count = [0]

    def callback(_xk):
        count[0] += 1
        if count[0] % 10 == 0:
            checkpoint()
            if report is not None:
                report(min(0.95, count[0] / expected))

    with threadpool_limits(limits=1, user_api="blas"):
        conc, info = cg(a_mat, rhs, x0=x0, rtol=tol, maxiter=20 * n_unknown, M=precond, callback=callback)
    if info != 0:
        raise MissingDataError("the diffusion solve did not converge; the pore network may be too fine or "
                               "disconnected. Try a smaller sub-volume.")
    flux = float(np.sum(g_in * (1.0 - conc[i_in])))
    return flux * n_flow / area, True, n_unknown


def tortuosity(labels, *, axes=("z", "y", "x"), diffusivity: dict | None = None, tol: float = 1e-9,
               on_progress=None) -> pd.DataFrame:
    """Tortuosity factor of the conducting phase along each axis.

    Parameters
    ----------
    labels : DataArray or ndarray of int
        Phase labels (0 = pore by default), in memory.
    axes : sequence of {"z", "y", "x"}
        Flow directions to simulate.
    diffusivity : dict, optional
        Phase -> D/D0 (default ``{0: 1.0}``: only pores conduct).
    tol : float
        Relative residual of the conjugate-gradient solve.
    on_progress : callable(float), optional
        Called with the fraction done (0–1) as the solves proceed (e.g. a progress bar).

    Returns
    -------
    DataFrame
        One row per axis: ``axis``, ``porosity`` (fraction of voxels with D > 0),
        ``D_eff_rel`` (D_eff/D0), ``tortuosity_factor`` (ε·D0/D_eff; inf when nothing
        percolates), ``percolates``, ``unknowns``.
    """
    field = diffusivity_field(labels, diffusivity=diffusivity)
    if field.ndim != 3:
        raise InvalidParameterError("tortuosity needs a 3-D volume.")
    if min(field.shape) < 2:
        raise InvalidParameterError(f"the volume {field.shape} is too thin for a diffusion simulation.")
    eps = float(np.mean(field > 0))
    d_mean = float(field[field > 0].mean()) if eps > 0 else 0.0
    rows = []
    axes = tuple(axes)
    for i, axis in enumerate(axes):
        if axis not in _AXES:
            raise InvalidParameterError(f"axes must be among 'z', 'y', 'x', got {axis!r}.")
        report = None if on_progress is None else (lambda f, i=i: on_progress((i + f) / len(axes)))
        d_eff, perc, n = _solve_axis(field, _AXES.index(axis), tol, report) if eps > 0 else (0.0, False, 0)
        if on_progress is not None:
            on_progress((i + 1) / len(axes))
        tau = eps * d_mean / d_eff if d_eff > 0 else np.inf
        rows.append({"axis": axis, "porosity": eps, "D_eff_rel": d_eff, "tortuosity_factor": tau,
                     "percolates": perc, "unknowns": n})
    return pd.DataFrame(rows)
