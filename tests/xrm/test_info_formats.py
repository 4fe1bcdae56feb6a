"""Volume formats in the format registry: `battlab formats` lists them and `battlab info`
describes a volume from its header, without reading the voxels."""

import h5py
import numpy as np
import pytest
import tifffile
import zarr

import battlab
from battlab.cli import main
from battlab.errors import MissingDataError
from battlab.io import detect, formats
from battlab.xrm import describe_volume, open_volume
from battlab.xrm.io import volume_info_text

REAL_MASTER = ("hdf5-nexus", "ncempy_au_145mm_68kx_microprobe_01_master.h5")


def test_formats_lists_every_volume_format(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in ("volume-tiff", "volume-hdf5", "volume-zarr", "volume-npy", "volume-mhd", "volume-raw"):
        assert name in out
    volume = {f.name for f in formats() if f.kind == "volume"}
    assert volume == {"volume-tiff", "volume-hdf5", "volume-zarr", "volume-npy", "volume-mhd", "volume-raw"}


def test_real_tiff_stack_info(real_data, capsys):
    path = real_data / "tiff-stack" / "pims_stuck.tif"
    assert detect(path).name == "volume-tiff"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "5 × 512 × 512 voxels" in out and "uint16" in out
    assert "voxel size: not stated" in out and "one page per slice" in out
    info = describe_volume(path, voxel_size_um=0.65)
    assert info["voxel_size_um"] == (0.65, 0.65, 0.65) and info["voxel_size_source"] == "given"
    assert info["nbytes"] == 5 * 512 * 512 * 2 and info["dask_chunks"] == (1, 512, 512)
    # battlab.load goes through the same reader as open_volume.
    vol = battlab.load(path, voxel_size_um=0.65)
    np.testing.assert_array_equal(vol[2].values, open_volume(path, voxel_size_um=0.65)[2].values)


def test_real_nexus_master_without_its_data_fails_cleanly(real_data, capsys):
    path = real_data.joinpath(*REAL_MASTER)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "data_000001" in err and "Traceback" not in err
    with pytest.raises(MissingDataError, match="beside this master"):
        volume_info_text(path)


def test_huge_zarr_and_hdf5_are_described_without_reading(tmp_path, capsys):
    # 16 GB volumes of which no chunk was ever written: describing them must read metadata only.
    shape = (2048, 2048, 2048)
    store = zarr.open_array(str(tmp_path / "big.zarr"), mode="w", shape=shape, chunks=(64, 256, 256), dtype="u2")
    store.attrs["voxel_size_um"] = [0.5, 0.5, 0.5]
    assert main(["info", str(tmp_path / "big.zarr")]) == 0
    out = capsys.readouterr().out
    assert "2048 × 2048 × 2048 voxels" in out and "17.18 GB" in out
    assert "0.5 × 0.5 × 0.5 µm (z, y, x), file" in out and "64 × 256 × 256 on disk" in out
    with h5py.File(tmp_path / "big.h5", "w") as fh:
        ds = fh.create_dataset("entry/volume", shape=shape, dtype="f4", chunks=(16, 512, 512))
        ds.attrs["voxel_size_um"] = [1.0, 0.8, 0.8]
        fh["entry/two_theta"] = np.arange(10.0)  # a small 1-D array next to it
    info = describe_volume(tmp_path / "big.h5")
    assert info["shape"] == shape and info["stored_chunks"] == (16, 512, 512)
    assert info["voxel_size_um"] == (1.0, 0.8, 0.8) and info["voxel_size_source"] == "file"
    assert main(["info", str(tmp_path / "big.h5")]) == 0
    assert "16 × 512 × 512 on disk" in capsys.readouterr().out


def test_npy_mhd_and_raw_info(tmp_path, capsys):
    cube = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    np.save(tmp_path / "v.npy", cube)
    assert detect(tmp_path / "v.npy").name == "volume-npy"
    assert main(["info", str(tmp_path / "v.npy")]) == 0
    assert "4 × 5 × 6 voxels" in capsys.readouterr().out
    cube.astype("<u2").tofile(tmp_path / "v.raw")
    (tmp_path / "v.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 6 5 4\nElementType = MET_USHORT\n"
                                    "ElementSpacing = 0.002 0.002 0.004\nElementDataFile = v.raw\n")
    assert detect(tmp_path / "v.mhd").name == "volume-mhd"
    info = describe_volume(tmp_path / "v.mhd")
    assert info["shape"] == (4, 5, 6) and info["voxel_size_um"] == pytest.approx((4.0, 2.0, 2.0))
    assert detect(tmp_path / "v.raw").name == "volume-raw"
    assert main(["info", str(tmp_path / "v.raw")]) == 2
    assert "shape=" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "one.tif", cube[0])
    assert describe_volume(tmp_path / "one.tif")["shape"] == (1, 5, 6)
