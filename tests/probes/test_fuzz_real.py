"""Probe and element readers fed damaged bytes and real files of other kinds: only battlab's
own exceptions may escape."""

import io
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from battlab.datasets.elements import make_nmc_element_maps
from battlab.datasets.probes import make_approach_curve
from battlab.elements import read_element_maps
from battlab.errors import BattlabError, MissingDataError, UnsupportedFormatError
from battlab.probes import read_approach_curve, read_probe_map


def _samples():
    curve = make_approach_curve(n_points=40).data
    text = curve.rename(columns={"distance_um": "Distance (um)", "current_nA": "Current (nA)"}).to_csv(index=False)
    maps = make_nmc_element_maps(size_px=16).data["maps"]
    tif = io.BytesIO()
    with tifffile.TiffWriter(tif) as tw:
        for e in maps["element"].values:
            tw.write(maps.sel(element=e).values.astype("float32"), description=str(e), metadata=None)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for e in maps["element"].values:
            zf.writestr(f"{e}_Ka.csv", pd.DataFrame(maps.sel(element=e).values).to_csv(index=False, header=False))
    hbuf = io.BytesIO()
    with h5py.File(hbuf, "w") as h:
        for e in maps["element"].values:
            h.create_dataset(f"maps/{e}", data=maps.sel(element=e).values)
    return {"curve.csv": text.encode(), "maps.tif": tif.getvalue(), "maps.zip": zbuf.getvalue(),
            "maps.h5": hbuf.getvalue()}


SAMPLES = _samples()


@pytest.mark.parametrize("name", list(SAMPLES))
def test_mutated_inputs_raise_only_battlab_errors(name):
    @settings(max_examples=15, deadline=None, database=None, derandomize=True)
    @given(positions=st.lists(st.integers(0, 5_000), min_size=1, max_size=12), value=st.integers(0, 255),
           cut=st.sampled_from([1.0, 0.6, 0.05]))
    def check(positions, value, cut):
        raw = bytearray(SAMPLES[name])
        for pos in positions:
            raw[pos % len(raw)] = value
        data = bytes(raw[: max(8, int(len(raw) * cut))])
        try:
            if name.startswith("curve"):
                out = read_approach_curve(data, name=name)
                assert {"distance_um", "current_nA"} <= set(out.columns)
            else:
                out = read_element_maps(data, name=name, pixel_size_um=0.1)
                assert out.dims == ("element", "y", "x")
        except BattlabError:
            pass
        try:
            read_probe_map(data, name=name.replace("maps", "map"), pixel_size_um=0.1, value_unit="nA")
        except BattlabError:
            pass

    check()


def test_real_files_of_other_kinds_fail_cleanly(real_data):
    stack = real_data / "tiff-stack" / "pims_stuck.tif"
    with pytest.raises(UnsupportedFormatError, match="one 2-D page"):
        read_probe_map(stack, pixel_size_um=0.1, value_unit="nA")
    eis = real_data / "eis-text" / "impedancepy_exampleData.csv"
    with pytest.raises(BattlabError):
        read_approach_curve(eis)
    with pytest.raises(BattlabError):
        read_element_maps(eis, pixel_size_um=0.1)
    with pytest.raises(MissingDataError):
        read_element_maps(real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5",
                          pixel_size_um=0.1)


def test_real_tiff_page_as_probe_map(real_data, tmp_path):
    # One real microscopy frame, written as a single-page TIFF, reads as an ESM amplitude map.
    with tifffile.TiffFile(real_data / "tiff-stack" / "pims_stuck.tif") as tif:
        frame = tif.pages[0].asarray()
    page = tmp_path / "frame.tif"
    tifffile.imwrite(page, frame)
    m = read_probe_map(page, kind="esm-amplitude", pixel_size_um=0.05, value_unit="pm")
    assert m.shape == frame.shape and np.array_equal(m.values, frame.astype(float))
