"""TEM readers on the real vendor files (pixel size, voltage, exposure from the headers)."""

import numpy as np
import pytest

from battlab.errors import BattlabError, CorruptFileError, InvalidParameterError, MissingDataError
from battlab.tem.io import open_tem

pytest.importorskip("rsciio", reason="RosettaSciIO (battlab[tem]) is not installed")


@pytest.fixture(scope="module")
def tem(real_data):
    return real_data / "tem"


def test_dm3_eels_spectrum_energy_axis(tem):
    spec = open_tem(tem / "ncempy_08_carbon.dm3")
    assert spec.dims == ("energy",) and spec.attrs["kind"] == "spectrum"
    e = spec["energy_eV"].to_numpy()
    # header: offset 240 eV, 0.1 eV/channel, 2048 channels; 300 kV, 1 s exposure
    assert e[0] == pytest.approx(240.0, abs=1e-3) and np.diff(e).mean() == pytest.approx(0.1, rel=1e-6)
    assert spec.size == 2048 and spec["energy_eV"].attrs["units"] == "eV"
    assert spec.attrs["voltage_kV"] == 300.0 and spec.attrs["exposure_s"] == 1.0
    assert len(spec.attrs["source_sha256"]) == 64


@pytest.mark.parametrize("name", ["ncempy_dmTest_float32_nonSquare_diffPixelSize.dm3",
                                  "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm4"])
def test_dm_non_square_pixels(tem, name):
    img = open_tem(tem / name)
    assert img.dims == ("y", "x") and img.shape == (64, 128)
    # header: y step 2 Å, x step 1 nm
    assert img.attrs["pixel_size_y_nm"] == pytest.approx(0.2) and img.attrs["pixel_size_x_nm"] == pytest.approx(1.0)
    assert img.attrs["pixel_size_nm"] is None and "not square" in img.attrs["notes"][0]
    assert img["x_nm"].to_numpy()[-1] == pytest.approx(127.0) and img["y_nm"].to_numpy()[-1] == pytest.approx(12.6)


def test_dm3_and_dm4_hold_the_same_image(tem):
    a = open_tem(tem / "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm3")
    b = open_tem(tem / "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm4")
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


@pytest.mark.parametrize("name", ["ncempy_16_STOimage.emi", "ncempy_16_STOimage_1.ser"])
def test_tia_pair(tem, name):
    img = open_tem(tem / name)
    assert img.shape == (1024, 1024) and img.dtype == np.uint16
    # .emi: 0.0100127 nm pixels, 80 kV, STEM dwell 29 µs, camera length 0.116 m
    assert img.attrs["pixel_size_nm"] == pytest.approx(0.010012704, rel=1e-6)
    assert img.attrs["voltage_kV"] == 80.0 and img.attrs["dwell_time_s"] == pytest.approx(2.9e-5)
    assert img.attrs["mode"] == "STEM" and img.attrs["camera_length_m"] == pytest.approx(0.116)
    assert img.attrs["acquisition_time"] == "2011-10-18T18:18:46"


def test_velox_ceta_image(tem):
    img = open_tem(tem / "ncempy_Camera_Ceta_Imaging_Micro.emd")
    assert img.shape == (512, 512) and img.attrs["kind"] == "image"
    assert img.attrs["pixel_size_nm"] == pytest.approx(3.13883705, rel=1e-6)
    assert img.attrs["voltage_kV"] == 300.0 and img.attrs["exposure_s"] == pytest.approx(0.4)
    assert img.attrs["screen_current_A"] == pytest.approx(3.445e-14, rel=1e-3) and img.attrs["mode"] == "TEM"


def test_velox_stem_haadf_in_micrometres(tem):
    img = open_tem(tem / "ncempy_STEM_HAADF_Diffraction_Micro.emd")
    # the file calibrates in µm (0.0873708 µm/px) -> nm coordinates
    assert img.attrs["pixel_size_nm"] == pytest.approx(87.37079614, rel=1e-8)
    assert img["x_nm"].attrs["units"] == "nm" and np.diff(img["x_nm"].to_numpy()).mean() == pytest.approx(87.3708, rel=1e-5)
    assert img.attrs["mode"] == "STEM" and img.attrs["dwell_time_s"] == pytest.approx(1e-5)


def test_user_pixel_size_overrides_with_a_note(tem):
    img = open_tem(tem / "ncempy_Camera_Ceta_Imaging_Micro.emd", pixel_size_nm=3.0, voltage_kV=200)
    assert img.attrs["pixel_size_nm"] == 3.0 and any("3.13884" in n for n in img.attrs["notes"])
    assert img.attrs["voltage_kV"] == 200.0 and any("300 kV" in n for n in img.attrs["notes"])


def test_broken_nexus_external_link_fails_cleanly(real_data):
    with pytest.raises(MissingDataError, match="data_000001.h5"):
        open_tem(real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5")


def test_emi_without_ser(tmp_path, tem):
    (tmp_path / "lonely.emi").write_bytes((tem / "ncempy_16_STOimage.emi").read_bytes())
    with pytest.raises(MissingDataError, match="lonely_1.ser"):
        open_tem(tmp_path / "lonely.emi")


def test_truncated_dm3_is_corrupt(tmp_path, tem):
    raw = (tem / "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm3").read_bytes()
    (tmp_path / "cut.dm3").write_bytes(raw[:3000])
    with pytest.raises(BattlabError):
        open_tem(tmp_path / "cut.dm3")
    (tmp_path / "junk.dm4").write_bytes(b"\x00" * 100)
    with pytest.raises(CorruptFileError):
        open_tem(tmp_path / "junk.dm4")


def test_npy_movie_is_lazy_and_needs_pixel_size(tmp_path):
    np.save(tmp_path / "m.npy", np.arange(5 * 8 * 8, dtype=np.float32).reshape(5, 8, 8))
    with pytest.raises(MissingDataError, match="pixel_size_nm"):
        open_tem(tmp_path / "m.npy")
    movie = open_tem(tmp_path / "m.npy", pixel_size_nm=0.5, frame_time_s=2.0)
    assert movie.dims == ("time", "y", "x") and hasattr(movie.data, "dask")
    assert movie["time_s"].to_numpy()[-1] == 8.0 and movie["x_nm"].to_numpy()[-1] == 3.5
    with pytest.raises(InvalidParameterError):
        open_tem(tmp_path / "m.npy", pixel_size_nm=-1)


def test_tiff_stack_movie(real_data):
    movie = open_tem(real_data / "tiff-stack" / "pims_stuck.tif", pixel_size_nm=2.0, frame_time_s=0.5)
    assert movie.dims == ("time", "y", "x") and movie.shape == (5, 512, 512)
    assert movie["time_s"].to_numpy().tolist() == [0, 0.5, 1.0, 1.5, 2.0]
    assert float(movie.isel(time=2).mean()) > 0


def test_mrc_written_by_mrcfile(tmp_path):
    # No instrument .mrc file is available here: these are real files written by CCP-EM's mrcfile.
    mrcfile = pytest.importorskip("mrcfile", reason="mrcfile (battlab[tem]) not installed")
    rng = np.random.default_rng(0)
    stack = rng.random((3, 20, 30)).astype(np.float32)
    with mrcfile.new(tmp_path / "stack.mrc") as m:
        m.set_data(stack)
        m.voxel_size = (2.5, 2.5, 2.5)  # Å, the MRC convention
    movie = open_tem(tmp_path / "stack.mrc", frame_time_s=0.5)
    assert movie.dims == ("time", "y", "x") and movie.attrs["kind"] == "movie"
    assert movie.attrs["pixel_size_nm"] == pytest.approx(0.25)  # 2.5 Å
    np.testing.assert_array_equal(movie.values, stack)
    np.testing.assert_allclose(movie["time_s"], [0.0, 0.5, 1.0])
    with mrcfile.new(tmp_path / "image.mrc") as m:
        m.set_data(stack[1].astype(np.int16))
        m.voxel_size = 1.5
    image = open_tem(tmp_path / "image.mrc")
    assert image.dims == ("y", "x") and image.attrs["pixel_size_nm"] == pytest.approx(0.15)
    np.testing.assert_array_equal(image.values, stack[1].astype(np.int16))
    # a truncated file gives battlab's own error
    raw = (tmp_path / "image.mrc").read_bytes()
    (tmp_path / "cut.mrc").write_bytes(raw[:1100])
    with pytest.raises(BattlabError):
        open_tem(tmp_path / "cut.mrc")


@pytest.mark.parametrize("cut", [5, 40, 90], ids=["in-magic", "in-header", "in-data"])
def test_a_cut_npy_series_is_battlabs_error(tmp_path, cut):
    # numpy's header parser raises EOFError or SyntaxError on a cut header; the page must get a message
    from battlab.xrm import open_volume

    import io

    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 8, 8), np.float32))
    path = tmp_path / "series.npy"
    path.write_bytes(buf.getvalue()[:cut])
    with pytest.raises(BattlabError, match="series.npy"):
        open_tem(path, pixel_size_nm=1.0)
    with pytest.raises(BattlabError, match="series.npy"):
        open_volume(path, voxel_size_um=1.0).values  # noqa: B018 - reading is what may fail
