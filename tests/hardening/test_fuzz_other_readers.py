"""The readers outside the format registry survive 1,000 damaged inputs each.

Readers: ``imaging.open_movie`` (TIFF stacks, zipped frames, video; the first and last
frame are decoded in each case), ``diffraction.read_detector_image`` (TIFF, fabio CBF/EDF)
and ``load_poni``, ``tem.open_pattern``, ``depth.read_sims_maps``, ``afm.read_afm_frames``,
``correlate.read_map``, ``read_landmarks`` and ``read_table`` (exported results tables),
``scattering.read_layers``, ``spectra.mossbauer.read_channels``, ``tem.open_tem`` (DM3,
DM4, EMD, .npy series), the depth-profile tables (``read_ndp_spectra``,
``read_stopping_table``, ``read_sims_profile``, ``read_xps_depth_csv``, ``read_xps_depth``
for VAMAS), ``probes.read_approach_curve`` and ``read_probe_map`` and
``elements.read_element_maps`` (TIFF, zip, HDF5). Path-based readers get each case as a
scratch file named like its seed.

Seeds: the real files of ``../shared/data/real`` each reader takes (PILATUS TIFF, TEM
.dm3/.dm4/.emd, the TIFF stack, the QuickTime and Norpix movies, the NeXus master, the
Gwyddion file), when present, plus small files from battlab's demo generators and the
technique tests' fixture writers (``write_movie`` movies, fabio CBF/EDF frames, the PONI
texts of ``tests/diffraction``, SAED .npy/TIFF/MRC, SIMS stacks, EC-AFM TIFF and text
frames, map grids, landmark, layer and channel files); seeds above 160 kB are mutated
from a prefix. Mutations, limits and the pass rule (return, or a ``BattlabError`` within
``_fuzz.TIME_LIMIT_S``) are ``_fuzz.py``'s, under a 6 GB address-space cap.

Longer campaign::

    BATTLAB_FUZZ_CASES=20000 .venv/bin/python -m pytest tests/hardening/test_fuzz_other_readers.py \\
        -m slow -s -p no:cacheprovider
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest

from battlab.errors import (
    BattlabError,
    CorruptFileError,
    TooLargeError,
    UnsupportedFormatError,
)
from battlab.io.registry import Source
from tests.hardening import _fuzz

ADDRESS_SPACE_BYTES = 6 * 1024**3
REAL = _fuzz.REAL_DATA if (_fuzz.REAL_DATA / "MANIFEST.md").is_file() else None


class Reader:
    """What ``_fuzz.fuzz_reader`` needs (``name``, ``read(Source)``) around one reader call.

    ``call`` gets the Source itself, or (``on_disk``) the path of a file holding the case's
    bytes under the seed's file name, in a new folder of ``scratch`` per case: a lazy
    reader's handle on an earlier case (HDF5, TIFF) never sees its file rewritten."""

    def __init__(self, name, call, *, on_disk, scratch):
        self.name, self._call, self.on_disk, self.scratch = name, call, on_disk, scratch
        self._case = 0

    def read(self, source, **_):
        import shutil

        if not self.on_disk:
            return self._call(source)
        self._case += 1
        shutil.rmtree(Path(self.scratch) / f"case{self._case - 1}", ignore_errors=True)
        folder = Path(self.scratch) / f"case{self._case}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(source.name).name
        path.write_bytes(source.data)
        return self._call(path)


def _real(*parts) -> list[tuple[str, bytes]]:
    if REAL is None or not REAL.joinpath(*parts).is_file():
        return []
    return [(parts[-1], REAL.joinpath(*parts).read_bytes())]


def _file_bytes(write, name) -> bytes:
    """Bytes of the file ``write(path)`` creates (for writers that take a path only)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="battlab-seed-") as tmp:
        out = write(Path(tmp) / name)
        return Path(out if out is not None else Path(tmp) / name).read_bytes()


# --------------------------------------------------------------------------- movies
def _read_movie(path):
    from battlab.imaging.movie import open_movie

    movie = open_movie(path, pixel_size_um=1.0)
    n = movie.sizes["time"]
    movie.isel(time=0).values  # noqa: B018  lazy: decoding the first and last frame is part of the case
    if n > 1:
        movie.isel(time=n - 1).values  # noqa: B018
    return movie


def _movie_seeds():
    from battlab.datasets.optical import make_electrode_movie, write_movie

    grey = make_electrode_movie(n_frames=4, shape=(24, 32), seed=3).data
    rgb = make_electrode_movie(n_frames=4, shape=(16, 16), seed=4, rgb=True, dtype="uint8").data
    out = []
    for fmt, name, frames in (("tiff", "generated_movie.tif", grey), ("imagej-tiff", "generated_ij.tif", grey),
                              ("ome-tiff", "generated_movie.ome.tif", grey), ("tiff", "generated_rgb.tif", rgb),
                              ("zip", "generated_frames.zip", grey), ("mp4", "generated_movie.mp4", rgb),
                              ("avi", "generated_movie.avi", rgb)):
        out.append((name, _file_bytes(lambda p, fmt=fmt, frames=frames: write_movie(
            frames, p, format=fmt, frame_interval_s=2.0, pixel_size_um=0.5, fps=5.0), name)))
    return (out + _real("tiff-stack", "pims_stuck.tif") + _real("optical-video", "pims_bulk-water.mov")
            + _real("optical-video", "pims_sample_norpix6.seq"))


# --------------------------------------------------------------------------- detector frames, PONI
def _read_detector(source):
    from battlab.diffraction.integrate import read_detector_image

    return read_detector_image(source)


def _detector_seeds():
    import fabio.cbfimage
    import fabio.edfimage
    import tifffile

    rng = np.random.default_rng(5)
    frame = rng.poisson(50, (40, 48)).astype(np.int32)
    frame[:, 20:22] = -1  # a module gap
    tif = io.BytesIO()
    tifffile.imwrite(tif, frame, metadata=None, datetime="2026:02:01 10:00:00")
    out = [("generated_frame.tif", tif.getvalue())]
    out.append(("generated_frame.cbf", _file_bytes(lambda p: fabio.cbfimage.CbfImage(data=frame).write(str(p)),
                                                   "generated_frame.cbf")))
    out.append(("generated_frame.edf", _file_bytes(
        lambda p: fabio.edfimage.EdfImage(data=frame.astype(np.float32), header={"Title": "seed"}).write(str(p)),
        "generated_frame.edf")))
    return out + _real("xrd", "xraylarch_Pilatus.tiff")


def _read_poni(path):
    from battlab.diffraction.integrate import load_poni

    return load_poni(path)


def _poni_seeds():
    from tests.diffraction.test_integrate import PONI_TEXT

    pilatus = ("poni_version: 2\nDetector: Pilatus100k\nDetector_config: {}\nDistance: 0.25\n"
               "Poni1: 0.0168\nPoni2: -0.02\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1.0e-10\n")
    v1 = ("# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis\n# Calibration done at Mon Feb 2 10:00:00 2026\n"
          "PixelSize1: 0.000172\nPixelSize2: 0.000172\nDistance: 0.2112\nPoni1: 0.0354\nPoni2: 0.0412\n"
          "Rot1: 0.0021\nRot2: -0.0013\nRot3: 0.0\nWavelength: 7.2932e-11\n")
    v21 = ('poni_version: 2.1\nDetector: Detector\nDetector_config: {"pixel1": 7.5e-05, "pixel2": 7.5e-05, '
           '"max_shape": [2162, 2068], "orientation": 3}\nDistance: 0.1\nPoni1: 0.08\nPoni2: 0.077\n'
           "Rot1: 0.0\nRot2: 0.0\nRot3: 0.0\nWavelength: 1.5406e-10\n")
    return [("lab6.poni", PONI_TEXT.encode()), ("pilatus.poni", pilatus.encode()), ("v1.poni", v1.encode()),
            ("eiger.poni", v21.encode())]


# --------------------------------------------------------------------------- TEM patterns
def _read_pattern(path):
    from battlab.tem.io import open_pattern

    arr = open_pattern(path)
    if arr.ndim <= 2:
        arr.values  # noqa: B018
    else:
        arr.isel({arr.dims[0]: 0}).values  # noqa: B018  a series: its first frame decoded
    return arr


def _pattern_seeds():
    import mrcfile
    import tifffile

    from battlab.datasets.tem import make_saed_pattern

    img = make_saed_pattern(size=64, center=(33.3, 30.7), camera_constant_px_A=60.0,
                            beam_stop_radius_px=3.0).data.values.astype(np.float32)
    npy = io.BytesIO()
    np.save(npy, img)
    tif = io.BytesIO()
    tifffile.imwrite(tif, img)

    def mrc(path):
        with mrcfile.new(str(path)) as m:
            m.set_data(img)
            m.voxel_size = 0.5

    out = [("generated_saed.npy", npy.getvalue()), ("generated_saed.tif", tif.getvalue()),
           ("generated_saed.mrc", _file_bytes(mrc, "generated_saed.mrc"))]
    test_pattern = "ncempy_dmTest_float32_nonSquare_diffPixelSize"
    for name in (f"{test_pattern}.dm3", f"{test_pattern}.dm4",
                 "ncempy_STEM_HAADF_Diffraction_Micro.emd", "ncempy_08_carbon.dm3"):
        out += _real("tem", name)
    return out


# --------------------------------------------------------------------------- SIMS stacks
#: HDF5 seeds name the dataset read from them (read_sims_maps takes (path, dataset)).
_SIMS_DATASET = {"generated_maps.h5": "C6-"}


def _read_sims(path):
    from battlab.depth.sims import read_sims_maps

    src = (path, _SIMS_DATASET[path.name]) if path.name in _SIMS_DATASET else path
    return read_sims_maps({"Li+": src}, pixel_size_um=0.5, depth_per_scan_nm=2.5)


def _sims_seeds():
    import h5py
    import tifffile

    from battlab.datasets.depth import make_sims_map

    stack = make_sims_map(size_px=16, n_scans=6).data
    npy, tif, h5 = io.BytesIO(), io.BytesIO(), io.BytesIO()
    np.save(npy, stack.sel(fragment="LiF-").values.astype("float32"))
    tifffile.imwrite(tif, stack.sel(fragment="C2H-").values.astype("float32"))
    with h5py.File(h5, "w") as fh:
        fh["C6-"] = stack.sel(fragment="C6-").values
        fh["LiF-"] = stack.sel(fragment="LiF-").values.astype("float32")
    return ([("generated_lif.npy", npy.getvalue()), ("generated_c2h.tif", tif.getvalue()),
             ("generated_maps.h5", h5.getvalue())]
            + _real("tiff-stack", "pims_stuck.tif")
            + _real("hdf5-nexus", "ncempy_au_145mm_68kx_microprobe_01_master.h5"))


# --------------------------------------------------------------------------- EC-AFM frames
def _read_afm_frames(source):
    from battlab.afm.io import read_afm_frames

    return read_afm_frames(source.data, name=source.name, pixel_size_um=0.04, z_unit="nm")


def _afm_seeds():
    import tifffile

    from battlab.datasets.afm import make_ecafm_series

    frames = make_ecafm_series(n_frames=3, size_px=16).data
    stack = io.BytesIO()
    tifffile.imwrite(stack, frames.values.astype(np.float32))
    big_endian = io.BytesIO()
    tifffile.imwrite(big_endian, (frames.values * 100).astype(">i2"))
    width = frames.attrs["scan_size_um"][0]
    text = io.BytesIO()
    np.savetxt(text, frames.values[0], fmt="%.6f", comments="# ", encoding="utf-8",
               header=f"Channel: Height\nWidth: {width:.6f} µm\nHeight: {width:.6f} µm\nValue units: nm")
    csv = io.BytesIO()
    np.savetxt(csv, frames.values[1], fmt="%.4f", delimiter=",")
    return ([("generated_frames.tif", stack.getvalue()), ("generated_frames_be.tif", big_endian.getvalue()),
             ("generated_frame_00.txt", text.getvalue()), ("generated_frame_01.csv", csv.getvalue())]
            + _real("afm", "gwyfile_test.gwy"))


# --------------------------------------------------------------------------- correlative maps
def _read_map(path):
    from battlab.correlate.workflow import read_map

    return read_map(path, pixel_size_um=0.5)


def _map_seeds():
    import tifffile

    from battlab.datasets.afm import make_rough_surface

    img = make_rough_surface(size_px=24).data["height"].values
    tif, rgb, npy, csv, txt = io.BytesIO(), io.BytesIO(), io.BytesIO(), io.BytesIO(), io.BytesIO()
    tifffile.imwrite(tif, img.astype(np.float32))
    scaled = (255 * (img - img.min()) / np.ptp(img)).astype(np.uint8)
    tifffile.imwrite(rgb, np.stack([scaled] * 3, axis=-1), photometric="rgb")
    np.save(npy, img)
    np.savetxt(csv, img, delimiter=",", fmt="%.5g")
    np.savetxt(txt, img, fmt="%.5g", header="AFM height (nm)")
    return [("generated_map.tif", tif.getvalue()), ("generated_rgb.tif", rgb.getvalue()),
            ("generated_map.npy", npy.getvalue()), ("generated_map.csv", csv.getvalue()),
            ("generated_map.txt", txt.getvalue())]


def _read_landmarks(path):
    from battlab.correlate.workflow import read_landmarks

    return read_landmarks(path)


def _landmark_seeds():
    from tests.test_cli_correlate import landmark_table

    table = landmark_table([[3.0, 4.0], [25.0, 6.0], [12.0, 27.0], [18.5, 14.25], [2.0, 30.0], [29.0, 29.5]],
                           rotation_deg=12.0, scale=0.98, translation_um=(1.5, -2.25))
    three = table.iloc[:3].to_csv(index=False).encode()
    named = ("# clicked in the correlation app\n" + table.assign(name=list("abcdef"))[
        ["name", *table.columns]].to_csv(index=False)).encode()
    return [("points.csv", three), ("points_named.csv", named)]


# --------------------------------------------------------------------------- layer tables, channels
def _read_layers(path):
    from battlab.scattering.reflectometry import read_layers

    return read_layers(path)


def _layer_seeds():
    from battlab.datasets.scattering import make_reflectivity_series

    layers = make_reflectivity_series(n_curves=2).truth["layers"]
    plain = layers.to_csv(index=False).encode()
    absorbing = ("# Si | Cu | SEI | electrolyte, SLD in 1e-6/A^2\n" + layers.assign(
        **{"sld_imag_1e-6_per_A2": [0.0, 0.05, 0.01, 0.0]}).to_csv(index=False, sep=",").replace(",", ", ")).encode()
    return [("layers.csv", plain), ("layers_absorbing.csv", absorbing)]


def _read_channels(source):
    from battlab.spectra.mossbauer import read_channels

    return read_channels(source)


def _channel_seeds():
    from battlab.datasets.spectra import make_alpha_fe_calibration

    counts = make_alpha_fe_calibration(n_raw_channels=512).data
    one = "Mössbauer raw 512 ch\n" + "\n".join(str(int(c)) for c in counts) + "\n"
    wide = "\n".join(" ".join(str(int(c)) for c in counts[i:i + 8]) for i in range(0, counts.size, 8))
    two = "channel,counts\n" + "\n".join(f"{i},{int(c)}" for i, c in enumerate(counts))
    return [("one.txt", one.encode()), ("wide.dat", wide.encode()), ("two.csv", two.encode())]


# --------------------------------------------------------------------------- TEM images and series
def _read_tem(path):
    from battlab.tem.io import open_tem

    # the first frame is decoded: a lazy series must fail on damaged data here, not later in the app
    arr = open_tem(path, pixel_size_nm=1.0, hash_source=False)
    return np.asarray(arr.values if arr.ndim <= 2 else arr.isel({arr.dims[0]: 0}).values)


def _tem_seeds():
    series = io.BytesIO()
    np.save(series, np.random.default_rng(4).normal(100, 5, (4, 24, 24)).astype(np.float32))
    return ([("generated_series.npy", series.getvalue())]
            + [seed for name in ("ncempy_dmTest_float32_nonSquare_diffPixelSize.dm3",
                                 "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm4",
                                 "ncempy_STEM_HAADF_Diffraction_Micro.emd", "ncempy_08_carbon.dm3")
               for seed in _real("tem", name)])


# --------------------------------------------------------------------------- depth-profile tables
def _depth_reader(function, **options):
    def read(source):
        import battlab.depth as depth

        return getattr(depth, function)(source.data, name=source.name, **options)

    return read


def _depth_seeds(kind):
    import pandas as pd

    def seeds():
        if kind == "ndp":
            e = np.arange(2000.0, 2100.0, 5.0)
            return [("ndp.csv", pd.DataFrame({"channel": np.arange(e.size), "counts": np.arange(e.size) % 7})
                     .to_csv(index=False).encode())]
        if kind == "stopping":
            return [("stopping.csv", b"Energy (MeV),dE/dx (keV/um)\n0.1,200\n1.0,80\n3.0,50\n")]
        if kind == "sims":
            return [("profile.csv", pd.DataFrame({"Time (s)": [0, 2, 4, 6], "LiF-": [1, 5, 9, 2],
                                                  "C2H-": [9, 4, 1, 0]}).to_csv(index=False).encode())]
        if kind == "xps-csv":
            rows = [{"region": "C 1s", "sputter_time_s": t, "binding_energy_eV": 280 + 0.5 * k, "intensity": 100 + k}
                    for t in (0, 60) for k in range(12)]
            return [("xps.csv", pd.DataFrame(rows).to_csv(index=False).encode())]
        from battlab.datasets.depth import make_xps_depth_series
        from tests.depth.test_xps_depth import _vamas

        return [("depth.vms", _vamas(make_xps_depth_series(sputter_time_s=(0, 60), step_eV=0.5).data,
                                     etch_ids=True))]

    return seeds


# --------------------------------------------------------------------------- results tables, probes, element maps
def _read_results_table(source):
    from battlab.correlate.workflow import read_table

    table, column = read_table(source.data, name=source.name)
    assert column in table  # a table that reads has its time column
    return table


def _results_table_seeds():
    from battlab.datasets.correlation import make_multimodal

    return [("xrd.csv", make_multimodal(n_frames=12).data.tables["xrd"].to_csv(index=False).encode())]


def _read_approach(source):
    from battlab.probes import read_approach_curve

    out = read_approach_curve(source.data, name=source.name)
    assert {"distance_um", "current_nA"} <= set(out.columns)
    return out


def _approach_seeds():
    from battlab.datasets.probes import make_approach_curve

    curve = make_approach_curve(n_points=40).data
    return [("curve.csv", curve.rename(columns={"distance_um": "Distance (um)", "current_nA": "Current (nA)"})
             .to_csv(index=False).encode())]


def _read_probe_map(source):
    from battlab.probes import read_probe_map

    return read_probe_map(source.data, name=source.name, pixel_size_um=0.1, value_unit="nA")


def _probe_map_seeds():
    import tifffile

    from battlab.datasets.probes import make_secm_map

    current = make_secm_map(size_px=24, pixel_size_um=3.0).data["tip current"].values
    tif, txt = io.BytesIO(), io.BytesIO()
    tifffile.imwrite(tif, current.astype(np.float32))
    np.savetxt(txt, current, fmt="%.6g")
    return [("map.tif", tif.getvalue()), ("map.txt", txt.getvalue())]


def _read_element_maps(source):
    from battlab.elements import read_element_maps

    out = read_element_maps(source.data, name=source.name, pixel_size_um=0.1)
    assert out.dims == ("element", "y", "x")
    return out


def _element_map_seeds():
    import zipfile

    import h5py
    import pandas as pd
    import tifffile

    from battlab.datasets.elements import make_nmc_element_maps

    maps = make_nmc_element_maps(size_px=16).data["maps"]
    tif, zbuf, hbuf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with tifffile.TiffWriter(tif) as tw:
        for e in maps["element"].values:
            tw.write(maps.sel(element=e).values.astype("float32"), description=str(e), metadata=None)
    with zipfile.ZipFile(zbuf, "w") as zf:
        for e in maps["element"].values:
            zf.writestr(f"{e}_Ka.csv", pd.DataFrame(maps.sel(element=e).values).to_csv(index=False, header=False))
    with h5py.File(hbuf, "w") as h:
        for e in maps["element"].values:
            h.create_dataset(f"maps/{e}", data=maps.sel(element=e).values)
    return [("maps.tif", tif.getvalue()), ("maps.zip", zbuf.getvalue()), ("maps.h5", hbuf.getvalue())]


#: name -> (reader call, gets a path (True) or the Source, seed maker)
READERS = {
    "imaging.open_movie": (_read_movie, True, _movie_seeds),
    "diffraction.read_detector_image": (_read_detector, False, _detector_seeds),
    "diffraction.load_poni": (_read_poni, True, _poni_seeds),
    "tem.open_pattern": (_read_pattern, True, _pattern_seeds),
    "depth.read_sims_maps": (_read_sims, True, _sims_seeds),
    "afm.read_afm_frames": (_read_afm_frames, False, _afm_seeds),
    "correlate.read_map": (_read_map, True, _map_seeds),
    "correlate.read_landmarks": (_read_landmarks, True, _landmark_seeds),
    "scattering.read_layers": (_read_layers, True, _layer_seeds),
    "spectra.mossbauer.read_channels": (_read_channels, False, _channel_seeds),
    "tem.open_tem": (_read_tem, True, _tem_seeds),
    "depth.read_ndp_spectra": (_depth_reader("read_ndp_spectra", offset_keV=0.0, gain_keV_per_channel=3.0), False,
                               _depth_seeds("ndp")),
    "depth.read_stopping_table": (_depth_reader("read_stopping_table"), False, _depth_seeds("stopping")),
    "depth.read_sims_profile": (_depth_reader("read_sims_profile"), False, _depth_seeds("sims")),
    "depth.read_xps_depth_csv": (_depth_reader("read_xps_depth_csv"), False, _depth_seeds("xps-csv")),
    "depth.read_xps_depth": (_depth_reader("read_xps_depth"), False, _depth_seeds("vamas")),
    "correlate.read_table": (_read_results_table, False, _results_table_seeds),
    "probes.read_approach_curve": (_read_approach, False, _approach_seeds),
    "probes.read_probe_map": (_read_probe_map, False, _probe_map_seeds),
    "elements.read_element_maps": (_read_element_maps, False, _element_map_seeds),
}


def make_reader(name, scratch) -> tuple[Reader, list]:
    call, on_disk, seeds = READERS[name]
    return Reader(name, call, on_disk=on_disk, scratch=scratch), seeds()


def fuzz(name, n_cases, scratch, **kwargs):
    """``n_cases`` mutations of the reader's seeds (``_fuzz.fuzz_reader``; kwargs go to it)."""
    import dask

    reader, seeds = make_reader(name, scratch)
    # Warm-up: lazy imports (rsciio, pyFAI, fabio, imageio) are not the reader's time.
    for seed_name, data in seeds[:3]:
        try:
            reader.read(Source(data=data, name=seed_name))
        except Exception:  # noqa: BLE001  the fuzz run checks every verdict
            pass
    # Frames are decoded in this thread, so a hang is interrupted where it happens.
    with dask.config.set(scheduler="synchronous"), _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        return _fuzz.fuzz_reader(reader, n_cases, seeds=seeds, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(READERS))
def test_reader_outside_the_registry_survives_mutations(name, tmp_path):
    n = _fuzz.cases_per_reader()
    stats = fuzz(name, n, tmp_path)
    _fuzz.report_and_check(stats, n, name)


@pytest.mark.parametrize("name", list(READERS))
def test_every_seed_of_a_reader_outside_the_registry_reads(name, tmp_path):
    reader, seeds = make_reader(name, tmp_path)
    for seed_name, data in seeds:
        if seed_name.endswith(".seq"):  # Norpix .seq is refused with export advice, by design
            with pytest.raises(BattlabError, match="not supported"):
                reader.read(Source(data=data, name=seed_name))
        elif seed_name.startswith("ncempy_au_"):  # the NeXus master whose linked data file is absent
            with pytest.raises(BattlabError, match="linked file"):
                reader.read(Source(data=data, name=seed_name))
        else:
            assert reader.read(Source(data=data, name=seed_name)) is not None, seed_name


# --- regressions for bugs the harness found -------------------------------------------
def _verdict(name, data, seed_name, tmp_path):
    """(return value or exception, seconds, peak traced bytes) of one reader call."""
    import tracemalloc

    reader = Reader(name, READERS[name][0], on_disk=READERS[name][1], scratch=tmp_path)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        verdict = reader.read(Source(data=data, name=seed_name))
    except Exception as exc:  # noqa: BLE001  the caller checks which exception
        verdict = exc
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return verdict, elapsed, peak


def _seed(seeds, name):
    return dict(seeds())[name]


@pytest.mark.parametrize("cut", ["before the marker", "inside the MIME header", "no section"])
def test_cbf_that_lost_its_binary_marker_is_a_corrupt_file_not_a_hang(cut, tmp_path):
    # Previously fabio kept reading past the end of the file for the marker, forever.
    data = _seed(_detector_seeds, "generated_frame.cbf")
    marker = data.index(b"\x0c\x1a\x04\xd5")
    damaged = {"before the marker": data[:marker - 10], "inside the MIME header": data[:marker],
               "no section": data.replace(b"--CIF-BINARY-FORMAT-SECTION--", b"--CIF-BINARY-FORMAT-SECT\xff\xff--")}[cut]
    verdict, elapsed, _ = _verdict("diffraction.read_detector_image", damaged, "frame.cbf", tmp_path)
    assert isinstance(verdict, CorruptFileError) and "marker" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


def test_cbf_with_a_huge_mime_header_is_refused_fast(tmp_path):
    # Previously fabio's marker search (quadratic in the distance) took seconds on 2 MB of header.
    data = _seed(_detector_seeds, "generated_frame.cbf")
    at = data.index(b"X-Binary-ID")
    damaged = data[:at] + b"9" * 2_000_000 + data[at:]
    verdict, elapsed, _ = _verdict("diffraction.read_detector_image", damaged, "frame.cbf", tmp_path)
    assert isinstance(verdict, CorruptFileError) and "MIME header" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


@pytest.mark.parametrize("suffix, old, new", [
    (".cbf", b"X-Binary-Size-Fastest-Dimension: 48", b"X-Binary-Size-Fastest-Dimension: 4800000000"),
    (".edf", b"Dim_1 = 48 ", b"Dim_1 = 48000000 "),
])
def test_cbf_and_edf_frames_declaring_absurd_sizes_are_refused_unread(suffix, old, new, tmp_path):
    data = _seed(_detector_seeds, f"generated_frame{suffix}")
    assert old in data
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        verdict, elapsed, peak = _verdict("diffraction.read_detector_image", data.replace(old, new),
                                          f"frame{suffix}", tmp_path)
    assert isinstance(verdict, TooLargeError) and "declares" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S and peak < 20e6


def test_fabio_seeds_read_back():
    from battlab.diffraction.integrate import read_detector_image

    for suffix in (".cbf", ".edf"):
        image, meta = read_detector_image(_seed(_detector_seeds, f"generated_frame{suffix}"), name=f"f{suffix}")
        assert image.shape == (40, 48) and (image[:, 20:22] == -1).all(), suffix


@pytest.mark.parametrize("field, value", [("nx", -16777152), ("nz", 2**30), ("mode", 77), ("next", 2**30)])
def test_mrc_header_declaring_impossible_sizes_is_refused_unread(field, value, tmp_path):
    # Previously RosettaSciIO built a chunk table from a negative width: MemoryError (95 GiB).
    import struct

    data = bytearray(_seed(_pattern_seeds, "generated_saed.mrc"))
    offset = {"nx": 0, "nz": 8, "mode": 12, "next": 92}[field]
    data[offset:offset + 4] = struct.pack("<i", value)
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        verdict, elapsed, peak = _verdict("tem.open_pattern", bytes(data), "pattern.mrc", tmp_path)
    expected = UnsupportedFormatError if field == "mode" else CorruptFileError
    assert isinstance(verdict, expected) and "MRC" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S and peak < 20e6


@pytest.mark.parametrize("reader, seeds", [("tem.open_pattern", _pattern_seeds), ("correlate.read_map", _map_seeds)])
@pytest.mark.parametrize("damage", ["empty", "header"])
def test_damaged_npy_map_or_pattern_is_a_corrupt_file(reader, seeds, damage, tmp_path):
    # Previously numpy's EOFError (empty file) or tokenize.TokenError (a damaged header) escaped.
    name = next(n for n, _ in seeds() if n.endswith(".npy"))
    data = _seed(seeds, name)
    damaged = b"" if damage == "empty" else data.replace(b"'shape': (", b"'shape': ((", 1)
    verdict, _, _ = _verdict(reader, damaged, name, tmp_path)
    assert isinstance(verdict, CorruptFileError) and ".npy" in str(verdict), verdict


def test_empty_text_map_says_so(tmp_path):
    # Previously an IndexError (the first line of no lines) escaped read_map.
    from battlab.errors import MissingDataError

    verdict, _, _ = _verdict("correlate.read_map", b"", "map.csv", tmp_path)
    assert isinstance(verdict, MissingDataError) and "empty" in str(verdict), verdict


@pytest.mark.parametrize("reader", ["correlate.read_map", "tem.open_pattern"])
def test_tiff_map_or_pattern_declaring_absurd_pages_is_refused_unread(reader, tmp_path):
    from tests.hardening.test_fuzz_imaging_readers import _set_tiff_size

    seeds = _map_seeds if reader == "correlate.read_map" else _pattern_seeds
    name = next(n for n, _ in seeds() if n.endswith(".tif"))
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        verdict, elapsed, peak = _verdict(reader, _set_tiff_size(_seed(seeds, name), 2**31 - 1), name, tmp_path)
    assert isinstance(verdict, TooLargeError) and "declares" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S and peak < 20e6


@pytest.mark.parametrize("reader, seed_name", [("correlate.read_landmarks", "points.csv"),
                                               ("scattering.read_layers", "layers.csv")])
def test_table_with_a_header_of_millions_of_fields_is_refused_fast(reader, seed_name, tmp_path):
    # Previously pandas spent minutes de-duplicating 250,000 repeated column names.
    seeds = _landmark_seeds if reader == "correlate.read_landmarks" else _layer_seeds
    data = _seed(seeds, seed_name)
    at = data.index(b",")
    verdict, elapsed, _ = _verdict(reader, data[:at] + b"1.5e300," * 250_000 + data[at:], seed_name, tmp_path)
    assert isinstance(verdict, CorruptFileError) and "fields" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


@pytest.mark.parametrize("damage, error", [("empty", "MissingDataError"), ("nul", "CorruptFileError"),
                                           ("not utf-8", "CorruptFileError"), ("ragged", "CorruptFileError"),
                                           ("word", "CorruptFileError")])
def test_damaged_landmark_table_is_a_battlab_error(damage, error, tmp_path):
    # Previously pandas' EmptyDataError, ParserError, UnicodeDecodeError and float()'s
    # ValueError escaped read_landmarks.
    data = _seed(_landmark_seeds, "points.csv")
    lines = data.split(b"\n")
    damaged = {"empty": b"", "nul": data.replace(b".", b"\x00", 1), "not utf-8": data + b"\x81\x8d\x90",
               "ragged": b"\n".join([*lines[:2], lines[2] + b",1,2,3", *lines[3:]]),
               "word": data.replace(b"25.0", b"2x5.0", 1)}[damage]
    verdict, _, _ = _verdict("correlate.read_landmarks", damaged, "points.csv", tmp_path)
    assert type(verdict).__name__ == error, verdict
    good, _, _ = _verdict("correlate.read_landmarks", data, "points.csv", tmp_path)
    assert list(good.columns) == ["x_moving_um", "y_moving_um", "x_reference_um", "y_reference_um"]
    assert len(good) == 3 and good.dtypes.eq(float).all()


def test_tiff_pattern_that_decodes_to_no_pixel_is_a_corrupt_file(tmp_path):
    # Previously a damaged BitsPerSample count made tifffile return a (0, 64, 64) stack, which
    # open_pattern gave back as an empty time series (IndexError on its first frame).
    import struct

    data = bytearray(_seed(_pattern_seeds, "generated_saed.tif"))
    ifd = struct.unpack("<I", data[4:8])[0]
    for k in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * k
        if struct.unpack("<H", data[entry:entry + 2])[0] == 258:  # BitsPerSample
            data[entry + 7] = 42  # high byte of its count
    verdict, elapsed, _ = _verdict("tem.open_pattern", bytes(data), "pattern.tif", tmp_path)
    assert isinstance(verdict, CorruptFileError), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


@pytest.mark.parametrize("keep", [3, 6, 9])
def test_detector_tiff_cut_inside_its_header_is_a_corrupt_file(keep, tmp_path):
    # Previously tifffile's struct.error ("unpack requires a buffer of 2 bytes") escaped.
    data = _seed(_detector_seeds, "generated_frame.tif")
    verdict, _, _ = _verdict("diffraction.read_detector_image", data[:keep], "frame.tif", tmp_path)
    assert isinstance(verdict, CorruptFileError), verdict


def test_dm3_struct_declaring_millions_of_fields_is_refused_fast(real_data, tmp_path):
    # Previously RosettaSciIO built the struct definition field by field (quadratic): > 20 s.
    from battlab.tem.io import MAX_DM_STRUCT_FIELDS

    data = (real_data / "tem" / "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm3").read_bytes()
    damaged = data[:238] + b"," * 2_000_000 + data[238:]  # inside a struct's field count
    verdict, elapsed, _ = _verdict("tem.open_pattern", damaged, "pattern.dm3", tmp_path)
    assert isinstance(verdict, CorruptFileError) and "fields" in str(verdict), verdict
    assert elapsed < _fuzz.TIME_TARGET_S
    # The guard leaves intact files alone: every struct of the real files is small.
    good, _, _ = _verdict("tem.open_pattern", data, "pattern.dm3", tmp_path)
    assert good.ndim == 2 and MAX_DM_STRUCT_FIELDS >= 16
