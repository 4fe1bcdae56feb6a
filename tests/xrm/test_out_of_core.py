"""Chunked (out-of-core) analysis gives the same numbers as the in-memory one."""

import dask
import dask.array as da
import numpy as np
import pytest
import tifffile

from battlab.datasets.xrm import make_packed_spheres
from battlab.xrm import open_volume, phase_fractions, porosity, segment, slice_profile, write_zarr_volume


@pytest.fixture(scope="module")
def demo():
    return make_packed_spheres(shape=(48, 40, 36), seed=5)


def _in_memory(vol, thresholds):
    lab = np.digitize(np.asarray(vol), thresholds)
    return (lab == 0).mean(), (lab == 0).mean(axis=(1, 2)), np.bincount(lab.ravel()) / lab.size


@pytest.mark.parametrize("fmt", ["zarr", "tiff"])
def test_chunked_porosity_and_profile_equal_in_memory(tmp_path, demo, fmt):
    if fmt == "zarr":
        path = write_zarr_volume(demo.data, tmp_path / "vol.zarr", chunks=(8, 16, 12))
        vol = open_volume(path)
        assert vol.data.numblocks == (6, 3, 3)
    else:
        path = tmp_path / "vol.tif"
        tifffile.imwrite(path, demo.data.values)
        vol = open_volume(path, voxel_size_um=0.5)
        assert vol.data.numblocks == (48, 1, 1)
    assert isinstance(vol.data, da.Array)
    lab = segment(vol, method="multiotsu", classes=3)
    assert isinstance(lab.data, da.Array)  # still lazy: nothing read yet
    assert lab.data.numblocks == vol.data.numblocks
    por_ref, prof_ref, frac_ref = _in_memory(demo.data.values, lab.attrs["thresholds"])
    # Only the synchronous scheduler: each chunk is read, reduced and dropped in turn.
    with dask.config.set(scheduler="synchronous"):
        assert porosity(lab) == por_ref
        prof = slice_profile(lab, axis="z")
        np.testing.assert_array_equal(prof["fraction_phase0"].to_numpy(), prof_ref)
        np.testing.assert_allclose(phase_fractions(lab)["volume_fraction"].to_numpy(), frac_ref)
    assert abs(por_ref - demo.truth["porosity"]) < 0.005


def test_profile_along_x_on_chunks(tmp_path, demo):
    path = write_zarr_volume(demo.data, tmp_path / "vol.zarr", chunks=(16, 16, 16))
    lab = segment(open_volume(path), method="otsu")
    ref = np.digitize(demo.data.values, lab.attrs["thresholds"])
    prof = slice_profile(lab, axis="x", phases=[0, 1])
    np.testing.assert_allclose(prof["fraction_phase1"], (ref == 1).mean(axis=(0, 1)))
    np.testing.assert_allclose(prof["position_um"], np.arange(36) * 0.5)
