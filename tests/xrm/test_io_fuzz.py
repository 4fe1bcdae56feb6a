"""open_volume fed damaged files: only battlab's own errors may escape."""

import io

import h5py
import numpy as np
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from battlab.errors import BattlabError
from battlab.xrm import open_volume


def _files():
    cube = (np.arange(4 * 8 * 8) % 251).reshape(4, 8, 8).astype(np.uint16)
    out = {}
    buf = io.BytesIO()
    tifffile.imwrite(buf, cube, photometric="minisblack")
    out[".tif"] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, cube)
    out[".npy"] = buf.getvalue()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as fh:
        fh.create_dataset("volume", data=cube)
    out[".h5"] = buf.getvalue()
    return out


FILES = _files()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(sorted(FILES)), data=st.data())
def test_mutated_volume_files_raise_only_battlab_errors(tmp_path, suffix, data):
    raw = bytearray(FILES[suffix])
    n = data.draw(st.integers(1, 12))
    for _ in range(n):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    path = tmp_path / f"vol{suffix}"
    path.write_bytes(bytes(raw))
    try:
        vol = open_volume(path, voxel_size_um=1.0, hash_source=False)
        vol.values  # reading the voxels must also fail cleanly
    except BattlabError:
        pass
