"""Damaged vendor files: open_tem raises only battlab's own errors (or reads what is left)."""

import numpy as np
import pytest

from battlab.errors import BattlabError
from battlab.tem.io import open_tem

pytest.importorskip("rsciio", reason="RosettaSciIO (battlab[tem]) is not installed")

FILES = ["ncempy_dmTest_float32_nonSquare_diffPixelSize.dm3", "ncempy_dmTest_float32_nonSquare_diffPixelSize.dm4",
         "ncempy_STEM_HAADF_Diffraction_Micro.emd", "ncempy_08_carbon.dm3"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
def test_mutated_bytes_raise_only_battlab_errors(real_data, tmp_path, name):
    raw = (real_data / "tem" / name).read_bytes()
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    failures = []
    for case in range(40):
        data = bytearray(raw)
        kind = case % 3
        if kind == 0:  # truncation
            data = data[:int(rng.integers(16, len(data)))]
        elif kind == 1:  # flipped bytes in the header region
            for pos in rng.integers(0, min(len(data), 4096), 8):
                data[pos] ^= int(rng.integers(1, 256))
        else:  # flipped bytes anywhere
            for pos in rng.integers(0, len(data), 32):
                data[pos] ^= int(rng.integers(1, 256))
        path = tmp_path / f"case{case}{(real_data / 'tem' / name).suffix}"
        path.write_bytes(bytes(data))
        try:
            arr = open_tem(path, pixel_size_nm=1.0, hash_source=False)
            np.asarray(arr.values if arr.ndim <= 2 else arr.isel({arr.dims[0]: 0}).values)
        except BattlabError:
            pass
        except Exception as exc:  # noqa: BLE001 - collected for the assertion message
            failures.append((case, kind, type(exc).__name__, str(exc)[:120]))
    assert not failures, failures
