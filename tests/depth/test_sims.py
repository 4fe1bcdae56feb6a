"""ToF-SIMS: sputter-depth calibration, interfaces, layer thicknesses and ratio maps against known answers."""

import numpy as np
import pytest

import battlab.depth as d
from battlab.datasets.depth import make_sims_map, make_sims_profile
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError


@pytest.fixture(scope="module")
def clean():
    return make_sims_profile(noise=False)


def test_depth_calibrations_exact(clean):
    t = clean.truth
    prof = clean.data
    by_rate, cal = d.calibrate_depth(prof, rate_nm_s=0.1)
    assert np.array_equal(by_rate["depth_nm"], prof["sputter_time_s"] * 0.1)
    by_crater, cal = d.calibrate_depth(prof, crater_depth_nm=t["crater_depth_nm"])
    assert cal["rate_nm_s"] == pytest.approx(t["rate_nm_s"], rel=1e-12)
    assert np.allclose(by_crater["depth_nm"], by_rate["depth_nm"], rtol=1e-12)
    # a reference whose first interface is known to lie at 12 nm gives the rate within 1 %
    _, cal = d.calibrate_depth(prof, reference_depth_nm=t["interfaces_nm"][0], reference_fragment="LiF-")
    assert cal["rate_nm_s"] == pytest.approx(t["rate_nm_s"], rel=0.01)


@pytest.mark.parametrize("method", ["half", "gradient"])
@pytest.mark.parametrize("noise", [False, True])
def test_interfaces_and_thicknesses_within_1nm(method, noise):
    demo = make_sims_profile(noise=noise)
    t = demo.truth
    prof, _ = d.calibrate_depth(demo.data, crater_depth_nm=t["crater_depth_nm"])
    if noise:  # Poisson noise: a 5-point running mean before the gradient (not needed for "half")
        for f in d.sims_fragments(prof):
            prof[f] = prof[f].rolling(5, center=True, min_periods=1).mean()
    layers = d.layer_thicknesses(prof, t["markers"], method=method)
    for row in layers.itertuples():
        assert row.thickness == pytest.approx(t["thickness_nm"][row.layer], abs=1.0)
    found = d.sims_interfaces(prof, "LiF-", method=method)
    found = found[found.position > 1]  # ignore noise right at the surface
    assert np.allclose(found.position.to_numpy()[:2], t["interfaces_nm"], atol=1.0)


def test_normalisation_and_ratios(clean):
    prof = clean.data
    total = d.normalize_profile(prof)
    assert np.allclose(total[d.sims_fragments(prof)].sum(axis=1), 1.0)
    matrix = d.normalize_profile(prof, to="C6-")
    assert np.allclose(matrix["C6-"], 1.0)
    ratio = d.fragment_ratio(prof, "LiF-", "C2H-")
    assert ratio.iloc[0] == pytest.approx(200 / 5000)
    assert ratio.iloc[-1] == pytest.approx(100 / 200)
    z = prof.copy()
    z["C2H-"] = 0.0
    assert d.fragment_ratio(z, "LiF-", "C2H-").isna().all()
    long = d.sims_long(prof)
    assert len(long) == len(prof) * 5 and set(long.fragment) == set(d.sims_fragments(prof))


def test_read_csv_export(tmp_path, clean):
    f = tmp_path / "profile.csv"
    frame = clean.data.rename(columns={"sputter_time_s": "Scan"}).copy()
    frame["Scan"] = np.arange(len(frame))
    frame.to_csv(f, index=False)
    with pytest.raises(MissingDataError, match="time_per_scan_s"):
        d.read_sims_profile(f)
    back = d.read_sims_profile(f, time_per_scan_s=2.0)
    assert np.allclose(back["sputter_time_s"], clean.data["sputter_time_s"])
    assert d.sims_fragments(back) == list(clean.data.columns[1:])
    with pytest.raises(BattlabError):
        d.read_sims_profile(b"time\n1\n2\n", name="x.csv")


def test_bad_calibration_requests(clean):
    with pytest.raises(InvalidParameterError):
        d.calibrate_depth(clean.data)
    with pytest.raises(InvalidParameterError):
        d.calibrate_depth(clean.data, rate_nm_s=0.1, crater_depth_nm=3.0)
    with pytest.raises(InvalidParameterError):
        d.calibrate_depth(clean.data, rate_nm_s=-1)
    with pytest.raises(MissingDataError):
        d.calibrate_depth(clean.data, reference_depth_nm=10.0, reference_fragment="Cu-")


def test_ratio_maps_exact_on_noise_free_data():
    demo = make_sims_map()
    t = demo.truth
    stack = demo.data
    per_slice = d.ratio_map(stack, "LiF-", "C2H-", per_slice=True)
    mask = t["patch_mask"]
    inside = t["inside"]["LiF-"] / t["inside"]["C2H-"]
    outside = t["outside"]["LiF-"] / t["outside"]["C2H-"]
    expected = np.where(mask[None], inside[:, None, None], outside[:, None, None])
    assert np.array_equal(per_slice.values, expected)
    summed = d.ratio_map(stack, "LiF-", "C2H-")
    assert summed.dims == ("y_um", "x_um")
    exp2 = np.where(mask, t["inside"]["LiF-"].sum() / t["inside"]["C2H-"].sum(),
                    t["outside"]["LiF-"].sum() / t["outside"]["C2H-"].sum())
    assert np.allclose(summed.values, exp2, rtol=1e-12)
    # the patch is exactly where the ratio sits above halfway
    mid = 0.5 * (summed.max() + summed.min())
    assert np.array_equal((summed > mid).values, mask)
    sl = d.depth_slice(stack, 25.0)
    assert float(sl["depth_nm"]) == pytest.approx(23.75) and sl.dims == ("fragment", "y_um", "x_um")


def test_lateral_average_gives_the_profile_interfaces():
    demo = make_sims_map(n_scans=40, depth_per_scan_nm=1.25)
    t = demo.truth
    outside = ~t["patch_mask"]
    prof = d.lateral_average(demo.data, mask=outside)
    assert np.allclose(prof["LiF-"], t["outside"]["LiF-"])
    layers = d.layer_thicknesses(prof, {"inner": "LiF-"})
    assert layers.thickness.iloc[0] == pytest.approx(25.0, abs=1.0)
    box = d.lateral_average(demo.data, roi=(7.0, 8.5, 7.0, 8.5))  # inside the patch
    assert np.allclose(box["LiF-"], t["inside"]["LiF-"])
    with pytest.raises(MissingDataError):
        d.lateral_average(demo.data, mask=np.zeros_like(outside))


def test_read_maps_from_npy_tiff_and_hdf5(tmp_path):
    import h5py
    import tifffile

    demo = make_sims_map(size_px=16, n_scans=6)
    stack = demo.data
    np.save(tmp_path / "lif.npy", stack.sel(fragment="LiF-").values.astype("float32"))
    tifffile.imwrite(tmp_path / "c2h.tif", stack.sel(fragment="C2H-").values.astype("float32"))
    with h5py.File(tmp_path / "maps.h5", "w") as h5:
        h5["C6-"] = stack.sel(fragment="C6-").values
    maps = d.read_sims_maps({"LiF-": tmp_path / "lif.npy", "C2H-": tmp_path / "c2h.tif",
                             "C6-": (tmp_path / "maps.h5", "C6-")}, pixel_size_um=0.5, depth_per_scan_nm=2.5)
    assert maps.dims == ("fragment", "depth", "y_um", "x_um") and maps.shape == (3, 6, 16, 16)
    assert np.allclose(maps.sel(fragment="LiF-"), stack.sel(fragment="LiF-"), rtol=1e-6)
    assert np.allclose(maps.sel(fragment="C6-"), stack.sel(fragment="C6-"))
    assert all(rec["sha256"] for rec in maps.attrs["inputs"])
    # pickled object arrays are refused
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises((BattlabError, ValueError)):
        d.read_sims_maps({"x": tmp_path / "evil.npy"}, pixel_size_um=1.0)


def test_real_multipage_tiff_as_an_ion_stack(real_data):
    path = real_data / "tiff-stack" / "pims_stuck.tif"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the real data folder")
    maps = d.read_sims_maps({"Li+": path, "Si+": path}, pixel_size_um=0.2, depth_per_scan_nm=1.0)
    assert maps.sizes["depth"] == 5 and maps.sizes["y_um"] == 512
    ratio = d.ratio_map(maps, "Li+", "Si+")
    assert np.nanmax(np.abs(ratio.values - 1.0)) < 1e-12  # a stack over itself is 1 wherever counts > 0
    prof = d.lateral_average(maps)
    assert list(prof.columns) == ["scan", "depth_nm", "Li+", "Si+"]


def test_maps_need_one_shape():
    with pytest.raises(InvalidParameterError):
        d.ion_maps({"a": np.zeros((2, 4, 4)), "b": np.zeros((2, 4, 5))}, pixel_size_um=1.0)
    with pytest.raises(InvalidParameterError):
        d.ion_maps({"a": np.zeros((4, 4))}, pixel_size_um=0.0)


def test_real_nexus_master_without_its_data_says_what_is_missing(real_data):
    path = real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the real data folder")
    with pytest.raises(MissingDataError, match="linked file"):
        d.read_sims_maps({"Li+": path}, pixel_size_um=0.1)
