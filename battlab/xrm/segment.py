"""Segmentation of greyscale volumes into phases and particles.

Phases are numbered by brightness: 0 is the darkest (pores), the highest number the
densest phase. Global thresholds (Otsu, multi-Otsu, manual) are found from a histogram
accumulated chunk by chunk and applied lazily, so they work on volumes larger than
memory. Local thresholds run slice by slice; watershed splitting and size cleanup need
the volume (or a cropped region) in memory.
"""

from __future__ import annotations

import numpy as np

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["histogram", "find_thresholds", "segment", "clean_labels", "split_particles", "phase_mask",
           "drop_small_labels", "polygon_mask", "label_polygon"]


def _dask(volume):
    import dask.array as da

    data = getattr(volume, "data", volume)
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks="auto")


def _like(volume, data, name, units, **attrs):
    """A DataArray with ``volume``'s dims, coords and calibration around ``data``."""
    import xarray as xr

    if hasattr(volume, "dims"):
        keep = {k: v for k, v in volume.attrs.items() if k in ("voxel_size_um", "source_name", "source_sha256",
                                                               "source_format", "battlab")}
        out = xr.DataArray(data, dims=volume.dims, coords=volume.coords, name=name, attrs=keep)
    else:
        out = xr.DataArray(data, dims=("z", "y", "x")[-np.ndim(data):], name=name, attrs={})
    out.attrs.update(units=units, **attrs)
    return out


def histogram(volume, *, bins: int = 256):
    """Grey-value histogram of a volume, accumulated chunk by chunk.

    Returns
    -------
    (counts, centers) : ndarray, ndarray
    """
    import dask
    import dask.array as da

    data = _dask(volume)
    lo, hi = dask.compute(data.min(), data.max())
    lo, hi = float(lo), float(hi)
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise MissingDataError("the volume holds non-finite values; mask or replace them before segmenting.")
    if hi <= lo:
        raise MissingDataError(f"the volume is uniform (every voxel is {lo:g}); there is nothing to segment.")
    counts, edges = da.histogram(data, bins=int(bins), range=(lo, hi))
    counts = counts.compute()
    return counts, 0.5 * (edges[1:] + edges[:-1])


def find_thresholds(volume, *, method: str = "otsu", classes: int = 2, bins: int = 256) -> np.ndarray:
    """Global grey-level thresholds from the volume's histogram.

    Parameters
    ----------
    method : {"otsu", "multiotsu"}
        Otsu's two-class threshold, or multi-Otsu for ``classes`` phases.
    classes : int
        Number of phases for multi-Otsu (2–5).

    Returns
    -------
    ndarray
        ``classes - 1`` increasing thresholds.
    """
    from skimage.filters import threshold_multiotsu, threshold_otsu

    counts, centers = histogram(volume, bins=bins)
    if method == "otsu":
        return np.array([threshold_otsu(hist=(counts, centers))])
    if method == "multiotsu":
        if not 2 <= int(classes) <= 5:
            raise InvalidParameterError(f"classes must be 2–5 for multi-Otsu, got {classes}.")
        try:
            return np.asarray(threshold_multiotsu(hist=(counts, centers), classes=int(classes)), float)
        except ValueError:  # fewer distinct grey levels than classes
            raise MissingDataError(f"the volume has too few distinct grey levels for {classes} phases; choose fewer "
                                   "phases (or Otsu for two).") from None
    raise InvalidParameterError(f"unknown threshold method {method!r}; use 'otsu' or 'multiotsu'.")


def _digitize_block(block, thresholds):
    # Same bins as np.digitize (x >= t counts), without its int64 output: a chunk's
    # labels take one byte per voxel, which keeps chunked passes small in memory.
    out = np.zeros(block.shape, np.uint8)
    for t in thresholds:
        out += block >= t
    return out


def _local_block(block, block_size, offset):
    from skimage.filters import threshold_local

    out = np.empty(block.shape, np.uint8)
    for k, plane in enumerate(block):
        out[k] = plane > threshold_local(plane.astype(float), block_size, offset=offset)
    return out


def segment(volume, *, method: str = "otsu", classes: int = 2, thresholds=None, block_size_px: int = 51,
            offset: float = 0.0, bins: int = 256):
    """Label every voxel with a phase number (0 = darkest, e.g. pores).

    Parameters
    ----------
    volume : DataArray (z, y, x)
        Greyscale volume (NumPy- or dask-backed).
    method : {"otsu", "multiotsu", "manual", "local"}
        ``otsu``: two phases; ``multiotsu``: ``classes`` phases; ``manual``: the given
        ``thresholds``; ``local``: a threshold per neighbourhood of ``block_size_px``
        pixels in each slice (for uneven illumination or beam hardening), two phases.
    thresholds : sequence of float, optional
        Grey-level thresholds for ``manual`` (increasing).
    block_size_px : int
        Odd neighbourhood size for ``local``.
    offset : float
        Subtracted from the local threshold (``local`` only).

    Returns
    -------
    DataArray of uint8
        Lazy when the input is dask-backed; attrs ``thresholds``, ``method``,
        ``n_phases``.
    """
    import dask.array as da

    data = _dask(volume)
    if data.ndim != 3:
        raise InvalidParameterError(f"segment needs a 3-D (z, y, x) volume, got {data.ndim}-D.")
    if method in ("otsu", "multiotsu"):
        thr = find_thresholds(volume, method=method, classes=classes, bins=bins)
    elif method == "manual":
        if thresholds is None or len(np.atleast_1d(thresholds)) == 0:
            raise InvalidParameterError("method='manual' needs thresholds=[t1, t2, …] in grey levels.")
        thr = np.sort(np.atleast_1d(np.asarray(thresholds, float)))
    elif method == "local":
        size = int(block_size_px)
        if size < 3 or size % 2 == 0:
            raise InvalidParameterError(f"block_size_px must be an odd number ≥ 3, got {block_size_px}.")
        whole = data.rechunk({0: max(1, data.chunksize[0]), 1: -1, 2: -1})
        labels = whole.map_blocks(_local_block, size, float(offset), dtype=np.uint8)
        return _like(volume, labels, "phase", "phase index", method="local", thresholds=[], n_phases=2,
                     block_size_px=size)
    else:
        raise InvalidParameterError(f"unknown method {method!r}; use 'otsu', 'multiotsu', 'manual' or 'local'.")
    labels = da.map_blocks(_digitize_block, data, thr, dtype=np.uint8)
    return _like(volume, labels, "phase", "phase index", method=method, thresholds=[float(t) for t in thr],
                 n_phases=len(thr) + 1)


def phase_mask(labels, phase=0):
    """Boolean NumPy mask of one phase (or several: a sequence of phase numbers)."""
    arr = np.asarray(getattr(labels, "values", labels))
    return np.isin(arr, np.atleast_1d(phase))


def clean_labels(labels, *, min_size_voxels: int = 27):
    """Reassign islands smaller than ``min_size_voxels`` to the phase around them.

    Every connected island (face connectivity) of any phase below the size limit takes
    the phase of the nearest voxel outside the removed islands, so noise specks vanish
    without biasing one phase.

    Returns
    -------
    DataArray of uint8 (in memory), attrs ``removed_voxels``.
    """
    from scipy import ndimage as ndi

    arr = np.asarray(getattr(labels, "values", labels)).astype(np.uint8)
    if int(min_size_voxels) < 1:
        return _like(labels, arr, "phase", "phase index", removed_voxels=0)
    small = np.zeros(arr.shape, bool)
    for phase in np.unique(arr):
        lab, n = ndi.label(arr == phase)
        if n == 0:
            continue
        sizes = np.bincount(lab.ravel())
        tiny = sizes < int(min_size_voxels)
        tiny[0] = False
        small |= tiny[lab]
    if small.all():
        raise MissingDataError("every island is smaller than min_size_voxels; lower it.")
    out = arr.copy()
    if small.any():
        _, idx = ndi.distance_transform_edt(small, return_indices=True)
        out[small] = arr[tuple(i[small] for i in idx)]
    attrs = {k: v for k, v in getattr(labels, "attrs", {}).items() if k in ("thresholds", "method", "n_phases")}
    return _like(labels, out, "phase", "phase index", removed_voxels=int(small.sum()), **attrs)


def drop_small_labels(labels, *, min_size: int):
    """Remove labelled objects smaller than ``min_size`` and renumber the rest 1…n.

    Returns
    -------
    (ndarray of int32, int)
        The relabelled array (0 = background) and n.
    """
    from skimage.segmentation import relabel_sequential

    lab = np.asarray(labels).astype(np.int32)
    if int(min_size) > 1:
        sizes = np.bincount(lab.ravel())
        drop = sizes < int(min_size)
        drop[0] = False
        lab[drop[lab]] = 0
    lab, _, _ = relabel_sequential(lab)
    return lab.astype(np.int32), int(lab.max())


def split_particles(mask, *, min_distance_um: float, voxel_size_um=None, min_size_voxels: int = 8):
    """Separate touching particles by a watershed on the distance map.

    Parameters
    ----------
    mask : DataArray or ndarray of bool
        Solid (particle) voxels, e.g. ``labels == 2``.
    min_distance_um : float
        Smallest distance between two particle centres; roughly the smallest
        particle radius. Smaller values split more.
    voxel_size_um : float, optional
        Needed when ``mask`` is a bare array.
    min_size_voxels : int
        Particles smaller than this are dropped.

    Returns
    -------
    DataArray of int32
        0 = background, 1…n particles; attrs ``n_particles``.
    """
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    arr = np.asarray(getattr(mask, "values", mask)).astype(bool)
    vox = getattr(mask, "attrs", {}).get("voxel_size_um", voxel_size_um)
    if vox is None:
        raise InvalidParameterError("voxel_size_um is needed to convert min_distance_um into voxels.")
    vox = np.broadcast_to(np.asarray(vox, float), (arr.ndim,))
    if not arr.any():
        raise MissingDataError("the mask holds no particle voxels.")
    dist = ndi.distance_transform_edt(arr, sampling=vox)
    min_px = max(1, int(round(float(min_distance_um) / float(vox.min()))))
    # Smoothing merges the plateaus of the distance map so one particle gets one seed.
    peaks = peak_local_max(ndi.gaussian_filter(dist, 1.0), min_distance=min_px, labels=ndi.label(arr)[0],
                           exclude_border=False)
    markers = np.zeros(arr.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    lab, n = drop_small_labels(watershed(-dist, markers, mask=arr), min_size=min_size_voxels)
    out = _like(mask, lab, "particle", "particle id", n_particles=n)
    out.attrs["voxel_size_um"] = tuple(float(v) for v in vox)
    return out


# --------------------------------------------------------------------------- manual labels
def polygon_mask(shape, vertices_um, *, pixel_size_um) -> np.ndarray:
    """Pixels of a slice whose centres lie inside a polygon.

    Parameters
    ----------
    shape : (int, int)
        Slice shape (rows, columns) = (vertical, horizontal) axis.
    vertices_um : sequence of (horizontal_um, vertical_um)
        Polygon vertices in the slice's coordinates, pixel ``(r, c)`` sitting at
        ``(c · dh, r · dv)`` (the volume's ``x_um``/``y_um`` for a z slice).
    pixel_size_um : (float, float)
        (vertical, horizontal) pixel size in µm.

    Returns
    -------
    ndarray of bool, ``shape``
    """
    from skimage.measure import points_in_poly

    verts = np.asarray(vertices_um, float)
    if verts.ndim != 2 or verts.shape[1] != 2 or len(verts) < 3 or not np.all(np.isfinite(verts)):
        raise InvalidParameterError("a polygon needs at least three (horizontal, vertical) vertices in µm, "
                                    f"got {np.asarray(vertices_um).tolist()!r}.")
    dv, dh = (float(v) for v in pixel_size_um)
    ny, nx = (int(n) for n in shape)
    # Only the polygon's bounding box is tested point by point.
    c0 = max(0, int(np.floor(verts[:, 0].min() / dh)))
    c1 = min(nx, int(np.ceil(verts[:, 0].max() / dh)) + 1)
    r0 = max(0, int(np.floor(verts[:, 1].min() / dv)))
    r1 = min(ny, int(np.ceil(verts[:, 1].max() / dv)) + 1)
    mask = np.zeros((ny, nx), bool)
    if c1 <= c0 or r1 <= r0:
        return mask
    rr, cc = np.mgrid[r0:r1, c0:c1]
    inside = points_in_poly(np.column_stack([cc.ravel() * dh, rr.ravel() * dv]), verts)
    mask[r0:r1, c0:c1] = inside.reshape(rr.shape)
    return mask


def label_polygon(labels, vertices_um, *, phase: int, axis: str = "z", slices=None, voxel_size_um=None):
    """Assign a phase to the voxels inside a polygon drawn on a slice (or a slab of slices).

    Manual phase labelling: a region the thresholds get wrong (a crack filled with
    binder-like grey, an artefact) is outlined on a slice and given its phase; the
    same outline can be applied through a slab of slices.

    Parameters
    ----------
    labels : DataArray (z, y, x) of int
        Phase labels (:func:`segment`), lazy or in memory; left unchanged.
    vertices_um : sequence of (horizontal_um, vertical_um)
        Polygon in the slice plane, in the volume's coordinates (index × voxel size):
        (x, y) on a z slice, (x, z) on a y slice, (y, z) on an x slice.
    phase : int
        Phase number to assign (≥ 0; a number above the existing ones adds a phase).
    axis : {"z", "y", "x"}
        Axis normal to the slice.
    slices : int, (start, stop) or None
        Slice index, half-open index range ``[start, stop)`` of a slab, or None for
        every slice along ``axis``.
    voxel_size_um : optional
        Needed only for a plain array.

    Returns
    -------
    DataArray
        New labels (lazy when the input was); attrs ``n_phases`` updated and the edit
        appended to ``manual_labels``.
    """
    import dask.array as da
    import xarray as xr

    from battlab.xrm.metrics import _voxel

    if axis not in ("z", "y", "x"):
        raise InvalidParameterError(f"axis must be 'z', 'y' or 'x', got {axis!r}.")
    if int(phase) != phase or phase < 0 or phase > 254:
        raise InvalidParameterError(f"phase must be an integer 0–254, got {phase!r}.")
    if not hasattr(labels, "dims"):
        arr = np.asarray(labels)
        if arr.ndim != 3:
            raise InvalidParameterError(f"labels must be 3-D (z, y, x), got shape {arr.shape}.")
        labels = _like(None, arr, "phase", "phase index")
    vox = _voxel(labels, voxel_size_um)
    plane = [d for d in ("z", "y", "x") if d != axis]  # (vertical, horizontal) of the slice
    n = labels.sizes[axis]
    if slices is None:
        start, stop = 0, n
    elif np.ndim(slices) == 0:
        start, stop = int(slices), int(slices) + 1
    else:
        start, stop = (int(v) for v in slices)
    if not 0 <= start < stop <= n:
        raise InvalidParameterError(f"slices {slices!r} are outside the {n} slices along {axis}.")
    mask2d = polygon_mask((labels.sizes[plane[0]], labels.sizes[plane[1]]), vertices_um,
                          pixel_size_um=(vox["zyx".index(plane[0])], vox["zyx".index(plane[1])]))
    along = np.zeros(n, bool)
    along[start:stop] = True
    sel = xr.DataArray(mask2d, dims=plane) & xr.DataArray(along, dims=(axis,))
    sel = sel.transpose("z", "y", "x")
    data = labels.data
    if isinstance(data, da.Array):
        sel_data = da.from_array(sel.values, chunks=data.chunks)
        new = da.where(sel_data, np.asarray(phase, dtype=data.dtype), data)
    else:
        new = np.where(sel.values, np.asarray(phase, dtype=np.asarray(data).dtype), data)
    out = labels.copy(data=new)
    out.attrs = dict(labels.attrs)
    out.attrs["n_phases"] = max(int(labels.attrs.get("n_phases", 0) or 0), int(phase) + 1)
    edit = {"phase": int(phase), "axis": axis, "slices": [start, stop],
            "vertices_um": np.asarray(vertices_um, float).round(6).tolist(), "voxels": int(mask2d.sum()) * (stop - start)}
    out.attrs["manual_labels"] = [*labels.attrs.get("manual_labels", []), edit]
    return out
