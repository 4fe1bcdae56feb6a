"""Readers fed damaged bytes: only battlab's own exceptions may escape."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battlab.afm import read_afm
from battlab.errors import BattlabError
from tests.conftest import REAL_DATA

FILES = ["nanoscope_full_multiple_images.spm", "AFMReader_sample_0.jpk", "gwyfile_test.gwy"]


@functools.lru_cache(maxsize=None)
def _original(name):
    return (REAL_DATA / "afm" / name).read_bytes()


@pytest.mark.parametrize("name", FILES)
def test_mutated_files_raise_only_battlab_errors(name, real_data):
    @settings(max_examples=12, deadline=None, database=None)
    @given(positions=st.lists(st.integers(0, 40_000), min_size=1, max_size=20), value=st.integers(0, 255),
           cut=st.sampled_from([1.0, 0.5, 0.01]))
    def check(positions, value, cut):
        raw = bytearray(_original(name))
        # Damage the header region, where the reader takes its offsets, sizes and scales.
        for pos in positions:
            raw[pos % len(raw)] = value
        try:
            channels = read_afm(bytes(raw[: max(16, int(len(raw) * cut))]), name=name, pixel_size_um=0.01)
        except BattlabError:
            return
        for image in channels.values():
            assert image.dims == ("y", "x") and np.isfinite(image.attrs["pixel_size_um"])

    check()
