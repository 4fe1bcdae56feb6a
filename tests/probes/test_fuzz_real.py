"""Probe and element readers fed real files of other kinds: only battlab's own exceptions may
escape. (Damaged bytes: ``tests/hardening/test_fuzz_other_readers.py``, 1,000 cases per reader.)"""

import numpy as np
import pytest
import tifffile

from battlab.elements import read_element_maps
from battlab.errors import BattlabError, MissingDataError, UnsupportedFormatError
from battlab.probes import read_approach_curve, read_probe_map


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
