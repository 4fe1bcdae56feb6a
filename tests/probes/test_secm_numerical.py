"""The Cornut–Lefrou closed forms against an independent finite-volume solution of the
steady-state SECM diffusion problem (disk tip radius 1 in a glass cylinder of radius RG,
bulk concentration far away; conductor: c = bulk on the substrate, insulator: no flux).

This checks that the closed forms in battlab.probes.secm are the right ones (a wrong
coefficient shows as a several-% error), independently of any published table.
"""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

from battlab.probes.secm import bulk_current_factor, feedback_conductor, feedback_insulator

pytestmark = pytest.mark.slow


def _faces(points, h_min, h_max, growth):
    """Cell faces between breakpoints: h_min at every breakpoint, geometric growth inside."""
    faces = [points[0]]
    for a, b in zip(points[:-1], points[1:], strict=True):
        half, left, pos, h = (b - a) / 2, [], 0.0, h_min
        while pos + h < half:
            pos += h
            left.append(pos)
            h = min(h * growth, h_max)
        faces += [a + x for x in left + [half] + [b - a - x for x in reversed(left)]] + [b]
    return np.unique(np.round(faces, 12))


def _tip_current(L, rg, substrate, *, h_min=0.01, h_max=4.0, far=300.0, growth=1.12):
    """Dimensionless tip current (units n·F·D·c·a) by cell-centred finite volumes in (r, z)."""
    rf = _faces([0.0, 1.0, rg, far], h_min, h_max, growth)
    zf = _faces([0.0, L, far] if substrate else [L - far / 2, L, far], h_min, h_max, growth)
    rc, zc = 0.5 * (rf[1:] + rf[:-1]), 0.5 * (zf[1:] + zf[:-1])
    active = ~((rc[:, None] < rg) & (zc[None, :] > L))  # the glass body above the tip plane
    idx = -np.ones(active.shape, int)
    idx[active] = np.arange(active.sum())
    n = int(active.sum())
    rows, cols, vals, diag, rhs = [], [], [], np.zeros(n), np.zeros(n)
    dz, area = np.diff(zf), np.pi * (rf[1:] ** 2 - rf[:-1] ** 2)

    def link(a, c, g):
        rows.extend([a, c])
        cols.extend([c, a])
        vals.extend([-g, -g])
        np.add.at(diag, a, g)
        np.add.at(diag, c, g)

    def fixed(cells, g, value):
        np.add.at(diag, cells, g)
        np.add.at(rhs, cells, g * value)

    for i in range(rc.size - 1):
        both = active[i] & active[i + 1]
        link(idx[i, both], idx[i + 1, both], (2 * np.pi * rf[i + 1] * dz / (rc[i + 1] - rc[i]))[both])
    for j in range(zc.size - 1):
        both = active[:, j] & active[:, j + 1]
        link(idx[both, j], idx[both, j + 1], (area / (zc[j + 1] - zc[j]))[both])
    side = active[-1]
    fixed(idx[-1, side], (2 * np.pi * rf[-1] * dz / (rf[-1] - rc[-1]))[side], 1.0)
    top = active[:, -1]
    fixed(idx[top, -1], (area / (zf[-1] - zc[-1]))[top], 1.0)
    if substrate != "insulator":  # conductor substrate, or bulk far below the tip
        fixed(idx[:, 0], area / (zc[0] - zf[0]), 1.0)
    j_tip = int(np.argmin(np.abs(zf - L))) - 1
    disk = rc < 1.0
    g_tip = area[disk] / (zf[j_tip + 1] - zc[j_tip])
    np.add.at(diag, idx[disk, j_tip], g_tip)  # c = 0 on the disk
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    c = spsolve(a, rhs)
    return float(np.sum(g_tip * c[idx[disk, j_tip]]))


@pytest.fixture(scope="module")
def bulk():
    return _tip_current(1.0, 10.0, None)


def test_bulk_current_factor_matches_the_numerical_solution(bulk):
    # I_T,∞ = 4·β(RG): β(10) = 1.019 (Lefrou 2006) within 0.5 %
    assert bulk / 4 == pytest.approx(bulk_current_factor(10.0), rel=0.005)


@pytest.mark.parametrize("L,tol_cond,tol_ins", [(0.3, 0.01, 0.04), (1.0, 0.005, 0.015), (3.0, 0.015, 0.01)])
def test_feedback_curves_match_the_numerical_solution(bulk, L, tol_cond, tol_ins):
    # measured on this grid: conductor 0.3 %, 0.03 %, 1.0 % and insulator 3.3 %, 1.2 %, 0.4 % at L = 0.3, 1, 3
    assert feedback_conductor(L, rg=10.0) == pytest.approx(_tip_current(L, 10.0, "conductor") / bulk, rel=tol_cond)
    assert feedback_insulator(L, rg=10.0) == pytest.approx(_tip_current(L, 10.0, "insulator") / bulk, rel=tol_ins)
