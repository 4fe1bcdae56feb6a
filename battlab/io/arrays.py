"""Plain image arrays (NumPy ``.npy``, TIFF) read with their declared sizes checked first.

Used by the readers that take exported maps and patterns as arrays (correlative maps,
TEM diffraction patterns). A damaged header must end in a battlab error: numpy's header
parser fails with EOFError, SyntaxError, tokenize errors or ValueError, and tifffile
sizes its output from the dimensions a page declares, so a flipped width field would
otherwise ask for gigabytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from battlab.errors import BattlabError, CorruptFileError, TooLargeError

__all__ = ["check_tiff_complete", "load_npy", "read_tiff_array", "MAX_ARRAY_BYTES"]

#: Largest array (as stored) these readers load into memory: a 16k × 16k float64 map.
MAX_ARRAY_BYTES = 2 * 1024**3


def load_npy(path, *, max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """The array of a ``.npy`` file, memory-mapped read-only (no pickles)."""
    path = Path(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except MemoryError:
        raise TooLargeError(f"{path.name}: not enough memory to open this .npy array.") from None
    except Exception as exc:  # noqa: BLE001 - a damaged header fails in numpy's parser in many ways
        raise CorruptFileError(f"{path.name} is not a readable .npy array ({type(exc).__name__}: "
                               f"{str(exc)[:160]}); save it again with numpy.save.") from None
    if not isinstance(arr, np.ndarray):  # np.load gives an NpzFile for a zip archive
        raise CorruptFileError(f"{path.name} is not a single .npy array; save one array with numpy.save.")
    if arr.nbytes > max_bytes:
        raise TooLargeError(f"{path.name} holds {arr.nbytes / 1e9:,.1f} GB, above the {max_bytes / 1e9:.0f} GB "
                            "battlab loads as one image; crop or bin it first.")
    return arr


def check_tiff_complete(pages, path: Path, *, size: int | None = None) -> None:
    """Refuse a TIFF whose pages' data run past the end of the file (a cut copy).

    ``size``: the file's length when it is held in memory (``path`` then only names it).
    """
    size = path.stat().st_size if size is None else size
    for page in pages:
        offsets = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        if offsets and max(o + c for o, c in zip(offsets, counts, strict=False)) > size:
            raise CorruptFileError(f"{path.name} is truncated: image data run past the end of the file "
                                   f"({size} bytes). Copy the file again or re-export it.")


def read_tiff_array(source, *, name: str | None = None, first_page: bool = False,
                    max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """The first page (``first_page``) or the first image series of a TIFF file.

    ``source`` is a path, or the file's bytes (an upload; ``name`` names it in messages).
    The declared size is checked before anything is decoded: it must stay below
    ``max_bytes`` and, for uncompressed data, inside the file.
    """
    import io

    import tifffile

    in_memory = isinstance(source, (bytes, bytearray, memoryview))
    path = Path(name or "upload.tif") if in_memory else Path(source)
    try:
        with tifffile.TiffFile(io.BytesIO(bytes(source)) if in_memory else path) as tif:
            if not tif.pages:
                raise CorruptFileError(f"{path.name}: a TIFF without images.")
            if first_page:
                page = tif.pages.first
                shape, dtype, pages = page.shape, page.dtype, [page]
            else:
                if not tif.series:
                    raise CorruptFileError(f"{path.name}: the TIFF holds no image series.")
                series = tif.series[0]
                shape, dtype, pages = series.shape, series.dtype, [p for p in series.pages if p is not None]
            if dtype is None or not shape:
                raise CorruptFileError(f"{path.name}: the TIFF page declares no image (shape {shape}).")
            declared = math.prod(int(n) for n in shape) * np.dtype(dtype).itemsize
            if declared > max_bytes:
                raise TooLargeError(f"{path.name} declares an image of {' × '.join(str(n) for n in shape)} "
                                    f"({declared / 1e9:,.1f} GB), above the {max_bytes / 1e9:.0f} GB battlab "
                                    "loads as one image; the file is damaged or needs cropping.")
            check_tiff_complete(pages, path, size=len(source) if in_memory else None)
            out = page.asarray() if first_page else tif.asarray(series=0)
            if out.size == 0:  # pages tifffile could not decode
                raise CorruptFileError(f"{path.name}: no pixel of the declared {' × '.join(str(n) for n in shape)} "
                                       "image could be decoded; the file is damaged.")
            return out
    except BattlabError:
        raise
    except MemoryError:
        raise TooLargeError(f"{path.name}: not enough memory to decode this TIFF.") from None
    except Exception as exc:  # noqa: BLE001 - tifffile and its codecs fail on damaged files in many ways
        raise CorruptFileError(f"{path.name} is not a readable TIFF image ({type(exc).__name__}: "
                               f"{str(exc)[:160]}).") from None
