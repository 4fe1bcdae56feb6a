"""Open microscope movies as lazy, calibrated ``xarray.DataArray`` objects.

Every reader returns the same thing: dims ``(time, y, x, channel)``, coordinates
``time_s``, ``y_um`` and ``x_um``, and a dask array with one chunk per frame, so showing
frame *n* of a 2 GB movie reads only that frame from disk.

Inputs: multi-page TIFF / OME-TIFF / ImageJ TIFF (tifffile), image sequences (a folder,
a list of files or a zip of PNG / JPEG / TIFF, in natural sort order) and AVI / MP4 /
MOV video (imageio's ffmpeg plugin).

Time comes from, in order: ``timestamps`` or ``frame_rate_fps`` when the caller gives
them (an explicit choice beats file metadata, which is often a nominal camera rate);
otherwise the file's metadata (OME ``DeltaT`` / ``TimeIncrement``, ImageJ ``finterval``,
TIFF ``DateTime`` tags, the video's frame rate); otherwise the frame index, with
``attrs["time_known"] = False`` and a note.
"""

from __future__ import annotations

import io
import math
import re
import threading
import uuid
import warnings
import zipfile
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import numpy as np

from battlab.errors import (
    BattlabWarning,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)
from battlab.io.arrays import check_tiff_complete

__all__ = ["open_movie", "frame_times_from_csv", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "TIFF_SUFFIXES"]

TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".m4v", ".mkv")
_UNSUPPORTED = {
    ".seq": "Norpix StreamPix .seq",
    ".cine": "Phantom .cine",
    ".nd2": "Nikon .nd2",
    ".czi": "Zeiss .czi",
    ".lif": "Leica .lif",
}
_EXPORT_HINT = ("export the movie from the acquisition software as a multi-page (OME-)TIFF, "
                "an AVI/MP4, or a folder of numbered PNG/TIFF frames, and open that")


# --------------------------------------------------------------------------- helpers
def _natural_key(name: str):
    # "frame_2.png" sorts before "frame_10.png"
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def _check_pixel_size(pixel_size_um):
    if pixel_size_um is None:
        raise InvalidParameterError(
            "pixel_size_um is required: give the calibrated pixel size in micrometres "
            "(from the microscope's scale bar or objective calibration), e.g. pixel_size_um=0.65.")
    try:
        value = float(pixel_size_um)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"pixel_size_um must be a number of micrometres, got {pixel_size_um!r}.") from None
    if not np.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"pixel_size_um must be a positive number of micrometres, got {pixel_size_um!r}.")
    return value


class _Handles:
    """A small per-process cache of open readers, so per-frame dask tasks don't reopen files."""

    def __init__(self, size=8):
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()
        self._size = size

    def get(self, key, opener):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            item = (opener(), threading.Lock())
            self._items[key] = item
            while len(self._items) > self._size:
                _, (old, _) = self._items.popitem(last=False)
                try:
                    old.close()
                except Exception:  # noqa: BLE001 - closing a stale handle must never fail a read
                    pass
            return item

    def drop(self, key):
        with self._lock:
            item = self._items.pop(key, None)
        if item is not None:
            try:
                item[0].close()
            except Exception:  # noqa: BLE001
                pass


_HANDLES = _Handles()


def _as_frame(arr, shape, dtype, where):
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape != tuple(shape):
        raise CorruptFileError(f"{where} has shape {arr.shape}, the movie's frames are {tuple(shape)}; "
                               "all frames of a movie must have the same size and colour mode.")
    return arr.astype(dtype, copy=False)


# --------------------------------------------------------------------------- TIFF
def _open_tiff(path):
    import tifffile

    return tifffile.TiffFile(path)


def _tiff_layout(tif, path, channel_axis=None):
    """Page index per (frame, channel) and the per-frame shape of the first series."""
    series = tif.series[0]
    axes, shape = series.axes, series.shape
    if channel_axis is not None:
        try:
            label = axes[channel_axis]
        except IndexError:
            raise InvalidParameterError(f"channel_axis={channel_axis} but {path.name} has axes {axes!r} "
                                        f"(shape {shape}).") from None
        if label in "YX":
            raise InvalidParameterError(f"channel_axis={channel_axis} points at the image axis {label!r} of "
                                        f"{path.name} (axes {axes!r}); pick a plane axis.")
        if label not in "SC":
            k = channel_axis % len(axes)
            axes = "".join("C" if j == k else ("Q" if a == "C" else a) for j, a in enumerate(axes))
    pages = series.pages
    first = pages[0]
    if first is None:
        raise CorruptFileError(f"{path.name}: the first TIFF page is missing; re-export the stack.")
    page_axes = "".join(a for a in axes if a in "YXS")
    if page_axes == "SYX" and axes.endswith("SYX"):  # planar RGB pages: samples go last when read
        page_axes = "YXS"
    lead = [(a, n) for a, n in zip(axes, shape, strict=True) if a not in "YXS"]
    n_pages = int(np.prod([n for _, n in lead])) if lead else 1
    if n_pages != len(pages):
        raise CorruptFileError(f"{path.name}: the TIFF declares {n_pages} planes but holds {len(pages)}; "
                               "the file is truncated or inconsistent, re-export it.")
    index = np.arange(n_pages).reshape([n for _, n in lead] or [1])
    lead_axes = [a for a, _ in lead] or ["I"]
    notes = []
    if "C" in lead_axes:  # channels stored as separate planes go last
        c = lead_axes.index("C")
        index = np.moveaxis(index, c, -1)
        lead_axes = lead_axes[:c] + lead_axes[c + 1:] + ["C"]
        index = index.reshape(-1, index.shape[-1])
    else:
        index = index.reshape(-1, 1)
    time_axes = [a for a in lead_axes if a != "C"]
    if len(time_axes) > 1:
        notes.append(f"TIFF axes {''.join(time_axes)} were flattened into one time axis in file order.")
    samples = shape[axes.index("S")] if "S" in axes else 1
    y, x = shape[axes.index("Y")], shape[axes.index("X")]
    if page_axes not in ("YX", "YXS"):
        raise UnsupportedFormatError(f"{path.name}: TIFF planes with axes {page_axes!r} are not supported; "
                                     f"{_EXPORT_HINT}.")
    n_channels = index.shape[1] * samples
    return index, (y, x, n_channels), np.dtype(series.dtype), time_axes, notes


def _tiff_times(tif, n_frames, time_axes):
    """(seconds, source) from OME / ImageJ / DateTime metadata, or (None, None).

    Times that are not finite or run backwards are not used (with a warning): the
    movie then has unknown time, and the caller's frame rate or timestamps decide.
    """
    times, source = _tiff_metadata_times(tif, n_frames, time_axes)
    if times is not None and (not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0)):
        warnings.warn(f"the frame times in the {source} metadata are not finite or run backwards; they are not "
                      "used (give frame_rate_fps or a timestamps file).", BattlabWarning, stacklevel=3)
        return None, None
    return times, source


def _tiff_metadata_times(tif, n_frames, time_axes):
    if tif.is_ome and tif.ome_metadata:
        t = _ome_times(tif.ome_metadata, n_frames)
        if t is not None:
            return t, "OME-XML (Plane DeltaT / Pixels TimeIncrement)"
    ij = tif.imagej_metadata or {}
    finterval = ij.get("finterval")
    if finterval and time_axes and time_axes[0] == "T":
        unit = str(ij.get("tunit", "sec")).lower()
        scale = {"ms": 1e-3, "msec": 1e-3, "min": 60.0, "h": 3600.0, "hour": 3600.0}.get(unit, 1.0)
        return np.arange(n_frames) * float(finterval) * scale, "ImageJ finterval"
    stamps = []
    for page in tif.pages:
        tag = page.tags.get("DateTime")
        if tag is None:
            break
        try:
            stamps.append(datetime.strptime(str(tag.value).strip("\x00 "), "%Y:%m:%d %H:%M:%S").timestamp())
        except ValueError:
            break
    if len(stamps) == n_frames and n_frames > 1 and np.all(np.diff(stamps) > 0):
        return np.asarray(stamps) - stamps[0], "TIFF DateTime tags (1 s resolution)"
    return None, None


def _ome_times(xml, n_frames):
    from defusedxml import ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except Exception:  # noqa: BLE001 - bad OME-XML just means no time metadata
        return None
    pixels = next((el for el in root.iter() if el.tag.endswith("}Pixels") or el.tag == "Pixels"), None)
    if pixels is None:
        return None
    by_t = {}
    for plane in pixels:
        if not plane.tag.endswith("Plane") or plane.get("DeltaT") is None:
            continue
        scale = {"ms": 1e-3, "min": 60.0, "h": 3600.0}.get(plane.get("DeltaTUnit", "s"), 1.0)
        by_t.setdefault(int(plane.get("TheT", 0)), float(plane.get("DeltaT")) * scale)
    if len(by_t) == n_frames:
        return np.array([by_t[k] for k in sorted(by_t)])
    inc = pixels.get("TimeIncrement")
    if inc is not None and float(inc) > 0:
        scale = {"ms": 1e-3, "min": 60.0, "h": 3600.0}.get(pixels.get("TimeIncrementUnit", "s"), 1.0)
        return np.arange(n_frames) * float(inc) * scale
    return None


#: Longest axis a movie may declare (frames or pixels), and the largest single frame.
MAX_AXIS_LENGTH = 2**24
MAX_FRAME_BYTES = 4 * 1024**3


def _check_declared_frames(n, frame_shape, dtype, name) -> None:
    """Refuse a movie whose header declares impossible sizes, before coordinates or frames exist.

    A damaged width field can declare 2**32 pixels: the time and pixel coordinates alone
    would need gigabytes, and the first frame read would exhaust the memory.
    """
    longest = max(int(n), *(int(v) for v in frame_shape))
    if longest > MAX_AXIS_LENGTH:
        raise CorruptFileError(f"{name} declares an axis of {longest:,} frames or pixels, which no camera "
                               "records; the file is damaged.")
    frame_bytes = math.prod(int(v) for v in frame_shape) * np.dtype(dtype).itemsize
    if frame_bytes > MAX_FRAME_BYTES:
        raise TooLargeError(f"{name} declares frames of {frame_bytes / 1e9:,.1f} GB each, above battlab's "
                            f"{MAX_FRAME_BYTES / 1e9:.0f} GB per frame; the file is damaged or needs cropping.")


def _tiff_source(path, channel_axis=None):
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, OSError, TypeError, KeyError, IndexError, struct_error()) as exc:
        raise CorruptFileError(f"{path.name} is not a readable TIFF ({exc}). Check that the copy is complete, "
                               f"or {_EXPORT_HINT}.") from None
    try:
        if not tif.series:
            raise CorruptFileError(f"{path.name} holds no image series; re-export the stack.")
        check_tiff_complete(tif.pages, path)
        index, frame_shape, dtype, time_axes, notes = _tiff_layout(tif, path, channel_axis)
        times, time_source = _tiff_times(tif, index.shape[0], time_axes)
        meta_px = _tiff_pixel_size(tif)
    except (CorruptFileError, InvalidParameterError, UnsupportedFormatError):
        tif.close()
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure of a damaged file
        tif.close()
        raise CorruptFileError(f"{path.name}: the TIFF structure is damaged ({exc}); re-export the stack.") from None
    tif.close()
    key = ("tiff", str(path))
    _HANDLES.drop(key)
    samples = frame_shape[2] // index.shape[1]

    def read(i):
        tif_, lock = _HANDLES.get(key, lambda: _open_tiff(path))
        planes = []
        with lock:
            for p in index[i]:
                try:
                    page = tif_.pages[int(p)]
                    plane = page.asarray()
                    if plane.ndim == 3 and page.planarconfig == 2:  # separate sample planes (S, Y, X)
                        plane = np.moveaxis(plane, 0, -1)
                    planes.append(plane)
                except Exception as exc:  # noqa: BLE001 - a damaged plane
                    raise CorruptFileError(f"{path.name}: frame {i} cannot be decoded ({exc}); the file is "
                                           "damaged, re-export it.") from None
        planes = [pl[..., None] if pl.ndim == 2 else pl for pl in planes]
        arr = np.concatenate(planes, axis=-1) if len(planes) > 1 else planes[0]
        if arr.shape[-1] != index.shape[1] * samples:
            raise CorruptFileError(f"{path.name}: frame {i} has an unexpected number of samples.")
        return _as_frame(arr, frame_shape, dtype, f"{path.name} frame {i}")

    fmt = "OME-TIFF" if ".ome." in path.name.lower() else "TIFF"
    return dict(n=index.shape[0], frame_shape=frame_shape, dtype=dtype, read=read, times=times,
                time_source=time_source, format=fmt, files=[path], notes=notes, metadata_pixel_size_um=meta_px)


def struct_error():
    import struct

    return struct.error


def _tiff_pixel_size(tif):
    """Pixel size the file itself declares (µm), or None; only reported, never used silently."""
    try:
        if tif.is_ome and tif.ome_metadata:
            m = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', tif.ome_metadata)
            unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', tif.ome_metadata)
            if m:
                scale = {"nm": 1e-3, "mm": 1e3}.get(unit.group(1) if unit else "µm", 1.0)
                return float(m.group(1)) * scale
        ij = tif.imagej_metadata or {}
        tag = tif.pages[0].tags.get("XResolution")
        if ij.get("unit") in ("micron", "um", "µm", "\\u00B5m") and tag is not None:
            num, den = tag.value
            return den / num if num else None
    except Exception:  # noqa: BLE001 - metadata is advisory
        return None
    return None


# --------------------------------------------------------------------------- image sequences
def _read_image_bytes(data: bytes, name: str):
    suffix = Path(name).suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(io.BytesIO(data), key=0)
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def _probe_image(data: bytes, name: str):
    """(y, x, channels, dtype) from the header only."""
    suffix = Path(name).suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages[0]
            shape = page.shape
            return shape[0], shape[1], (shape[2] if len(shape) == 3 else 1), np.dtype(page.dtype)
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    arr = _read_image_bytes(data, name)  # decoding one frame gives the exact dtype/bands
    return arr.shape[0], arr.shape[1], (arr.shape[2] if arr.ndim == 3 else 1), arr.dtype


def _sequence_source(files, *, label, reader):
    """files: names in natural order; reader(name) -> bytes."""
    first_name = files[0]
    try:
        y, x, c, dtype = _probe_image(reader(first_name), first_name)
    except Exception as exc:  # noqa: BLE001
        raise CorruptFileError(f"{label}: the first frame {Path(first_name).name} cannot be read ({exc}).") from None
    shape = (y, x, c)

    def read(i):
        name = files[i]
        try:
            arr = _read_image_bytes(reader(name), name)
        except Exception as exc:  # noqa: BLE001 - any decoder failure of a damaged frame
            raise CorruptFileError(f"{label}: frame {i} ({Path(name).name}) cannot be decoded ({exc}); replace "
                                   "or remove that file.") from None
        return _as_frame(arr, shape, dtype, f"{label}: {Path(name).name}")

    return dict(n=len(files), frame_shape=shape, dtype=dtype, read=read, times=None, time_source=None,
                format="image sequence", notes=[], metadata_pixel_size_um=None)


def _folder_source(paths, label):
    files = [str(p) for p in paths]
    src = _sequence_source(files, label=label, reader=lambda name: Path(name).read_bytes())
    src["files"] = [Path(p) for p in files]
    return src


def _zip_source(path):
    try:
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES
                 and not Path(n).name.startswith(".") and "__MACOSX" not in n]
        zf.close()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFileError(f"{path.name} is not a readable zip archive ({exc}); zip the frames again.") from None
    if not names:
        raise MissingDataError(f"{path.name} holds no PNG/JPEG/TIFF frames; zip a folder of numbered images.")
    names.sort(key=_natural_key)
    key = ("zip", str(path))
    _HANDLES.drop(key)

    def reader(name):
        zf_, lock = _HANDLES.get(key, lambda: zipfile.ZipFile(path))
        with lock:
            return zf_.read(name)

    src = _sequence_source(names, label=path.name, reader=reader)
    src["files"] = [path]
    src["format"] = "zipped image sequence"
    return src


# --------------------------------------------------------------------------- video
def _ffmpeg_reason(exc: BaseException) -> str:
    """The gist of an ffmpeg failure, without its build report or the file's folder.

    ffmpeg's message carries its whole configuration and the path of the file on the
    server; users need only its last line (what was wrong), with paths cut to names.
    """
    import re

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.lstrip().startswith(
        ("ffmpeg version", "built with", "configuration:", "lib", "===", "Input #", "Metadata:"))]
    reason = lines[-1] if lines else type(exc).__name__
    reason = re.sub(r"(?:[A-Za-z]:)?[\\/](?:[^\s\\/:'\"]+[\\/])+([^\s\\/:'\"]+)", r"\1", reason)
    return reason[:160]


def _open_video(path):
    import imageio

    return imageio.get_reader(str(path), "ffmpeg")


def _video_source(path):
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise MissingDataError("reading AVI/MP4/MOV needs the imageio and imageio-ffmpeg packages: "
                               "pip install imageio imageio-ffmpeg") from None
    rdr = None
    try:
        rdr = _open_video(path)
        meta = rdr.get_meta_data()
        n = int(rdr.count_frames())
        first = np.asarray(rdr.get_data(0))
    except Exception as exc:  # noqa: BLE001 - ffmpeg reports damage in many ways
        raise CorruptFileError(f"{path.name} cannot be decoded as video ({_ffmpeg_reason(exc)}). Check the copy "
                               f"is complete, or {_EXPORT_HINT}.") from None
    finally:
        if rdr is not None:  # a damaged file must not leave an ffmpeg process and its pipes behind
            try:
                rdr.close()
            except Exception:  # noqa: BLE001 - closing after a failed decode must not hide the reason
                pass
    if n < 1:
        raise CorruptFileError(f"{path.name} holds no video frames.")
    shape = (first.shape[0], first.shape[1], first.shape[2] if first.ndim == 3 else 1)
    fps = meta.get("fps")
    times = np.arange(n) / float(fps) if fps and np.isfinite(fps) and fps > 0 else None
    key = ("video", str(path))
    _HANDLES.drop(key)

    def read(i):
        rdr_, lock = _HANDLES.get(key, lambda: _open_video(path))
        with lock:
            try:
                arr = rdr_.get_data(int(i))
            except Exception as exc:  # noqa: BLE001
                raise CorruptFileError(f"{path.name}: frame {i} cannot be decoded ({_ffmpeg_reason(exc)}).") from None
        return _as_frame(arr, shape, first.dtype, f"{path.name} frame {i}")

    notes = [f"video codec {meta.get('codec')}, {meta.get('pix_fmt')}; colour is as decoded by ffmpeg (8-bit, "
             "lossy compression): use a TIFF export for quantitative intensities."]
    return dict(n=n, frame_shape=shape, dtype=first.dtype, read=read, times=times,
                time_source=f"video frame rate ({fps} fps, constant)" if times is not None else None,
                format=f"video ({path.suffix.lstrip('.').upper()})", files=[path], notes=notes,
                metadata_pixel_size_um=None)


# --------------------------------------------------------------------------- timestamps
def frame_times_from_csv(path, *, column: str | None = None) -> np.ndarray:
    """Frame times (s, relative to the first frame) from a one-row-per-frame CSV.

    The column is ``column`` when given, else the first column whose name contains
    "time" or "stamp", else the first column. Numbers are taken as seconds; date-time
    strings are converted to seconds after the first frame.
    """
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, sep=None, engine="python")
    except Exception as exc:  # noqa: BLE001
        raise CorruptFileError(f"{path.name} is not a readable CSV of frame times ({exc}).") from None
    if df.empty:
        raise MissingDataError(f"{path.name} lists no frame times.")
    if column is None:
        named = [c for c in df.columns if "time" in str(c).lower() or "stamp" in str(c).lower()]
        column = named[0] if named else df.columns[0]
    if column not in df:
        raise MissingDataError(f"{path.name} has no column {column!r}; columns are {list(df.columns)}.")
    values = df[column]
    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all():
        t = num.to_numpy(dtype=float)
    else:
        stamps = pd.to_datetime(values, errors="coerce")
        if stamps.isna().any():
            raise CorruptFileError(f"{path.name}: column {column!r} holds values that are neither seconds nor "
                                   "date-times; give one time per frame.")
        t = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    return t


def _explicit_times(n, frame_rate_fps, timestamps):
    if timestamps is not None:
        if isinstance(timestamps, (str, Path)):
            t = frame_times_from_csv(timestamps)
            source = f"timestamp file {Path(timestamps).name}"
        else:
            t = np.asarray(timestamps, dtype=float).ravel()
            source = "timestamps given by the caller"
        if len(t) != n:
            raise InvalidParameterError(f"{len(t)} timestamps were given for a movie of {n} frames; give exactly "
                                        "one time per frame.")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
            raise InvalidParameterError("timestamps must be finite and non-decreasing seconds.")
        return t, source
    if frame_rate_fps is not None:
        try:
            fps = float(frame_rate_fps)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"frame_rate_fps must be a number, got {frame_rate_fps!r}.") from None
        if not np.isfinite(fps) or fps <= 0:
            raise InvalidParameterError(f"frame_rate_fps must be positive, got {frame_rate_fps!r}.")
        return np.arange(n) / fps, f"frame_rate_fps={fps:g} given by the caller"
    return None, None


# --------------------------------------------------------------------------- entry point
def _resolve(path_or_paths, channel_axis=None):
    """Pick the reader for a path, a folder, or a list of image files."""
    if isinstance(path_or_paths, (list, tuple)):
        paths = [Path(p) for p in path_or_paths]
        if not paths:
            raise MissingDataError("no image files were given.")
        for p in paths:
            if not p.is_file():
                raise MissingDataError(f"{p} does not exist.")
        if len(paths) == 1:
            return _resolve(paths[0], channel_axis)
        paths.sort(key=lambda p: _natural_key(p.name))
        return _folder_source(paths, f"{len(paths)} image files")
    path = Path(path_or_paths)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                        and not p.name.startswith(".")), key=lambda p: _natural_key(p.name))
        if not files:
            raise MissingDataError(f"folder {path.name} holds no PNG/JPEG/TIFF frames.")
        return _folder_source(files, f"folder {path.name}")
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise CorruptFileError(f"{path.name} is empty (0 bytes); copy the file again.")
    name = path.name.lower()
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(32)
    if suffix in _UNSUPPORTED or head[:2] == b"\xed\xfe" and b"N\x00o\x00r\x00p\x00i\x00x" in head:
        kind = _UNSUPPORTED.get(suffix, "Norpix StreamPix .seq")
        raise UnsupportedFormatError(f"{path.name}: {kind} files are not supported; {_EXPORT_HINT}.")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+") or name.endswith(TIFF_SUFFIXES):
        return _tiff_source(path, channel_axis)
    if head[:4] == b"PK\x03\x04" or suffix == ".zip":
        return _zip_source(path)
    if suffix in (".png", ".jpg", ".jpeg"):
        return _folder_source([path], path.name)
    if suffix in VIDEO_SUFFIXES or head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide") or head[:4] == b"RIFF":
        return _video_source(path)
    raise UnsupportedFormatError(f"{path.name}: not a movie battlab recognises (multi-page TIFF, OME-TIFF, a folder "
                                 f"or zip of PNG/JPEG/TIFF frames, AVI/MP4/MOV); {_EXPORT_HINT}.")


def _sha256(files):
    from battlab.provenance import sha256_of

    if len(files) == 1:
        return sha256_of(files[0])
    # A sequence's fingerprint: the hash of its files' hashes, in frame order.
    return sha256_of("\n".join(sha256_of(f) for f in files).encode())


def open_movie(path_or_paths, *, pixel_size_um=None, frame_rate_fps: float | None = None, timestamps=None,
               channel_axis: int | None = None, hash_source: bool = True):
    """Open a movie lazily as ``(time, y, x, channel)`` with physical coordinates.

    Parameters
    ----------
    path_or_paths : path, folder or list of paths
        A multi-page TIFF / OME-TIFF / ImageJ TIFF, an AVI/MP4/MOV video, a zip of image
        frames, a folder of PNG/JPEG/TIFF frames or a list of such files (natural sort:
        ``frame2`` before ``frame10``).
    pixel_size_um : float
        Required. Calibrated pixel size in micrometres (square pixels). A size the file
        declares is only reported in ``attrs["metadata_pixel_size_um"]``.
    frame_rate_fps : float, optional
        Frames per second; overrides the file's own timing.
    timestamps : array-like or path, optional
        One time per frame in seconds (or a CSV, see :func:`frame_times_from_csv`);
        overrides ``frame_rate_fps`` and the file's timing.
    channel_axis : int, optional
        TIFF only: the axis of the file's image series (as tifffile reports it, e.g.
        ``(frames, channels, y, x)`` → 1) that holds channels, for stacks whose metadata
        do not say so. OME/ImageJ channel axes and RGB samples are recognised without it.
    hash_source : bool
        Hash the input files for ``attrs["source_sha256"]`` (streamed; ~1 s per GB).

    Returns
    -------
    xarray.DataArray
        Dask-backed, one chunk per frame. Coordinates ``time_s`` (on ``time``), ``y_um``,
        ``x_um``; attrs ``units``, ``pixel_size_um``, ``time_known``, ``time_source``,
        ``source_format``, ``source_name``, ``source_sha256``, ``notes``.
    """
    import dask.array as da
    import xarray as xr

    px = _check_pixel_size(pixel_size_um)
    if channel_axis is not None and not isinstance(channel_axis, (int, np.integer)):
        raise InvalidParameterError(f"channel_axis must be an integer axis index, got {channel_axis!r}.")
    src = _resolve(path_or_paths, channel_axis)
    if channel_axis is not None and src["format"] not in ("TIFF", "OME-TIFF"):
        raise InvalidParameterError("channel_axis applies to TIFF stacks only; image sequences and videos carry "
                                    "their colour channels in each frame.")
    n, (ny, nx, nc), dtype = src["n"], src["frame_shape"], np.dtype(src["dtype"])
    _check_declared_frames(n, (ny, nx, nc), dtype, src["files"][0].name if src["files"] else "the movie")
    notes = list(src["notes"])
    times, time_source = _explicit_times(n, frame_rate_fps, timestamps)
    if times is not None and src["times"] is not None:
        notes.append(f"time from {time_source}, not the file's {src['time_source']}.")
    if times is None and src["times"] is not None:
        times, time_source = np.asarray(src["times"], dtype=float), src["time_source"]
    time_known = times is not None
    if not time_known:
        times = np.arange(n, dtype=float)
        time_source = "frame index (time unknown)"
        notes.append("the file carries no frame times: time_s is the frame index. Give frame_rate_fps= or "
                     "timestamps= to put the movie on a time axis.")
    read = src["read"]
    keep = nc

    def block(block_id=None):
        frame = read(block_id[0])
        return frame[None]

    # A unique graph name: readers are closures over open files, which dask cannot hash.
    data = da.map_blocks(block, dtype=dtype, chunks=((1,) * n, (ny,), (nx,), (keep,)),
                         meta=np.empty((0, 0, 0, 0), dtype=dtype), name=f"battlab-movie-{uuid.uuid4().hex}")
    meta_px = src.get("metadata_pixel_size_um")
    if meta_px is not None and abs(meta_px - px) > 0.01 * px:
        notes.append(f"the file declares {meta_px:g} µm per pixel; {px:g} µm (given) was used.")
    files = src["files"]
    name = files[0].name if len(files) == 1 else f"{files[0].parent.name}/ ({len(files)} files)"
    movie = xr.DataArray(
        data, dims=("time", "y", "x", "channel"),
        coords={"time_s": ("time", times), "y_um": ("y", np.arange(ny) * px), "x_um": ("x", np.arange(nx) * px),
                "frame": ("time", np.arange(n)), "channel": np.arange(keep)},
        name="intensity",
        attrs={"units": "counts", "pixel_size_um": px, "time_known": time_known, "time_source": time_source,
               "source_format": src["format"], "source_name": name,
               "source_sha256": _sha256(files) if hash_source else None,
               "metadata_pixel_size_um": meta_px, "notes": notes},
    )
    movie["time_s"].attrs["units"] = "s"
    movie["y_um"].attrs["units"] = "µm"
    movie["x_um"].attrs["units"] = "µm"
    return movie
