"""Probe maps (SECM κ/k maps, active sites, AFM tools on probe maps) and the readers."""

import numpy as np
import pandas as pd
import pytest

from battlab.afm.topography import level, roughness
from battlab.datasets.probes import make_approach_curve, make_secm_map, make_sicm_maps
from battlab.errors import BattlabError, MissingDataError, UnsupportedFormatError
from battlab.probes import (
    active_sites,
    feedback_map,
    fit_approach_curve,
    level_map,
    map_profile,
    map_summary,
    probe_map,
    rate_constant_map,
    read_approach_curve,
    read_probe_map,
)


def test_k_map_recovers_spot_rate_constants():
    demo = make_secm_map()
    t = demo.truth
    fb = feedback_map(demo.data["tip current"], bulk_current_nA=t["bulk_current_nA"])
    ds = rate_constant_map(fb, working_distance_um=t["working_distance_um"], radius_um=t["radius_um"], rg=t["rg"],
                           diffusion_cm2_s=t["diffusion_cm2_s"])
    k = ds["k_cm_s"].values
    # median k inside each spot within 5 % (noise 0.3 % of the bulk current)
    for spot in t["spots"]:
        inside = t["k_map_cm_s"] == spot["k_cm_s"]
        assert np.median(k[inside]) == pytest.approx(spot["k_cm_s"], rel=0.05)
    # the map keeps the AFM convention
    assert ds["k_cm_s"].dims == ("y", "x") and ds["k_cm_s"].attrs["units"] == "cm/s"
    sites = active_sites(ds["k_cm_s"], threshold=0.004)
    assert sites["n_sites"] == 3
    assert sites["active_fraction"] == pytest.approx(t["active_fraction"], abs=0.005)
    assert sorted(sites["sites"]["area_um2"]) == pytest.approx([np.pi * 81] * 3, rel=0.05)


def test_feedback_map_without_bulk_is_flagged_relative():
    demo = make_secm_map()
    fb = feedback_map(demo.data["tip current"])
    assert "relative" in fb.attrs["normalisation"]
    assert np.nanmedian(fb.values) == pytest.approx(1.0)


def test_afm_tools_apply_to_probe_maps():
    demo = make_sicm_maps()
    h = demo.data["height"]
    lev = level_map(h, method="plane", mask_features=True)
    # the 30 nm/µm tilt is removed: the flat film far from both particles is level within 1 nm
    flat = np.asarray(lev.values)[-8:, :8]
    assert abs(flat.mean() - np.asarray(lev.values)[:8, -8:].mean()) < 1.5
    r = roughness(level(h, method="plane"))
    assert r["Sq"] > 0
    s = map_summary(demo.data["ion current"])
    assert s["units"] == "nA" and s["median"] == pytest.approx(1.5, rel=0.01)
    prof = map_profile(demo.data["ion current"], (0.05, 3.84), (9.55, 3.84), width_um=0.3)
    # the 2 % drop inside the lithiated particle shows on the line through its centre
    assert prof["value"].min() == pytest.approx(1.47, abs=0.005)
    assert prof["value"].max() == pytest.approx(1.5, abs=0.005)


def test_read_xyz_map_roundtrip(tmp_path):
    demo = make_secm_map(size_px=24)
    da = demo.data["tip current"]
    yy, xx = np.meshgrid(da["y_um"].values, da["x_um"].values, indexing="ij")
    table = pd.DataFrame({"X (µm)": xx.ravel(), "Y (µm)": yy.ravel(), "Current (pA)": da.values.ravel() * 1e3})
    path = tmp_path / "secm.csv"
    table.to_csv(path, index=False)
    back = read_probe_map(path)
    assert back.dims == ("y", "x") and back.attrs["units"] == "nA"
    assert back.attrs["pixel_size_um"] == pytest.approx(1.0)
    np.testing.assert_allclose(back.values, da.values, rtol=1e-9)
    with open(path, "rb") as fh:
        assert fh.read() == path.read_bytes()  # the input stays untouched


def test_read_matrix_and_tiff_maps(tmp_path):
    import tifffile

    z = np.arange(30, dtype=float).reshape(5, 6)
    np.savetxt(tmp_path / "m.txt", z)
    m = read_probe_map(tmp_path / "m.txt", kind="sicm-height", pixel_size_um=0.05, value_unit="µm")
    assert m.attrs["units"] == "nm" and m.values[1, 0] == pytest.approx(6000)
    with pytest.raises(MissingDataError):
        read_probe_map(tmp_path / "m.txt")
    tifffile.imwrite(tmp_path / "m.tif", z.astype("float32"))
    t = read_probe_map(tmp_path / "m.tif", kind="esm-amplitude", pixel_size_um=0.02, value_unit="pm")
    assert t.attrs["channel"] == "ESM amplitude" and t.shape == (5, 6)


def test_read_approach_curve_units_and_fit(tmp_path):
    d = make_approach_curve(kind="kinetic", kappa=2.0, noise=0.003)
    path = tmp_path / "approach.txt"
    with open(path, "w") as fh:
        fh.write("# SECM approach, FcMeOH\nDistance (nm)\tCurrent (pA)\n")
        for a, b in zip(d.data["distance_um"], d.data["current_nA"], strict=True):
            fh.write(f"{a * 1e3:.4f}\t{b * 1e3:.6f}\n")
    curve = read_approach_curve(path)
    np.testing.assert_allclose(curve["distance_um"], d.data["distance_um"], atol=1e-6)
    np.testing.assert_allclose(curve["current_nA"], d.data["current_nA"], atol=1e-8)
    fit = fit_approach_curve(curve, radius_um=5.0)
    assert fit["kappa"] == pytest.approx(2.0, rel=0.1)
    # a header without units must be completed by the caller
    bare = tmp_path / "bare.csv"
    bare.write_text("z,i\n" + "\n".join(f"{k},{k * 0.1}" for k in range(10)))
    with pytest.raises(MissingDataError):
        read_approach_curve(bare)
    c = read_approach_curve(bare, distance_unit="um", current_unit="nA")
    assert len(c) == 10


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02binary", b"a,b\nx,y\n", b"II*\x00garbage"])
def test_damaged_inputs_raise_battlab_errors(payload):
    for reader in (read_approach_curve, read_probe_map):
        with pytest.raises(BattlabError):
            reader(payload, name="bad.csv")


def test_probe_map_kind_checked():
    with pytest.raises(BattlabError):
        probe_map(np.zeros((4, 4)), pixel_size_um=1.0, kind="stm")
    with pytest.raises(UnsupportedFormatError):
        read_probe_map("/nonexistent/file.csv")


def test_esm_grains_by_amplitude_threshold():
    from battlab.datasets.probes import make_esm_maps

    demo = make_esm_maps()
    amp = demo.data["ESM amplitude"]
    assert amp.attrs["units"] == "pm" and demo.data["ESM phase"].attrs["units"] == "deg"
    # halfway between the two levels: the active area is the grains' area within 1 % of the map
    sites = active_sites(amp, threshold=0.5 * (demo.truth["active_pm"] + demo.truth["matrix_pm"]))
    assert sites["active_fraction"] == pytest.approx(demo.truth["active_fraction"], abs=0.01)


def test_xyz_table_with_two_channels(tmp_path):
    yy, xx = np.mgrid[0:10, 0:12]
    t = pd.DataFrame({"x (um)": xx.ravel() * 0.5, "y (um)": yy.ravel() * 0.5, "height (nm)": 10.0 + xx.ravel(),
                      "current (pA)": 500.0 + yy.ravel()})
    path = tmp_path / "sicm.csv"
    t.to_csv(path, index=False)
    h = read_probe_map(path, kind="sicm-height")  # first value column by default
    i = read_probe_map(path, kind="sicm-current", value_column="current (pA)")
    assert h.attrs["units"] == "nm" and h.values[0, 3] == 13.0
    assert i.attrs["units"] == "nA" and i.values[4, 0] == pytest.approx(0.504)
    assert h.attrs["pixel_size_um"] == pytest.approx(0.5)
