"""Known answers for XRF/EDS element maps: readers, ratio/fraction/phase maps, registration."""

import io
import zipfile

import h5py
import numpy as np
import pytest
import tifffile

from battlab.datasets.elements import make_nmc_element_maps
from battlab.elements import (
    element_maps,
    element_profiles,
    element_summary,
    element_symbol,
    fraction_maps,
    normalise,
    phase_map,
    ratio_map,
    read_element_maps,
    register_maps,
    rgb_composite,
    select,
)
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError


@pytest.fixture(scope="module")
def exact():
    return make_nmc_element_maps(noise=False)


@pytest.fixture(scope="module")
def noisy():
    return make_nmc_element_maps()


def test_ratio_map_exact_on_noise_free_data(exact):
    r = ratio_map(exact.data["maps"], "Ni/Mn", min_counts=1)
    truth = exact.truth["ni_mn_map"]
    on = np.isfinite(truth)
    # exact (to rounding) on the particles; masked off them
    np.testing.assert_allclose(r["ratio"].values[on], truth[on], rtol=1e-12)
    assert np.isnan(r["ratio"].values[~on]).all()
    assert r["ratio"].dims == ("y", "x")
    core, shell = exact.truth["core_mask"], exact.truth["shell_mask"]
    assert np.allclose(r["ratio"].values[core], 8.0) and np.allclose(r["ratio"].values[shell], 5 / 3)
    # a sensitivity ratio scales the result
    r2 = ratio_map(exact.data["maps"], "Ni", "Mn", min_counts=1, sensitivity={"Ni": 2.0, "Mn": 1.0})
    np.testing.assert_allclose(r2["ratio"].values[on], truth[on] / 2, rtol=1e-12)


def test_poisson_uncertainty_matches_simulation(exact):
    # 400 Poisson draws of the same expected maps: the per-pixel scatter of Ni/Mn agrees with the
    # propagated σ within 10 % (median over pixels with ≥ 30 counts in both maps).
    expected = exact.truth["expected"]
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero((expected["Mn"] >= 30) & (expected["Ni"] >= 30))
    pick = rng.choice(len(rows), 200, replace=False)
    rows, cols = rows[pick], cols[pick]
    lam_n, lam_d = expected["Ni"][rows, cols], expected["Mn"][rows, cols]
    draws = rng.poisson(lam_n, (400, lam_n.size)) / rng.poisson(lam_d, (400, lam_n.size))
    simulated = draws.std(axis=0, ddof=1)
    maps = element_maps({"Ni": expected["Ni"], "Mn": expected["Mn"]}, pixel_size_um=0.1)
    sigma = ratio_map(maps, "Ni/Mn", min_counts=1)["sigma"].values[rows, cols]
    assert np.median(simulated / sigma) == pytest.approx(1.0, abs=0.10)


def test_low_counts_are_masked(noisy):
    r = ratio_map(noisy.data["maps"], "F/C", min_counts=20)
    binder = ~noisy.truth["particle_mask"]
    assert np.nanmedian(r["ratio"].values[binder]) == pytest.approx(0.5, rel=0.05)
    assert np.isnan(r["ratio"].values[noisy.truth["core_mask"]]).all()  # no F in the particles
    assert 0 < r.attrs["valid_fraction"] < 1


def test_fractions_and_normalisation(exact):
    f = fraction_maps(exact.data["maps"], elements=["Ni", "Mn", "Co"])
    core = exact.truth["core_mask"]
    assert np.allclose(f.sel(element="Ni").values[core], 0.8)
    on = exact.truth["particle_mask"]
    assert np.allclose(f.sum("element").values[on], 1.0)
    o = normalise(exact.data["maps"], method="element", reference="O", elements=["Ni", "Mn", "Co"])
    assert np.allclose(o.sel(element="Ni").values[core], 0.4)  # Ni/O = 0.8 / 2
    with pytest.raises(InvalidParameterError):
        normalise(exact.data["maps"], method="element")


def test_phase_map_area_fractions(exact, noisy):
    labels, table = phase_map(exact.data["maps"], n_phases=2, elements=["Ni", "Mn", "Co"], min_total_counts=1)
    assert table.loc[0, "Ni_fraction"] == pytest.approx(0.5) and table.loc[1, "Ni_fraction"] == pytest.approx(0.8)
    assert table.loc[1, "area_fraction_all"] == pytest.approx(exact.truth["core_area_fraction"], abs=1e-9)
    assert table.loc[0, "area_fraction_all"] == pytest.approx(exact.truth["shell_area_fraction"], abs=1e-9)
    # Poisson noise: k-means still finds core and shell within 2 % of the area
    _, t2 = phase_map(noisy.data["maps"], n_phases=2, elements=["Ni", "Mn", "Co"], min_total_counts=40)
    assert t2.loc[1, "area_fraction_all"] == pytest.approx(noisy.truth["core_area_fraction"], abs=0.02)
    thr, t3 = phase_map(exact.data["maps"], method="threshold", thresholds={"Ni": 0.7, "Mn": 0.25},
                        elements=["Ni", "Mn", "Co"], min_total_counts=1)
    assert t3.loc[0, "area_fraction_all"] == pytest.approx(exact.truth["core_area_fraction"], abs=1e-9)
    assert labels.dims == ("y", "x") and int(thr.max()) == 2


def test_registration_onto_a_shifted_sem_image(noisy):
    reg, on_sem = register_maps(noisy.data["maps"], noisy.data["sem"], element="O")
    dy, dx = noisy.truth["sem_shift_px"]
    # moving (EDS) content relative to the SEM grid is minus the SEM shift; tolerance 0.5 px
    assert reg.details["shift_px"][0] == pytest.approx(-dy, abs=0.5)
    assert reg.details["shift_px"][1] == pytest.approx(-dx, abs=0.5)
    assert on_sem.dims == ("element", "y", "x") and on_sem.sizes["y"] == noisy.data["sem"].sizes["y"]
    reg_total, _ = register_maps(noisy.data["maps"], noisy.data["sem"])
    assert reg_total.details["shift_px"][1] == pytest.approx(-dx, abs=0.5)


def test_rgb_profiles_summary(noisy):
    rgb = rgb_composite(noisy.data["maps"], ["Ni", "Mn", "Co"])
    assert rgb.dims == ("y", "x", "channel") and float(rgb.max()) <= 1 and float(rgb.min()) >= 0
    cx, cy, r = noisy.truth["particles"][0]
    px = noisy.data["maps"].attrs["pixel_size_um"]
    start, end = ((cx - r - 4) * px, (cy + 0.5) * px), ((cx + 0.5) * px, (cy + 0.5) * px)
    prof = element_profiles(noisy.data["maps"], start, end,
                            normalised=True, elements=["Ni", "Mn", "Co"], width_um=0.3)
    # across the rim into the centre the Ni fraction climbs from the shell's 0.5 to the core's 0.8
    ni = prof["Ni"].to_numpy()
    assert np.nanmean(ni[-5:]) == pytest.approx(0.8, abs=0.05)
    s = element_summary(noisy.data["maps"])
    assert set(s["element"]) == {"Ni", "Mn", "Co", "O", "C", "F"}
    one = select(noisy.data["maps"], "Ni")
    assert one.dims == ("y", "x") and one.attrs["pixel_size_um"] == px


def test_symbols():
    assert element_symbol("Ni_Ka.csv") == "Ni"
    assert element_symbol("map-Mn K.tif") == "Mn"
    assert element_symbol("EDS_CoLa.tiff") == "Co"
    assert element_symbol("ni_ka.csv") == "Ni"
    assert element_symbol("Kα O.csv") == "O"


def test_readers_tiff_zip_folder_hdf5(tmp_path, exact):
    maps = exact.data["maps"]
    els = [str(e) for e in maps["element"].values]
    arrs = [maps.sel(element=e).values.astype("float32") for e in els]
    # multi-page TIFF with a description per page
    with tifffile.TiffWriter(tmp_path / "stack.tif") as tw:
        for e, a in zip(els, arrs, strict=True):
            tw.write(a, description=f"{e} K", metadata=None)
    t = read_element_maps(tmp_path / "stack.tif", pixel_size_um=0.1)
    assert list(t["element"].values) == els
    np.testing.assert_allclose(t.sel(element="Ni").values, arrs[0])
    # zip and folder of per-element CSVs
    folder = tmp_path / "maps"
    folder.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for e, a in zip(els, arrs, strict=True):
            np.savetxt(folder / f"{e}_Ka.csv", a, delimiter=",")
            zf.write(folder / f"{e}_Ka.csv", arcname=f"export/{e}_Ka.csv")
    z = read_element_maps(buf.getvalue(), name="maps.zip", pixel_size_um=0.1)
    f = read_element_maps(folder, pixel_size_um=0.1)
    for m in (z, f):
        assert sorted(m["element"].values) == sorted(els)
        np.testing.assert_allclose(m.sel(element="Mn").values, arrs[1], rtol=1e-6)
    # HDF5: one dataset per element, pixel size in an attribute, a dangling external link ignored
    with h5py.File(tmp_path / "maps.h5", "w") as h:
        for e, a in zip(els, arrs, strict=True):
            h.create_dataset(f"xrf/maps/{e}", data=a).attrs["pixel_size_um"] = 0.25
        h["xrf/missing"] = h5py.ExternalLink("nowhere.h5", "/data")
    hm = read_element_maps(tmp_path / "maps.h5")
    assert hm.attrs["pixel_size_um"] == 0.25 and sorted(hm["element"].values) == sorted(els)
    with pytest.raises(MissingDataError):
        read_element_maps(tmp_path / "stack.tif")  # no pixel size


@pytest.mark.parametrize("payload,name", [(b"", "a.tif"), (b"II*\x00garbage", "a.tif"), (b"PK\x03\x04xx", "a.zip"),
                                          (b"\x89HDF\r\n\x1a\nxxxx", "a.h5"), (b"not,a\nmatrix,here", "Ni.csv"),
                                          (b"random", "a.bin")])
def test_damaged_inputs_raise_battlab_errors(payload, name):
    with pytest.raises(BattlabError):
        read_element_maps(payload, name=name, pixel_size_um=0.1)


def test_real_multipage_tiff(real_data):
    path = real_data / "tiff-stack" / "pims_stuck.tif"
    with pytest.raises(MissingDataError, match="elements="):
        read_element_maps(path, pixel_size_um=0.1)  # 5 unnamed pages: the reader asks for names
    m = read_element_maps(path, pixel_size_um=0.1, elements=["Ni", "Mn", "Co", "O", "C"])
    assert m.shape == (5, 512, 512)
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(m.sel(element="Co").values, tif.pages[2].asarray())
    r = ratio_map(m, "Ni/Mn")
    assert r["ratio"].shape == (512, 512)


def test_real_nexus_file_with_broken_link(real_data):
    path = real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5"
    with pytest.raises(MissingDataError, match="datasets="):
        read_element_maps(path, pixel_size_um=0.1)
    base = "/entry/instrument/detector/detectorSpecific/"
    m = read_element_maps(path, pixel_size_um=0.1, datasets=[base + "flatfield", base + "pixel_mask"])
    assert m.shape == (2, 192, 192)


def test_registration_by_landmarks_and_onto_a_coarser_image(noisy):
    from battlab.correlate.space import as_image

    t = noisy.truth
    px = noisy.data["maps"].attrs["pixel_size_um"]
    dy, dx = t["sem_shift_px"]
    # particle centres as landmarks: exact translation (dx, dy)·pixel
    moving = np.array([[(cx + 0.5) * px, (cy + 0.5) * px] for cx, cy, _ in t["particles"]])
    reg, _ = register_maps(noisy.data["maps"], noisy.data["sem"], method="landmarks", moving_points_um=moving,
                           reference_points_um=moving + [dx * px, dy * px])
    assert reg.transform.translation_um == pytest.approx((dx * px, dy * px), abs=1e-9)
    # the SEM binned 2×2 (0.2 µm pixels, centres from 0): similarity search, translation within 0.5 EDS px
    sem = noisy.data["sem"].values
    coarse = as_image(sem.reshape(64, 2, 64, 2).mean((1, 3)), pixel_size_um=0.2)
    reg, on_coarse = register_maps(noisy.data["maps"], coarse, element="O", method="similarity",
                                   angle_range_deg=(-10, 10))
    expected = (dx * px - 0.1, dy * px - 0.1)  # binned pixel centres sit 0.1 µm into the original grid
    assert reg.transform.translation_um == pytest.approx(expected, abs=0.5 * px)
    assert abs(reg.transform.rotation_deg) < 0.5 and on_coarse.sizes["x"] == 64
    with pytest.raises(InvalidParameterError):
        register_maps(noisy.data["maps"], noisy.data["sem"], method="landmarks")
