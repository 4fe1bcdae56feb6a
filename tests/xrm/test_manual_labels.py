"""Manual phase labelling: a polygon drawn on a slice assigns its phase to exactly the
voxels whose centres it encloses, on one slice or through a slab."""

import dask.array as da
import numpy as np
import pytest

from battlab.errors import InvalidParameterError
from battlab.xrm import label_polygon, make_volume, polygon_mask, segment


def _labels(shape=(10, 20, 30), vox=0.5, lazy=True):
    vol = make_volume(da.zeros(shape, chunks=(4, 20, 30)) if lazy else np.zeros(shape), voxel_size_um=vox)
    return segment(vol, method="manual", thresholds=[1.0])  # all phase 0, lazy


def test_rectangle_on_a_slab_labels_exact_counts():
    lab = _labels()
    # x from 2.25 to 7.25 µm: voxel centres 2.5 … 7.0 (columns 5–14, 10 of them);
    # y from 1.25 to 4.25 µm: rows 3–8 (6 rows); slab z = 2, 3, 4.
    rect = [(2.25, 1.25), (7.25, 1.25), (7.25, 4.25), (2.25, 4.25)]
    out = label_polygon(lab, rect, phase=2, axis="z", slices=(2, 5))
    assert out.chunks == lab.chunks  # stays lazy, chunk for chunk
    vals = out.values
    assert np.count_nonzero(vals == 2) == 10 * 6 * 3
    assert np.all(vals[2:5, 3:9, 5:15] == 2) and np.count_nonzero(vals[[0, 1, 5, 6, 7, 8, 9]]) == 0
    assert out.attrs["n_phases"] == 3 and out.attrs["manual_labels"][0]["voxels"] == 180
    assert np.count_nonzero(lab.values) == 0  # the input is unchanged
    # One slice only, and every slice.
    assert np.count_nonzero(label_polygon(lab, rect, phase=1, slices=7).values) == 60
    assert np.count_nonzero(label_polygon(lab, rect, phase=1).values) == 600


def test_diamond_on_other_axes_counts_lattice_points():
    lab = _labels(shape=(21, 22, 23), vox=1.0, lazy=False)
    # |du| + |dv| < 3.5 around (10, 10) encloses the 25 lattice points with |a| + |b| ≤ 3.
    diamond = [(6.5, 10), (10, 6.5), (13.5, 10), (10, 13.5)]
    assert polygon_mask((22, 23), diamond, pixel_size_um=(1.0, 1.0)).sum() == 25
    out = label_polygon(lab, diamond, phase=1, axis="x", slices=4)  # plane (z, y): horizontal y, vertical z
    vals = out.values
    assert np.count_nonzero(vals) == 25 and np.count_nonzero(vals[:, :, 4]) == 25
    assert vals[10, 10, 4] == 1 and vals[7, 10, 4] == 1 and vals[10, 13, 4] == 1 and vals[11, 13, 4] == 0
    out = label_polygon(out, diamond, phase=3, axis="y", slices=(0, 2))
    assert np.count_nonzero(out.values == 3) == 50 and len(out.attrs["manual_labels"]) == 2


def test_bad_polygons_are_refused():
    lab = _labels()
    with pytest.raises(InvalidParameterError, match="three"):
        label_polygon(lab, [(0, 0), (1, 1)], phase=1)
    with pytest.raises(InvalidParameterError, match="outside"):
        label_polygon(lab, [(0, 0), (1, 0), (1, 1)], phase=1, slices=(5, 40))
    with pytest.raises(InvalidParameterError, match="phase"):
        label_polygon(lab, [(0, 0), (1, 0), (1, 1)], phase=-1)
