"""Microstructure metrics of segmented volumes.

Phase fractions, porosity and per-slice profiles are dask reductions: they run chunk by
chunk on a volume larger than memory (and on a dask.distributed cluster when a
``Client`` is active). Connectivity, surface area, local thickness and particle shape
need the (cropped) volume in memory.

All lengths are in micrometres from the volume's ``voxel_size_um``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["phase_fractions", "porosity", "slice_profile", "connected_porosity", "specific_surface_area",
           "local_thickness", "size_distribution", "particle_table", "crack_table", "particle_changes"]

_AXES = ("z", "y", "x")


def _voxel(data, voxel_size_um=None):
    vox = getattr(data, "attrs", {}).get("voxel_size_um", voxel_size_um)
    if vox is None:
        raise InvalidParameterError("voxel_size_um is required for lengths and areas (the volume does not carry it).")
    return tuple(np.broadcast_to(np.asarray(vox, float), (3,)))


def _array(data):
    return np.asarray(getattr(data, "values", data))


def _lazy(data):
    import dask.array as da

    arr = getattr(data, "data", data)
    return arr if isinstance(arr, da.Array) else da.from_array(np.asarray(arr), chunks="auto")


def phase_fractions(labels, *, names: dict | None = None) -> pd.DataFrame:
    """Volume fraction of every phase (computed chunk by chunk).

    Parameters
    ----------
    labels : DataArray or array of small non-negative integers
    names : dict, optional
        Phase number -> name for the table.

    Returns
    -------
    DataFrame
        ``phase``, ``name``, ``voxels``, ``volume_fraction``, ``volume_um3`` (when the
        voxel size is known).
    """
    import dask.array as da

    lab = _lazy(labels)
    if lab.dtype.kind not in "ui":
        raise InvalidParameterError("phase_fractions needs integer phase labels (see battlab.xrm.segment).")
    counts = da.bincount(lab.ravel().astype(np.int64)).compute()
    total = counts.sum()
    if total == 0:
        raise MissingDataError("the volume is empty.")
    rows = []
    vox = getattr(labels, "attrs", {}).get("voxel_size_um")
    for k, n in enumerate(counts):
        if n == 0:
            continue
        row = {"phase": k, "name": (names or {}).get(k, f"phase {k}"), "voxels": int(n),
               "volume_fraction": n / total}
        if vox is not None:
            row["volume_um3"] = n * float(np.prod(vox))
        rows.append(row)
    return pd.DataFrame(rows)


def porosity(labels, *, pore_phase=0) -> float:
    """Fraction of voxels in the pore phase (chunk by chunk)."""
    lab = _lazy(labels)
    return float(_isin(lab, pore_phase).mean().compute())


def _isin(lab, phases):
    phases = np.atleast_1d(phases)
    out = lab == phases[0]
    for p in phases[1:]:
        out = out | (lab == p)
    return out


def slice_profile(labels, *, axis: str = "z", phases=None, names: dict | None = None) -> pd.DataFrame:
    """Phase fractions slice by slice along an axis (e.g. through the electrode thickness).

    Computed chunk by chunk: only one chunk of the volume is in memory at a time.

    Parameters
    ----------
    axis : {"z", "y", "x"}
    phases : sequence of int, optional
        Phases to profile (default: every phase present in ``attrs["n_phases"]`` or 0–1).

    Returns
    -------
    DataFrame
        ``index``, ``position_um`` and one ``fraction_<name>`` column per phase.
    """
    import dask

    if axis not in _AXES:
        raise InvalidParameterError(f"axis must be 'z', 'y' or 'x', got {axis!r}.")
    lab = _lazy(labels)
    k = _AXES.index(axis)
    others = tuple(i for i in range(3) if i != k)
    if phases is None:
        phases = range(int(getattr(labels, "attrs", {}).get("n_phases", 2)))
    phases = list(phases)
    profiles = dask.compute(*[(lab == p).mean(axis=others) for p in phases])
    vox = getattr(labels, "attrs", {}).get("voxel_size_um")
    n = lab.shape[k]
    out = pd.DataFrame({"index": np.arange(n)})
    out["position_um"] = np.arange(n) * (float(np.broadcast_to(vox, (3,))[k]) if vox is not None else np.nan)
    for p, prof in zip(phases, profiles, strict=True):
        out[f"fraction_{(names or {}).get(p, f'phase{p}')}"] = np.asarray(prof, float)
    return out


def _face_labels(mask):
    from scipy import ndimage as ndi

    # Face connectivity: pores meeting only at an edge or corner do not conduct.
    return ndi.label(mask)


def connected_porosity(labels, *, pore_phase=0) -> pd.DataFrame:
    """Total, connected and percolating porosity per axis.

    A pore cluster percolates along an axis when it touches both faces normal to it.

    Returns
    -------
    DataFrame
        One row per axis: ``axis``, ``porosity``, ``percolating_porosity`` (fraction of
        the volume in clusters spanning that axis), ``percolating_share`` (fraction of
        the pore space in them), ``percolates``, ``isolated_porosity`` (clusters that
        touch no face at all), ``n_clusters``.
    """
    mask = np.isin(_array(labels), np.atleast_1d(pore_phase))
    lab, n = _face_labels(mask)
    total = mask.mean()
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    touching = np.zeros(n + 1, bool)
    rows = []
    for k, axis in enumerate(_AXES):
        first = np.unique(np.take(lab, 0, axis=k))
        last = np.unique(np.take(lab, -1, axis=k))
        both = np.intersect1d(first, last)
        both = both[both > 0]
        touching[first] = True
        touching[last] = True
        perc = sizes[both].sum() / mask.size
        rows.append({"axis": axis, "porosity": total, "percolating_porosity": perc,
                     "percolating_share": perc / total if total > 0 else np.nan, "percolates": bool(both.size),
                     "n_clusters": n})
    touching[0] = True
    isolated = sizes[~touching].sum() / mask.size
    for row in rows:
        row["isolated_porosity"] = isolated
    return pd.DataFrame(rows)


def specific_surface_area(labels, *, phase=0, voxel_size_um=None, smooth_voxels: float = 0.7) -> float:
    """Interface area of a phase per unit volume of sample, µm⁻¹ (µm² per µm³).

    The interface is a marching-cubes surface of the lightly smoothed phase mask
    (smoothing removes most of the staircase area of a voxelised surface). Surfaces cut
    by the edges of the volume are not counted.
    """
    from scipy import ndimage as ndi
    from skimage.measure import marching_cubes, mesh_surface_area

    vox = _voxel(labels, voxel_size_um)
    mask = np.isin(_array(labels), np.atleast_1d(phase)).astype(np.float32)
    if mask.min() == mask.max():
        return 0.0
    field = ndi.gaussian_filter(mask, smooth_voxels) if smooth_voxels > 0 else mask
    verts, faces, _, _ = marching_cubes(field, 0.5, spacing=vox)
    volume = mask.size * float(np.prod(vox))
    return float(mesh_surface_area(verts, faces) / volume)


def _within_reach(points, r):
    """A superset of the voxels closer than ``r`` to any True voxel of ``points`` (cheap).

    Small radii: a cube of half-width ⌈r⌉. Larger radii: the distance between blocks of
    ``s`` voxels (s ≈ r/6) on a coarse grid, padded by one block diagonal, so the EDT runs
    on s³ times fewer voxels.
    """
    from scipy import ndimage as ndi

    shape = points.shape
    s = max(1, int(r // 6))
    if s == 1:
        reach = int(np.ceil(r))
        return ndi.maximum_filter(points.view(np.uint8), size=2 * reach + 1, mode="constant").astype(bool)
    padded = np.pad(points, [(0, (-n) % s) for n in shape])
    nz, ny, nx = (n // s for n in padded.shape)
    coarse = padded.reshape(nz, s, ny, s, nx, s).any(axis=(1, 3, 5))
    near = ndi.distance_transform_edt(~coarse) * s < r + s * np.sqrt(3)
    zi, yi, xi = (np.arange(n) // s for n in shape)
    return near[np.ix_(zi, yi, xi)]


def local_thickness(labels, *, phase=0, voxel_size_um=None, n_radii: int = 40, on_progress=None):
    """Local thickness: at each voxel, the diameter of the largest sphere that fits in
    the phase and covers the voxel (µm).

    Radii are tested from large to small on a grid of up to ``n_radii`` values of the
    distance map, so the result is exact on that grid: a voxel gets the largest grid
    radius r for which it lies closer than r to a voxel whose distance to the other
    phase is ≥ r.

    One distance transform is computed. At each radius only the centres that are new at
    that radius can reach a voxel still without a value (older centres already covered
    everything within their larger radius), and of those only the ones on the surface of
    the set {distance ≥ r} can be the nearest; voxels near them (a coarse-grid bound) are
    tested against them exactly with a k-d tree. This gives the same map as a distance
    transform per radius at a fraction of the cost.

    ``on_progress``, when given, is called with the fraction of radii done (0–1).

    Returns
    -------
    DataArray (z, y, x) of float, ``units`` µm; 0 outside the phase.
    """
    from scipy import ndimage as ndi
    from scipy.spatial import cKDTree

    from battlab.xrm.segment import _like

    vox = _voxel(labels, voxel_size_um)
    if len(set(vox)) != 1:
        raise InvalidParameterError("local_thickness needs cubic voxels; resample the volume first.")
    mask = np.isin(_array(labels), np.atleast_1d(phase))
    if not mask.any():
        raise MissingDataError(f"the volume holds no voxel of phase {phase}.")
    dt = ndi.distance_transform_edt(mask)
    radii = np.unique(dt[mask])
    if radii.size > n_radii:
        radii = np.unique(np.quantile(radii, np.linspace(0, 1, int(n_radii))))
    thick = np.zeros(mask.shape, float)
    done = ~mask  # voxels with their final value (the other phase: 0)
    upper = np.inf
    batch = 4_000_000  # query points per k-d tree call (bounds the coordinate arrays' memory)
    for i, r in enumerate(radii[::-1]):
        if on_progress is not None:
            on_progress(i / radii.size)
        seeds = dt >= r
        new = seeds & (dt < upper)
        upper = r
        if not new.any():
            continue
        own = new & ~done  # a centre is covered by its own sphere
        thick[own] = 2 * r * vox[0]
        done |= own
        surface = new & ~ndi.binary_erosion(seeds, border_value=1)
        candidates = np.flatnonzero(_within_reach(surface, r) & ~done)
        if candidates.size == 0:
            continue
        tree = cKDTree(np.argwhere(surface).astype(float))
        for start in range(0, candidates.size, batch):
            idx = candidates[start:start + batch]
            pts = np.column_stack(np.unravel_index(idx, mask.shape)).astype(float)
            dist, _ = tree.query(pts, k=1, distance_upper_bound=r, workers=-1)
            hit = idx[dist < r]
            thick.flat[hit] = 2 * r * vox[0]
            done.flat[hit] = True
    if on_progress is not None:
        on_progress(1.0)
    return _like(labels, thick, "local_thickness", "µm", phase=phase)


def size_distribution(thickness, *, bins=20) -> pd.DataFrame:
    """Volume-weighted size distribution from a local-thickness map.

    Returns
    -------
    DataFrame
        ``diameter_um`` (bin centre), ``volume_fraction`` (of the phase) and
        ``cumulative`` (fraction finer than the bin's upper edge); attrs ``d50_um``.
    """
    values = _array(thickness)
    values = values[values > 0]
    if values.size == 0:
        raise MissingDataError("the local-thickness map is empty.")
    counts, edges = np.histogram(values, bins=bins)
    frac = counts / counts.sum()
    out = pd.DataFrame({"diameter_um": 0.5 * (edges[1:] + edges[:-1]), "volume_fraction": frac,
                        "cumulative": np.cumsum(frac)})
    out.attrs["d50_um"] = float(np.median(values))
    return out


def _surface_area(sub, vox):
    from scipy import ndimage as ndi
    from skimage.measure import marching_cubes, mesh_surface_area

    padded = np.pad(sub.astype(np.float32), 2)
    field = ndi.gaussian_filter(padded, 0.7)
    if field.max() < 0.5:
        return np.nan
    verts, faces, _, _ = marching_cubes(field, 0.5, spacing=vox)
    return float(mesh_surface_area(verts, faces))


def particle_table(particles, *, voxel_size_um=None, surface: bool = True) -> pd.DataFrame:
    """Size and shape of every labelled particle.

    Parameters
    ----------
    particles : DataArray or ndarray of int
        Particle ids (0 = background), e.g. from :func:`battlab.xrm.split_particles`.
    surface : bool
        Also compute each particle's surface area (marching cubes) and sphericity
        π^(1/3)(6V)^(2/3)/A (1 for a sphere).

    Returns
    -------
    DataFrame
        ``particle``, ``volume_um3``, ``equivalent_diameter_um``, ``centroid_{z,y,x}_um``,
        ``touches_border`` and, with ``surface``, ``surface_area_um2`` and ``sphericity``.
    """
    from skimage.measure import regionprops

    vox = _voxel(particles, voxel_size_um)
    lab = _array(particles).astype(np.int32)
    rows = []
    for reg in regionprops(lab):
        vol = reg.area * float(np.prod(vox))
        z0, y0, x0, z1, y1, x1 = reg.bbox
        row = {"particle": reg.label, "volume_um3": vol, "equivalent_diameter_um": (6 * vol / np.pi) ** (1 / 3),
               "centroid_z_um": reg.centroid[0] * vox[0], "centroid_y_um": reg.centroid[1] * vox[1],
               "centroid_x_um": reg.centroid[2] * vox[2],
               "touches_border": bool(z0 == 0 or y0 == 0 or x0 == 0 or z1 == lab.shape[0] or y1 == lab.shape[1]
                                      or x1 == lab.shape[2])}
        if surface:
            area = _surface_area(reg.image, vox)
            row["surface_area_um2"] = area
            row["sphericity"] = np.pi ** (1 / 3) * (6 * vol) ** (2 / 3) / area if area > 0 else np.nan
        rows.append(row)
    cols = ["particle", "volume_um3", "equivalent_diameter_um", "centroid_z_um", "centroid_y_um", "centroid_x_um",
            "touches_border"] + (["surface_area_um2", "sphericity"] if surface else [])
    return pd.DataFrame(rows, columns=cols)


def crack_table(particles, solid, *, closing_radius_um: float, voxel_size_um=None) -> pd.DataFrame:
    """Cracks and internal voids inside each particle.

    A particle's envelope is its solid closed with a ball of ``closing_radius_um`` and
    its holes filled; crack voxels are envelope voxels that are not solid. Cracks wider
    than about twice the closing radius are not bridged and count as gaps between pieces.

    Parameters
    ----------
    particles : labelled particles (from the *closed* solid, e.g. :func:`split_particles`)
    solid : bool mask of the solid phase

    Returns
    -------
    DataFrame
        ``particle``, ``solid_volume_um3``, ``crack_volume_um3``, ``crack_fraction``
        (crack / envelope volume), ``cracked`` (crack fraction above 0.5 %).
    """
    from scipy import ndimage as ndi
    from skimage.morphology import ball

    vox = _voxel(particles, voxel_size_um)
    lab = _array(particles).astype(np.int32)
    sol = _array(solid).astype(bool)
    r = max(1, int(round(float(closing_radius_um) / vox[0])))
    rows = []
    for k, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        sl = tuple(slice(max(s.start - r - 1, 0), s.stop + r + 1) for s in sl)
        own = lab[sl] == k
        piece = sol[sl] & ndi.binary_dilation(own, iterations=r)
        env = ndi.binary_fill_holes(ndi.binary_closing(np.pad(piece, r + 1), structure=ball(r)))
        env = env[(slice(r + 1, -r - 1),) * 3] & ndi.binary_dilation(own, iterations=r)
        crack = env & ~sol[sl]
        v = float(np.prod(vox))
        frac = crack.sum() / max(env.sum(), 1)
        rows.append({"particle": k, "solid_volume_um3": (piece & own).sum() * v, "crack_volume_um3": crack.sum() * v,
                     "crack_fraction": frac, "cracked": bool(frac > 0.005)})
    return pd.DataFrame(rows, columns=["particle", "solid_volume_um3", "crack_volume_um3", "crack_fraction",
                                       "cracked"])


def particle_changes(tables, *, times=None, max_shift_um: float | None = None) -> pd.DataFrame:
    """Follow particles through an operando series of particle/crack tables.

    Particles are matched to the first time point by nearest centroid.

    Parameters
    ----------
    tables : sequence of DataFrame
        :func:`particle_table` output per time point, optionally merged with
        :func:`crack_table` columns.
    times : sequence, optional
        A label per time point (default 0, 1, …).
    max_shift_um : float, optional
        Largest centroid movement accepted as the same particle.

    Returns
    -------
    DataFrame
        One row per (time, particle of the first frame): ``volume_um3``,
        ``volume_change_pct`` (vs the first frame), crack columns when present, and
        ``crack_onset`` (the first time the particle counts as cracked).
    """
    if not tables:
        raise MissingDataError("no time points were given.")
    times = list(range(len(tables))) if times is None else list(times)
    ref = tables[0]
    cen = ["centroid_z_um", "centroid_y_um", "centroid_x_um"]
    rows = []
    for t, tab in zip(times, tables, strict=True):
        for _, p in ref.iterrows():
            d = np.sqrt(((tab[cen].to_numpy() - p[cen].to_numpy(float)) ** 2).sum(axis=1))
            if d.size == 0 or (max_shift_um is not None and d.min() > max_shift_um):
                continue
            q = tab.iloc[int(np.argmin(d))]
            row = {"time": t, "particle": int(p["particle"]), "volume_um3": q["volume_um3"],
                   "volume_change_pct": 100 * (q["volume_um3"] / p["volume_um3"] - 1)}
            for col in ("crack_volume_um3", "crack_fraction", "cracked"):
                if col in tab:
                    row[col] = q[col]
            rows.append(row)
    out = pd.DataFrame(rows)
    if "cracked" in out:
        onset = out[out["cracked"].astype(bool)].groupby("particle")["time"].min()
        out["crack_onset"] = out["particle"].map(onset)
    return out
