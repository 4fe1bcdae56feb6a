"""Volume readers: real TIFF stacks and HDF5 files, and round trips through every format."""

import numpy as np
import pytest
import tifffile

from battlab.errors import CorruptFileError, InvalidParameterError, MissingDataError
from battlab.xrm import make_volume, open_volume, write_zarr_volume


@pytest.fixture
def cube():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, size=(6, 10, 12)).astype(np.uint16)


def _check(vol, expected, vox):
    assert vol.dims == ("z", "y", "x")
    assert vol.attrs["voxel_size_um"] == vox
    assert vol["x_um"].attrs["units"] == "µm"
    np.testing.assert_allclose(vol["z_um"].values, np.arange(expected.shape[0]) * vox[0])
    np.testing.assert_allclose(vol["x_um"].values, np.arange(expected.shape[2]) * vox[2])
    np.testing.assert_array_equal(vol.values, expected)


def test_real_tiff_stack_is_lazy_and_calibrated(real_data):
    path = real_data / "tiff-stack" / "pims_stuck.tif"
    vol = open_volume(path, voxel_size_um=0.65)
    assert vol.shape == (5, 512, 512) and vol.dtype == np.uint16
    assert vol.chunks[0] == (1,) * 5  # one slice per page: viewing a slice reads one page
    np.testing.assert_array_equal(vol[3].values, tifffile.imread(path, key=3))
    assert vol.attrs["source_sha256"] and vol.attrs["source_format"] == "TIFF"
    assert vol["y_um"].values[-1] == pytest.approx(511 * 0.65)


def test_real_tiff_without_voxel_size_is_refused(real_data):
    with pytest.raises(InvalidParameterError, match="voxel_size_um"):
        open_volume(real_data / "tiff-stack" / "pims_stuck.tif")


def test_real_hdf5_dataset_with_axis_order(real_data):
    import h5py

    path = real_data / "tem" / "ncempy_STEM_HAADF_Diffraction_Micro.emd"
    vol = open_volume(path, voxel_size_um=(1.0, 0.02, 0.02), axes="yxz")
    name = "Data/Image/025eee0d3d0d4bafb553b6571ed810af/Data"
    with h5py.File(path, "r") as fh:
        expected = np.moveaxis(fh[name][...], -1, 0)
    assert vol.shape == (1, 128, 128)  # the image, not the (60000, 1) metadata column
    np.testing.assert_array_equal(vol.values, expected)
    np.testing.assert_array_equal(open_volume(path, voxel_size_um=1, dataset=name, axes="yxz").values, expected)
    assert vol.attrs["source_format"] == "HDF5"


def test_real_nexus_with_broken_external_link_fails_cleanly(real_data):
    path = real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5"
    with pytest.raises(MissingDataError, match="missing"):
        open_volume(path, voxel_size_um=1.0)
    with pytest.raises(MissingDataError, match="external link"):
        open_volume(path, voxel_size_um=1.0, dataset="entry/data/data_000001")


def test_tiff_roundtrip_and_folder_of_slices(tmp_path, cube):
    tifffile.imwrite(tmp_path / "stack.tif", cube)
    _check(open_volume(tmp_path / "stack.tif", voxel_size_um=2.0), cube, (2.0, 2.0, 2.0))
    folder = tmp_path / "slices"
    folder.mkdir()
    for k, plane in enumerate(cube):
        tifffile.imwrite(folder / f"slice_{k}.tif", plane)  # natural order: slice_10 after slice_9
    vol = open_volume(folder, voxel_size_um=2.0)
    _check(vol, cube, (2.0, 2.0, 2.0))
    assert vol.attrs["source_format"] == "TIFF slices"


def test_ome_tiff_carries_its_voxel_size(tmp_path, cube):
    path = tmp_path / "vol.ome.tif"
    tifffile.imwrite(path, cube, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325,
                                                     "PhysicalSizeXUnit": "µm"})
    vol = open_volume(path)
    assert vol.attrs["voxel_size_um"] == pytest.approx((0.325,) * 3)
    np.testing.assert_array_equal(vol.values, cube)


def test_hdf5_is_read_slab_by_slab(tmp_path, cube):
    import h5py

    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as fh:
        ds = fh.create_dataset("entry/data/volume", data=cube, chunks=(2, 10, 12))
        ds.attrs["voxel_size_um"] = [3.0, 1.0, 1.0]
        fh.create_dataset("entry/data/mask", data=np.ones((4, 4), "u1"))
    vol = open_volume(path)
    assert vol.chunks[0] == (2, 2, 2)
    _check(vol, cube, (3.0, 1.0, 1.0))


def test_zarr_npy_mhd_raw(tmp_path, cube):
    z = write_zarr_volume(make_volume(cube, voxel_size_um=0.5), tmp_path / "vol.zarr", chunks=(2, 5, 6))
    vol = open_volume(z)
    assert vol.data.chunksize == (2, 5, 6)
    _check(vol, cube, (0.5, 0.5, 0.5))
    np.save(tmp_path / "vol.npy", cube)
    _check(open_volume(tmp_path / "vol.npy", voxel_size_um=1.5), cube, (1.5,) * 3)
    cube.astype(">u2").tofile(tmp_path / "vol.raw")
    _check(open_volume(tmp_path / "vol.raw", voxel_size_um=1, shape=cube.shape, dtype=">u2"), cube, (1.0,) * 3)
    (tmp_path / "vol.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 12 10 6\nElementType = MET_USHORT\n"
                                      "ElementSpacing = 0.002 0.002 0.004\nBinaryDataByteOrderMSB = True\n"
                                      "ElementDataFile = vol.raw\n")
    vol = open_volume(tmp_path / "vol.mhd")
    _check(vol, cube, (4.0, 2.0, 2.0))


def test_bad_inputs_get_clear_errors(tmp_path, cube):
    cube.tofile(tmp_path / "short.raw")
    with pytest.raises(InvalidParameterError, match="shape"):
        open_volume(tmp_path / "short.raw", voxel_size_um=1)
    with pytest.raises(CorruptFileError, match="bytes"):
        open_volume(tmp_path / "short.raw", voxel_size_um=1, shape=(7, 10, 12), dtype="u2")
    (tmp_path / "bad.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(CorruptFileError):
        open_volume(tmp_path / "bad.tif", voxel_size_um=1)
    with pytest.raises(MissingDataError):
        open_volume(tmp_path / "nope.tif", voxel_size_um=1)
    with pytest.raises(InvalidParameterError, match="positive"):
        open_volume(tmp_path / "short.raw", voxel_size_um=-1, shape=(6, 10, 12), dtype="u2")
    with pytest.raises(InvalidParameterError, match="axes"):
        open_volume(tmp_path / "short.raw", voxel_size_um=1, axes="zzy")


def test_real_truncated_detector_tiff_is_refused(real_data):
    # The Pilatus frame in the collection ends 11 bytes short of its strip.
    with pytest.raises(CorruptFileError, match="truncated"):
        open_volume(real_data / "xrd" / "xraylarch_Pilatus.tiff", voxel_size_um=172.0)
