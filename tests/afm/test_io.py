"""AFM readers on the real instrument files (../shared/data/real/afm) and on made-up maps."""

import numpy as np
import pytest
import tifffile

from battlab.afm import height_map, read_afm, read_force_curves
from battlab.errors import (
    BattlabError,
    CorruptFileError,
    MissingDataError,
    UnsupportedFormatError,
)


@pytest.fixture(scope="module")
def afm_dir(real_data):
    return real_data / "afm"


def test_nanoscope_two_channels_with_header_scales(afm_dir):
    path = afm_dir / "nanoscope_full_multiple_images.spm"
    ch = read_afm(path)
    assert list(ch) == ["Height", "Amplitude"]
    h = ch["Height"]
    assert h.dims == ("y", "x") and h.shape == (512, 512)
    # Header: Scan size 2 2 ~m over 512 samples/line and 512 lines.
    assert h.attrs["scan_size_um"] == pytest.approx([2.0, 2.0])
    assert h.attrs["pixel_size_um"] == pytest.approx(2.0 / 512)
    assert h["x_um"].values[0] == pytest.approx(1.0 / 512) and h["x_um"].values[-1] == pytest.approx(2 - 1 / 512)
    assert h.attrs["units"] == "nm"
    # Height = int16 × 0.006693481 V/LSB × 12.95302 nm/V (Sens. Zscan), read independently here.
    raw = np.frombuffer(path.read_bytes(), dtype="<i2", count=512 * 512, offset=40960).reshape(512, 512)
    np.testing.assert_allclose(h.values, raw * 0.006693481 * 12.95302, rtol=1e-12)
    a = ch["Amplitude"]
    assert a.attrs["units"] == "V"
    raw_a = np.frombuffer(path.read_bytes(), dtype="<i2", count=512 * 512, offset=565248).reshape(512, 512)
    np.testing.assert_allclose(a.values, raw_a * 0.0003051758, rtol=1e-12)
    assert h.attrs["battlab"]["format"] == "nanoscope" and len(h.attrs["battlab"]["sha256"]) == 64


def test_jpk_image_channels_and_grid(afm_dir):
    ch = read_afm(afm_dir / "AFMReader_sample_0.jpk")
    assert len(ch) == 10  # 5 channels × trace/retrace; the thumbnail page is skipped
    h = ch["Height (retrace)"]
    assert h.shape == (256, 256) and h.attrs["units"] == "nm"
    # JPK grid tags: uLength = vLength = 3.2691651420070083e-07 m over 256 pixels.
    assert h.attrs["scan_size_um"] == pytest.approx([0.32691651420070084] * 2)
    assert h.attrs["pixel_size_um"] == pytest.approx(0.32691651420070084 / 256)
    # Default slot "calibrated": raw × -1.1577216212539286e-15 m + 2.486188249421139e-06 m.
    with tifffile.TiffFile(afm_dir / "AFMReader_sample_0.jpk") as tif:
        raw = tif.pages[1].asarray().astype(float)
    np.testing.assert_allclose(h.values, (raw * -1.1577216212539286e-15 + 2.486188249421139e-06) * 1e9)
    assert ch["Lock-In Phase (retrace)"].attrs["units"] == "deg"
    assert ch["Error Signal (trace)"].attrs["units"] == "V"


def test_gwyddion_field_without_lateral_unit_needs_pixel_size(afm_dir):
    path = afm_dir / "gwyfile_test.gwy"
    with pytest.raises(MissingDataError, match="pixel_size_um"):
        read_afm(path)
    ch = read_afm(path, pixel_size_um=0.01)
    t = ch["Test"]
    assert t.shape == (128, 128)
    assert t.attrs["file_scan_size"] == [128.0, 128.0] and t.attrs["file_xy_unit"] == ""
    assert t.attrs["scan_size_um"] == pytest.approx([1.28, 1.28])
    assert float(t.min()) == 0.0 and float(t.max()) == pytest.approx(0.001)


def test_jpk_force_curve_scales(afm_dir):
    curves = read_force_curves(afm_dir / "afmformats_fmt-jpk-fd_spot3-0192.jpk-force")
    assert set(curves["segment"]) == {"approach", "retract"}
    assert curves["curve"].nunique() == 1 and len(curves) == 4000
    meta = curves.attrs["battlab"]["curves"][0]
    assert meta["spring_constant_N_per_m"] == pytest.approx(0.043493666407368466)
    assert meta["sensitivity_nm_per_V"] == pytest.approx(70.00143623002982)
    # Heights in nm (tens of µm of piezo travel), forces of a few nN.
    assert 26000 < curves["piezo_height_nm"].min() < curves["piezo_height_nm"].max() < 31000
    assert -1.0 < curves["force_nN"].min() < curves["force_nN"].max() < 4.0
    assert curves["time_s"].max() == pytest.approx(1.9995)


def test_jpk_force_map_grid(afm_dir):
    curves = read_force_curves(afm_dir / "afmformats_fmt-jpk-fd_map2x2_extracted.jpk-force-map")
    assert curves["curve"].nunique() == 4
    assert {"grid_x", "grid_y"} <= set(curves.columns)
    assert curves.attrs["battlab"]["curves"][0]["spring_constant_N_per_m"] == pytest.approx(0.015481694150356324)


def test_igor_ibw_force_curve(afm_dir):
    curves = read_force_curves(afm_dir / "afmformats_fmt-igor-fd_SiN_FD_plot.ibw")
    assert len(curves) == 2016
    assert curves.attrs["battlab"]["curves"][0]["spring_constant_N_per_m"] == pytest.approx(1.1841)
    assert curves["force_nN"].min() == pytest.approx(-16.727055, rel=1e-5)
    # One stored segment: split where the piezo turns (sample 1007 is the lowest point).
    assert (curves["segment"] == "approach").sum() == 1008 and set(curves["segment"]) == {"approach", "retract"}
    from battlab.afm.force import fit_force_curve

    res = fit_force_curve(curves, model="hertz", tip_radius_nm=20.0, poisson=0.3)
    # Adhesion = pull-off below the ≈ −3.9 nN baseline of the far approach.
    assert res["adhesion_nN"] == pytest.approx(16.727 - 3.9, abs=0.3) and res["r_squared"] > 0.9


def test_fit_real_jpk_curve_gives_finite_modulus(afm_dir):
    from battlab.afm.force import fit_force_curve

    curves = read_force_curves(afm_dir / "afmformats_fmt-jpk-fd_spot3-0192.jpk-force")
    res = fit_force_curve(curves, model="hertz", tip_radius_nm=1000.0, poisson=0.5)
    # A soft sample (cells/gel): kPa–MPa, with a sound fit.
    assert 1e-7 < res["modulus_GPa"] < 1e-2
    assert res["r_squared"] > 0.95


def test_force_file_refused_as_image_and_image_as_force(afm_dir):
    with pytest.raises(UnsupportedFormatError, match="read_force_curves"):
        read_afm(afm_dir / "afmformats_fmt-jpk-fd_spot3-0192.jpk-force")
    with pytest.raises(UnsupportedFormatError, match="force-curve"):
        read_force_curves(afm_dir / "gwyfile_test.gwy")


def test_plain_text_and_tiff_maps_need_scale(tmp_path):
    z = np.arange(12.0).reshape(3, 4)
    txt = tmp_path / "map.txt"
    txt.write_text("# exported heights\n" + "\n".join(" ".join(f"{v:g}" for v in row) for row in z))
    with pytest.raises(MissingDataError, match="pixel_size_um"):
        read_afm(txt)
    m = read_afm(txt, pixel_size_um=0.5, z_unit="m")["height"]
    np.testing.assert_allclose(m.values, z * 1e9)
    assert m.attrs["units"] == "nm" and m.attrs["scan_size_um"] == [2.0, 1.5]
    tif = tmp_path / "map.tif"
    tifffile.imwrite(tif, z.astype(np.float32))
    t = read_afm(tif, pixel_size_um=0.25, z_unit="nm")["height"]
    np.testing.assert_allclose(t.values, z)
    assert t["x_um"].values[-1] == pytest.approx(0.875)


def test_unsupported_and_corrupt_inputs(tmp_path, afm_dir):
    with pytest.raises(CorruptFileError, match="Nanonis header"):
        read_afm(b"hello world", name="x.sxm")
    with pytest.raises(UnsupportedFormatError):
        read_afm(b"\x00\x01binary", name="x.bin")
    data = (afm_dir / "nanoscope_full_multiple_images.spm").read_bytes()
    with pytest.raises(CorruptFileError):
        read_afm(data[:100_000], name="cut.spm")  # header intact, images truncated
    with pytest.raises(CorruptFileError):
        read_afm(data[:20_000], name="cut.spm")  # header cut before its end marker
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,3\n4,5\n")
    with pytest.raises(CorruptFileError):
        read_afm(ragged, pixel_size_um=1, z_unit="nm")
    with pytest.raises(BattlabError):
        read_force_curves(b"PK\x03\x04garbage", name="bad.jpk-force")


def test_height_map_checks_pixel_size():
    with pytest.raises(BattlabError):
        height_map(np.zeros((4, 4)), pixel_size_um=0)
    with pytest.raises(BattlabError):
        height_map(np.zeros(4), pixel_size_um=1)


def test_real_jpk_curve_modulus_agrees_with_nanite(afm_dir):
    """Cross-check on a real curve: nanite (lmfit, paraboloid Hertz) against battlab's Hertz fit."""
    nanite = pytest.importorskip("nanite")
    import warnings

    from battlab.afm.force import fit_force_curve

    path = afm_dir / "afmformats_fmt-jpk-fd_spot3-0192.jpk-force"
    ours = fit_force_curve(read_force_curves(path), model="hertz", tip_radius_nm=1000.0, poisson=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idnt = nanite.IndentationGroup(path)[0]
        idnt.apply_preprocessing(["compute_tip_position", "correct_force_offset", "correct_tip_offset"])
        params = idnt.get_initial_fit_parameters(model_key="hertz_para")
        params["R"].value = 1000e-9
        params["nu"].value = 0.5
        idnt.fit_model(model_key="hertz_para", params_initial=params, range_type="absolute",
                       range_x=(-np.inf, np.inf), segment="approach")
    theirs_Pa = idnt.fit_properties["params_fitted"]["E"].value
    # Same model and geometry; baselines differ (nanite: offset, battlab: line): within 5 %.
    assert ours["modulus_GPa"] * 1e9 == pytest.approx(theirs_Pa, rel=0.05)


def test_gwyddion_ascii_export_carries_its_scale(tmp_path):
    # Layout of Gwyddion's "ASCII data matrix" export with its informational header.
    z = np.arange(20.0).reshape(4, 5) * 1e-9
    body = "\n".join("\t".join(f"{v:.6e}" for v in row) for row in z)
    path = tmp_path / "export.txt"
    path.write_text("# Channel: Topography\n# Width: 2.500 µm\n# Height: 2.000 µm\n# Value units: m\n" + body,
                    encoding="utf-8")
    m = read_afm(path)["Topography"]
    assert m.attrs["pixel_size_um"] == pytest.approx(0.5) and m.attrs["units"] == "nm"
    np.testing.assert_allclose(m.values, z * 1e9)
    # An explicit pixel size wins over the header.
    assert read_afm(path, pixel_size_um=0.1)["Topography"].attrs["pixel_size_um"] == 0.1
