"""Readers for AFM images and force curves.

Images come back as ``dict`` channel name -> ``xarray.DataArray`` with dims ``("y", "x")``,
coordinates ``y_um``/``x_um`` at pixel centres (row 0 is the first row stored in the file)
and attrs ``units``, ``channel``, ``pixel_size_um``, ``scan_size_um``, ``source_name`` plus
``attrs["battlab"]`` (source name, sha256, format) for provenance. Lengths are in nm, other
signals in the SI unit the file gives (V, A, deg).

Force curves come back as one tidy :class:`pandas.DataFrame` (one row per sample):
``curve``, ``segment`` ("approach"/"retract"), ``piezo_height_nm``, ``measured_height_nm``,
``tip_height_nm`` (corrected for the cantilever deflection F/k), ``force_nN`` and ``time_s``
when the file has it; force maps add ``grid_x``/``grid_y``.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import (
    BattlabError,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)
from battlab.imaging.movie import _check_pixel_size

__all__ = ["read_afm", "read_afm_frames", "read_force_curves", "height_map", "is_force_file", "IMAGE_EXTENSIONS",
           "FORCE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".gwy", ".spm", ".jpk", ".sxm", ".txt", ".csv", ".asc", ".tif", ".tiff") + tuple(
    f".{k:03d}" for k in range(10))
FORCE_EXTENSIONS = (".jpk-force", ".jpk-force-map", ".jpk-qi-data", ".ibw")
MAX_BYTES = 1024**3

#: Factor to the unit battlab shows: lengths in nm, currents in nA.
_DISPLAY = {"m": (1e9, "nm"), "um": (1e3, "nm"), "µm": (1e3, "nm"), "~m": (1e3, "nm"), "nm": (1.0, "nm"),
            "pm": (1e-3, "nm"), "A": (1e9, "nA"), "nA": (1.0, "nA"), "pA": (1e-3, "nA")}


def _read_bytes(source, name):
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, src_name = bytes(source), name or "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise UnsupportedFormatError(f"{path}: no such file.")
        if path.stat().st_size > MAX_BYTES:
            raise TooLargeError(f"{path.name} is {path.stat().st_size / 1e9:.1f} GB, above the 1 GB limit.")
        with open(path, "rb") as fh:  # raw inputs are only ever read
            data = fh.read()
        src_name = name or str(path)
    if not data:
        raise CorruptFileError(f"{Path(src_name).name} is empty.")
    return data, src_name


def _suffix(name):
    low = Path(name).name.lower()
    for ext in (".jpk-force-map", ".jpk-force", ".jpk-qi-data"):
        if low.endswith(ext):
            return ext
    return Path(low).suffix


def is_force_file(name: str, data: bytes | None = None) -> bool:
    """True for files that hold force curves rather than images.

    An Asylum ``.ibw`` holds either; with ``data`` (at least the first 384 bytes) its
    wave header decides, without it every ``.ibw`` counts as force curves.
    """
    ext = _suffix(name)
    if ext == ".ibw" and data is not None:
        return _ibw_kind(data) != "image"
    return ext in FORCE_EXTENSIONS


def height_map(values, *, pixel_size_um, units="nm", channel="height", source_name="array",
               pixel_size_y_um=None, meta=None) -> xr.DataArray:
    """Wrap a 2-D array as a calibrated AFM channel (dims ``y``, ``x``; µm coordinates).

    Parameters
    ----------
    values : array_like
        2-D map, rows along y.
    pixel_size_um : float
        Lateral pixel size (x; also y unless ``pixel_size_y_um`` is given). Required: a
        wrong value changes every lateral result, so it is never guessed.
    units : str
        Unit of the values ("nm" for height).
    """
    z = np.asarray(values, dtype=float)
    if z.ndim != 2 or min(z.shape) < 2:
        raise InvalidParameterError(f"an AFM map must be 2-D with at least 2×2 pixels, got shape {z.shape}.")
    dx = _check_pixel_size(pixel_size_um)
    dy = _check_pixel_size(pixel_size_y_um) if pixel_size_y_um is not None else dx
    ny, nx = z.shape
    da = xr.DataArray(z, dims=("y", "x"),
                      coords={"y_um": ("y", (np.arange(ny) + 0.5) * dy), "x_um": ("x", (np.arange(nx) + 0.5) * dx)},
                      name=channel)
    da["y_um"].attrs["units"] = "µm"
    da["x_um"].attrs["units"] = "µm"
    da.attrs.update({"units": units, "channel": channel, "pixel_size_um": dx, "pixel_size_y_um": dy,
                     "scan_size_um": [nx * dx, ny * dy], "source_name": source_name})
    da.attrs["battlab"] = dict(meta or {"source_name": source_name})
    return da


def _display(values, unit):
    factor, shown = _DISPLAY.get(unit.strip(), (1.0, unit.strip()))
    return np.asarray(values, dtype=float) * factor, shown


def read_afm(source, *, name: str | None = None, pixel_size_um: float | None = None,
             z_unit: str | None = None) -> dict:
    """Read every channel of an AFM image file.

    Parameters
    ----------
    source : path or bytes
        Gwyddion ``.gwy``, Bruker/Veeco Nanoscope ``.spm``/``.000``–``.009`` (v5+ image
        files), JPK ``.jpk`` image, or a plain height map (text/CSV matrix, TIFF).
    name : str, optional
        Original file name when ``source`` is bytes.
    pixel_size_um : float, optional
        Required for plain text/TIFF maps and for files that store no lateral unit.
    z_unit : str, optional
        Unit of a plain map's values (e.g. "nm", "m", "V"); required for plain maps.

    Returns
    -------
    dict of str -> DataArray
    """
    data, src_name = _read_bytes(source, name)
    ext = _suffix(src_name)
    meta = {"source_name": src_name, "sha256": hashlib.sha256(data).hexdigest()}
    if is_force_file(src_name, data):
        raise UnsupportedFormatError(f"{Path(src_name).name} holds force curves, not an image: read it with "
                                     "battlab.afm.read_force_curves (or `battlab afm-force`).")
    try:
        channels = _dispatch(data, ext, meta, src_name, pixel_size_um, z_unit)
    except BattlabError:
        raise
    except MemoryError as exc:
        raise TooLargeError(f"{Path(src_name).name}: not enough memory to read it.") from exc
    except Exception as exc:  # a damaged file must end in a message, not a library traceback
        raise CorruptFileError(f"{Path(src_name).name} could not be read ({type(exc).__name__}: {exc}); "
                               "the file may be truncated or damaged.") from exc
    if not channels:
        raise MissingDataError(f"{Path(src_name).name} holds no image channel.")
    return channels


def read_afm_frames(source, *, name: str | None = None, channel: str | None = None,
                    pixel_size_um: float | None = None, z_unit: str | None = None) -> list:
    """The frames one file contributes to an EC-AFM series.

    A multi-page TIFF (a stack exported from the instrument or ImageJ) gives one frame per
    page; any other image file gives one frame: ``channel`` if named, else its height
    channel. Stack the frames of several files with :func:`battlab.afm.stack_frames`.

    Returns
    -------
    list of DataArray
        Calibrated (y, x) maps, ``attrs["frame_source"]`` naming file and page.
    """
    data, src_name = _read_bytes(source, name)
    label = Path(src_name).name
    if data[:4] in (b"II*\x00", b"MM\x00*") and _suffix(src_name) in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                _check_tiff_pages(tif.pages, len(data), label)  # before tifffile allocates what a page declares
                stack = tif.asarray()
        except CorruptFileError:
            raise
        except Exception as exc:
            raise CorruptFileError(f"{label} could not be read as a TIFF ({type(exc).__name__}: {exc}).") from exc
        if stack.ndim == 3:
            _need_plain({"source_name": src_name}, pixel_size_um, z_unit)
            meta = {"source_name": src_name, "sha256": hashlib.sha256(data).hexdigest(), "format": "tiff-stack"}
            frames = []
            for k, page in enumerate(stack):
                values, unit = _display(page, z_unit)
                da = height_map(values, pixel_size_um=pixel_size_um, units=unit, channel="height",
                                source_name=src_name, meta=meta)
                da.attrs["frame_source"] = f"{label} page {k + 1}"
                frames.append(da)
            return frames
    channels = read_afm(data, name=src_name, pixel_size_um=pixel_size_um, z_unit=z_unit)
    if channel is not None and channel not in channels:
        raise MissingDataError(f"{label} has no channel {channel!r}; it has {', '.join(channels)}.")
    if channel is None:
        from battlab.afm._cli import _height_channel

        channel = _height_channel(channels)
    frame = channels[channel]
    frame.attrs["frame_source"] = label
    return [frame]


def _dispatch(data, ext, meta, src_name, pixel_size_um, z_unit):
    if data[:4] == b"GWYP":
        channels = _read_gwy(data, meta, pixel_size_um)
    elif data.lstrip()[:11] in (b"\\*File list", b"\\*EC File "):
        channels = _read_nanoscope(data, meta)
    elif data.lstrip()[:17] == b"\\*Force file list":
        raise UnsupportedFormatError(f"{Path(src_name).name} is a Nanoscope force file; battlab reads Nanoscope "
                                     "images. Export the curves as text or use a JPK/Asylum force file.")
    elif data[:4] in (b"II*\x00", b"MM\x00*") and ext == ".jpk":
        channels = _read_jpk_image(data, meta)
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        channels = _read_tiff_map(data, meta, pixel_size_um, z_unit)
    elif ext in (".txt", ".csv", ".asc"):
        channels = _read_text_map(data, meta, pixel_size_um, z_unit)
    elif data[:1] == b":" and (data[:17] == b":NANONIS_VERSION:" or ext == ".sxm"):
        channels = _read_sxm(data, meta)
    elif ext == ".ibw":
        channels = _read_ibw_image(data, meta, pixel_size_um)
    elif ext == ".sxm":
        raise CorruptFileError(f"{Path(src_name).name} does not start with a Nanonis header (':NANONIS_VERSION:' "
                               "or another ':KEY:' line); the file may be damaged.")
    else:
        raise UnsupportedFormatError(f"{Path(src_name).name}: not an AFM format battlab reads (.gwy, Nanoscope "
                                     ".spm/.000, JPK .jpk, Nanonis .sxm, Asylum .ibw image, text/CSV or TIFF "
                                     "height map).")
    return channels


# --- Gwyddion -------------------------------------------------------------------------------
_GWY_SCALAR_BYTES = {"b": 1, "c": 1, "i": 4, "q": 8, "d": 8}
_GWY_ARRAY_BYTES = {"C": 1, "I": 4, "Q": 8, "D": 8}


def _gwy_uint32(buf, pos, end):
    if pos + 4 > end:
        raise CorruptFileError("a Gwyddion size field runs past the end of its container.")
    return int.from_bytes(buf[pos:pos + 4], "little"), pos + 4


def _gwy_name_end(buf, pos, end):
    stop = buf.find(b"\0", pos, end)
    if stop < 0:
        raise CorruptFileError("a Gwyddion name or string is not terminated inside its container.")
    return stop + 1


def _gwy_object_end(buf, pos, end, depth):
    """End of the serialised GwyObject at ``pos``; every size is checked against its container."""
    if depth > 64:
        raise CorruptFileError("Gwyddion objects nested more than 64 deep.")
    pos = _gwy_name_end(buf, pos, end)
    size, pos = _gwy_uint32(buf, pos, end)
    stop = pos + size
    if stop > end:
        raise CorruptFileError("a Gwyddion object is larger than the file holds.")
    while pos < stop:  # each component advances by at least its name and type code
        pos = _gwy_component_end(buf, pos, stop, depth)
    return stop


def _gwy_component_end(buf, pos, end, depth):
    pos = _gwy_name_end(buf, pos, end)
    if pos >= end:
        raise CorruptFileError("a Gwyddion component has no type code.")
    code = chr(buf[pos])
    pos += 1
    if code in _GWY_SCALAR_BYTES:
        pos += _GWY_SCALAR_BYTES[code]
    elif code == "s":
        pos = _gwy_name_end(buf, pos, end)
    elif code == "o":
        pos = _gwy_object_end(buf, pos, end, depth + 1)
    elif code in _GWY_ARRAY_BYTES:
        n, pos = _gwy_uint32(buf, pos, end)
        pos += n * _GWY_ARRAY_BYTES[code]
    elif code in ("S", "O"):
        n, pos = _gwy_uint32(buf, pos, end)
        if n > end - pos:  # every element takes at least one byte
            raise CorruptFileError("a Gwyddion array claims more elements than its container holds.")
        for _ in range(n):
            pos = _gwy_name_end(buf, pos, end) if code == "S" else _gwy_object_end(buf, pos, end, depth + 1)
    else:
        raise CorruptFileError(f"unknown Gwyddion component type {code!r}.")
    if pos > end:
        raise CorruptFileError("a Gwyddion component runs past the end of its object.")
    return pos


def _check_gwy_container(data: bytes):
    """Walk the whole serialised container with bounds checks before the parser sees it.

    gwyfile's parser trusts the sizes and names in the file; damaged ones can send it
    into an endless loop, so battlab walks the structure first and refuses a container
    whose sizes do not add up.
    """
    if data[:4] != b"GWYP":
        raise CorruptFileError("not a Gwyddion container (no GWYP magic).")
    end = _gwy_object_end(data, 4, len(data), 0)
    if end != len(data):
        raise CorruptFileError("the Gwyddion container has bytes after its top object.")


def _read_gwy(data, meta, pixel_size_um):
    try:
        import gwyfile
        from gwyfile.util import get_datafields
    except ImportError:
        raise UnsupportedFormatError("reading .gwy files needs the optional package gwyfile: "
                                     "pip install 'battlab[afm]'.") from None
    try:
        _check_gwy_container(data)
    except CorruptFileError as exc:
        raise CorruptFileError(f"{Path(meta['source_name']).name}: {exc} The file may be truncated or "
                               "damaged.") from None
    try:
        obj = gwyfile.load(io.BytesIO(data))
        fields = get_datafields(obj)
    except Exception as exc:
        raise CorruptFileError(f"{Path(meta['source_name']).name}: the Gwyddion container could not be read "
                               f"({type(exc).__name__}: {exc}).") from exc
    out = {}
    for title, field in fields.items():
        z = np.asarray(field.data, dtype=float)
        xy_unit = _gwy_unit(field.get("si_unit_xy"))
        z_unit = _gwy_unit(field.get("si_unit_z"))
        nx, ny = int(field["xres"]), int(field["yres"])
        xreal, yreal = float(field["xreal"]), float(field["yreal"])
        if xy_unit == "m":
            dx, dy = xreal / nx * 1e6, yreal / ny * 1e6
        elif pixel_size_um is not None:
            dx = dy = _check_pixel_size(pixel_size_um)
        else:
            raise MissingDataError(f"{Path(meta['source_name']).name}: channel {title!r} stores no lateral unit "
                                   f"(width {xreal:g} with unit {xy_unit!r}); pass pixel_size_um.")
        values, unit = _display(z, z_unit)
        key = _unique(out, str(title) or "channel")
        da = height_map(values, pixel_size_um=dx, pixel_size_y_um=dy, units=unit, channel=key,
                        source_name=meta["source_name"], meta={**meta, "format": "gwyddion"})
        da.attrs["file_scan_size"] = [xreal, yreal]
        da.attrs["file_xy_unit"] = xy_unit
        out[key] = da
    return out


def _gwy_unit(unit):
    if unit is None:
        return ""
    try:
        return str(unit.get("unitstr", "") or "")
    except AttributeError:
        return str(unit)


def _unique(existing, key):
    base, k = key, 2
    while key in existing:
        key = f"{base} ({k})"
        k += 1
    return key


# --- Bruker / Veeco Nanoscope -----------------------------------------------------------------
_NUM = r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"


def _nanoscope_sections(header):
    sections = []
    for line in header.splitlines():
        line = line.strip()
        if line.startswith("\\*"):
            sections.append((line[2:].strip(), {}))
        elif line.startswith("\\") and sections:
            m = re.match(r"\\(@\d:)?([^:]+):(.*)$", line)
            if m:
                sections[-1][1].setdefault((m.group(1) or "") + m.group(2).strip(), m.group(3).strip())
    return sections


def _read_nanoscope(data, meta):
    name = Path(meta["source_name"]).name
    end = data.find(b"\\*File list end")
    if end < 0:
        raise CorruptFileError(f"{name}: the Nanoscope header has no end marker (truncated file?).")
    header = data[:end].decode("latin-1")
    sections = _nanoscope_sections(header)
    version = sections[0][1].get("Version", "") if sections else ""
    try:
        if int(version, 16) < 0x05000000:
            raise UnsupportedFormatError(f"{name}: Nanoscope version {version} (before v5) is not supported; "
                                         "export the image from NanoScope Analysis or Gwyddion.")
    except ValueError:
        raise CorruptFileError(f"{name}: unreadable Nanoscope version {version!r}.") from None
    scanner = {}
    for title, fields in sections:
        if title in ("Scanner list", "Ciao scan list", "Equipment list"):
            scanner.update({k: v for k, v in fields.items() if k not in scanner})
    out = {}
    for title, f in sections:
        if title != "Ciao image list":
            continue
        try:
            offset, length = int(f["Data offset"]), int(f["Data length"])
            bpp = int(f.get("Bytes/pixel", "2"))
            nx, ny = int(f["Samps/line"]), int(f["Number of lines"])
        except (KeyError, ValueError) as exc:
            raise CorruptFileError(f"{name}: an image section lacks {exc}.") from None
        if bpp not in (2, 4) or nx * ny * bpp > length or offset + nx * ny * bpp > len(data):
            raise CorruptFileError(f"{name}: an image needs {nx}×{ny}×{bpp} bytes at offset {offset}, beyond "
                                   f"the {len(data)}-byte file (truncated?).")
        raw = np.frombuffer(data, dtype=f"<i{bpp}", count=nx * ny, offset=offset).reshape(ny, nx)
        dx_um, dy_um = _nanoscope_scan_size(f.get("Scan size", ""), nx, ny, name)
        label = next((v for k, v in f.items() if k.endswith("Image Data")), "")
        m = re.search(r'"([^"]+)"', label) or re.search(r"\[([^\]]+)\]", label)
        channel = m.group(1) if m else f"channel {len(out) + 1}"
        zline = next((v for k, v in f.items() if k.endswith("Z scale")), "")
        zm = re.search(r"\[([^\]]+)\]\s*\((" + _NUM + r")\s*[^)]*/LSB\)", zline)
        if not zm:
            raise CorruptFileError(f"{name}: channel {channel!r} has no Z scale ({zline!r}).")
        sens_key, hard = zm.group(1), float(zm.group(2))
        sens_line = scanner.get("@" + sens_key, scanner.get(sens_key, ""))
        sm = re.match(r"V\s+(" + _NUM + r")\s*(\S*)", sens_line)
        sens, unit = (float(sm.group(1)), sm.group(2) or "V/V") if sm else (1.0, "V/V")
        unit = unit.split("/")[0] or "V"
        values, shown = _display(raw * hard * sens, unit)
        key = _unique(out, channel)
        da = height_map(values, pixel_size_um=dx_um, pixel_size_y_um=dy_um, units=shown, channel=key,
                        source_name=meta["source_name"], meta={**meta, "format": "nanoscope"})
        da.attrs.update({"line_direction": f.get("Line direction", ""), "nanoscope_version": version,
                         "z_scale_per_lsb": hard * sens, "z_sensitivity": sens_line})
        out[key] = da
    return out


def _nanoscope_scan_size(text, nx, ny, name):
    m = re.match(r"(" + _NUM + r")\s+(" + _NUM + r")?\s*(\S+)", text.strip())
    if not m:
        raise CorruptFileError(f"{name}: unreadable scan size {text!r}.")
    sx = float(m.group(1))
    sy = float(m.group(2)) if m.group(2) else sx
    unit = m.group(3)
    factor = {"~m": 1.0, "um": 1.0, "µm": 1.0, "nm": 1e-3}.get(unit)
    if factor is None:
        raise CorruptFileError(f"{name}: unknown scan-size unit {unit!r}.")
    return sx * factor / nx, sy * factor / ny


# --- JPK image (TIFF with JPK private tags) --------------------------------------------------------
_JPK_GRID = {"u": 32834, "v": 32835, "i": 32838, "j": 32839, "x0": 32832, "y0": 32833}


#: An AFM image page larger than this (a 16k × 16k float64 map is 2 GB) is a damaged size field.
_MAX_PAGE_BYTES = 2 * 1024**3


def _check_tiff_pages(pages, n_bytes, name):
    """Refuse pages whose declared size no file of ``n_bytes`` can hold, before tifffile
    allocates the output array a damaged ImageWidth/ImageLength asks for."""
    for page in pages:
        declared = math.prod(int(n) for n in page.shape) * max(int(getattr(page.dtype, "itemsize", 1) or 1), 1)
        if declared > _MAX_PAGE_BYTES or (int(page.compression) == 1 and declared > n_bytes):
            raise CorruptFileError(f"{name}: a TIFF page declares {page.shape} values ({declared:,} bytes) in a "
                                   f"{n_bytes:,}-byte file; the file is damaged.")


def _read_jpk_image(data, meta):
    import tifffile

    name = Path(meta["source_name"]).name
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        pages = list(tif.pages)
        _check_tiff_pages(pages, len(data), name)
        tags0 = {t.code: t.value for t in pages[0].tags.values()}
        try:
            u_m, v_m = float(tags0[_JPK_GRID["u"]]), float(tags0[_JPK_GRID["v"]])
        except KeyError:
            raise MissingDataError(f"{name}: a TIFF without JPK scan-grid tags; is it a JPK image?") from None
        out = {}
        for page in pages[1:]:
            tags = {t.code: t.value for t in page.tags.values()}
            channel = tags.get(32848)
            if channel is None or page.ndim != 2:
                continue
            raw = page.asarray().astype(float)
            ny, nx = raw.shape
            slot_name = str(tags.get(32897, ""))
            multiplier, offset, unit = 1.0, 0.0, ""
            for k in range(int(tags.get(32896, 0))):
                base = 32912 + 48 * k
                if str(tags.get(base)) == slot_name:
                    if str(tags.get(base + 19, "")) == "LinearScaling":
                        # Every slot's scaling maps the stored integers directly to its unit.
                        multiplier = float(tags.get(base + 20, 1.0))
                        offset = float(tags.get(base + 21, 0.0))
                    unit = str(tags.get(base + 18, ""))
            values, shown = _display(raw * multiplier + offset, unit)
            label = str(tags.get(32850, channel))
            key = _unique(out, f"{label} ({'retrace' if tags.get(32849) else 'trace'})")
            da = height_map(values, pixel_size_um=u_m / nx * 1e6, pixel_size_y_um=v_m / ny * 1e6, units=shown,
                            channel=key, source_name=meta["source_name"], meta={**meta, "format": "jpk-image"})
            da.attrs.update({"jpk_slot": slot_name, "jpk_channel": str(channel)})
            out[key] = da
    return out


# --- Nanonis .sxm --------------------------------------------------------------------------------
# Layout (Nanonis "SXM file format" description): a text header of ":KEY:" lines, each
# followed by its value lines, ending with ":SCANIT_END:"; then the bytes 0x1A 0x04 and the
# data: for each channel of DATA_INFO, the forward frame and (Direction "both") the backward
# frame, each SCAN_PIXELS (columns, lines) values of SCANIT_TYPE (e.g. FLOAT MSBFIRST, big-
# endian float32) in SI units, lines in acquisition order.
_SXM_HEADER_LIMIT = 4 * 1024**2
_SXM_TYPES = {"FLOAT": "f4", "DOUBLE": "f8", "INT": "i4", "UINT": "u4"}


def _sxm_header(data, name):
    end = data.find(b":SCANIT_END:", 0, _SXM_HEADER_LIMIT)
    if end < 0:
        raise CorruptFileError(f"{name}: no ':SCANIT_END:' within the first 4 MB; not a complete Nanonis .sxm header.")
    marker = data.find(b"\x1a\x04", end, end + 4096)
    if marker < 0:
        raise CorruptFileError(f"{name}: the data marker (0x1A 0x04) does not follow the header.")
    fields, key = {}, None
    for raw in data[:end].decode("latin-1").splitlines():
        line = raw.rstrip("\r\n")
        if line.startswith(":") and line.endswith(":") and len(line) > 2:
            key = line[1:-1]
            fields[key] = []
        elif key is not None and line.strip():
            fields[key].append(line)
    return fields, marker + 2


def _sxm_numbers(fields, key, count, name):
    values = " ".join(fields.get(key, [])).split()
    try:
        numbers = [float(v) for v in values[:count]]
    except ValueError:
        raise CorruptFileError(f"{name}: unreadable {key} {values[:count]!r}.") from None
    if len(numbers) < count or not all(np.isfinite(numbers)):
        raise CorruptFileError(f"{name}: {key} needs {count} finite numbers, got {values!r}.")
    return numbers


def _read_sxm(data, meta):
    name = Path(meta["source_name"]).name
    fields, offset = _sxm_header(data, name)
    nx_f, ny_f = _sxm_numbers(fields, "SCAN_PIXELS", 2, name)
    width_m, height_m = _sxm_numbers(fields, "SCAN_RANGE", 2, name)
    nx, ny = int(nx_f), int(ny_f)
    if nx != nx_f or ny != ny_f or not (2 <= nx <= 65536 and 2 <= ny <= 65536):
        raise CorruptFileError(f"{name}: SCAN_PIXELS {nx_f:g} × {ny_f:g} is not an image size.")
    if not (width_m > 0 and height_m > 0):
        raise CorruptFileError(f"{name}: SCAN_RANGE {width_m:g} × {height_m:g} m is not a scan size.")
    kind = " ".join(fields.get("SCANIT_TYPE", ["FLOAT MSBFIRST"])).split()
    if not kind or kind[0] not in _SXM_TYPES:
        raise UnsupportedFormatError(f"{name}: SCANIT_TYPE {' '.join(kind)!r} is not one battlab reads "
                                     f"({', '.join(_SXM_TYPES)}).")
    dtype = np.dtype(("<" if len(kind) > 1 and kind[1] == "LSBFIRST" else ">") + _SXM_TYPES[kind[0]])
    info = fields.get("DATA_INFO", [])
    if len(info) < 2:
        raise MissingDataError(f"{name}: the header lists no channel (DATA_INFO).")
    head = [c.strip() for c in info[0].strip().split("\t")]
    try:
        i_name, i_unit, i_dir = head.index("Name"), head.index("Unit"), head.index("Direction")
    except ValueError:
        raise CorruptFileError(f"{name}: DATA_INFO lacks the Name/Unit/Direction columns.") from None
    frames = []
    for row in info[1:]:
        cells = [c.strip() for c in row.strip().split("\t")]
        if len(cells) <= max(i_name, i_unit, i_dir):
            raise CorruptFileError(f"{name}: a DATA_INFO row has too few columns: {row.strip()[:60]!r}.")
        direction = cells[i_dir].lower()
        if direction not in ("both", "forward", "backward"):
            raise CorruptFileError(f"{name}: channel {cells[i_name]!r} has direction {cells[i_dir]!r}.")
        dirs = ("forward", "backward") if direction == "both" else (direction,)
        frames.extend((cells[i_name], cells[i_unit], d) for d in dirs)
    need = len(frames) * nx * ny * dtype.itemsize
    if offset + need > len(data):
        raise CorruptFileError(f"{name}: {len(frames)} frames of {nx}×{ny} need {need} bytes after the header; the "
                               f"file has {len(data) - offset} (truncated?).")
    scan_dir = " ".join(fields.get("SCAN_DIR", ["up"])).strip().lower()
    out = {}
    dx, dy = width_m / nx * 1e6, height_m / ny * 1e6
    for k, (channel, unit, direction) in enumerate(frames):
        raw = np.frombuffer(data, dtype=dtype, count=nx * ny, offset=offset + k * nx * ny * dtype.itemsize)
        z = raw.reshape(ny, nx).astype(float)
        # Backward lines are stored as acquired (right to left): mirrored to match the forward
        # frame. Row 0 is the bottom line (y = 0), so a downward scan's lines are reversed.
        if direction == "backward":
            z = z[:, ::-1]
        if scan_dir == "down":
            z = z[::-1]
        values, shown = _display(z, unit)
        key = _unique(out, f"{channel} ({direction})")
        da = height_map(values, pixel_size_um=dx, pixel_size_y_um=dy, units=shown, channel=key,
                        source_name=meta["source_name"], meta={**meta, "format": "nanonis-sxm"})
        da.attrs.update({"scan_direction": scan_dir, "scan_angle_deg": " ".join(fields.get("SCAN_ANGLE", [])).strip(),
                         "file_unit": unit, "nanonis_version": " ".join(fields.get("NANONIS_VERSION", [])).strip()})
        out[key] = da
    return out


# --- Asylum Research / Igor binary wave images ------------------------------------------------
# Igor binary wave version 5 (Igor Technical Note PTN003): a 64-byte BinHeader5 (version,
# checksum, section sizes) and a 320-byte WaveHeader5 (nDim at byte 68, sfA at 84, sfB at
# 116, dataUnits at 148, dimUnits at 152), then the data in column-major order, the
# formula, the note, extended units and dimension labels (32 bytes each).
# Asylum names its image layers by signal; the unit follows from the name (the wave's own
# data unit is one for all layers). Unknown names keep the wave's data unit.
_IBW_LENGTH_CHANNELS = ("height", "zsensor", "amplitude", "deflection", "defl", "z")
_IBW_UNIT_BY_CHANNEL = (("phase", "deg"), ("current", "A"), ("potential", "V"), ("userin", "V"), ("bias", "V"),
                        ("frequency", "Hz"))


def _ibw_header(data):
    """(order, nDim, sfA, dimUnits) of a version-5 binary wave, or None if it is not one."""
    if len(data) < 384:
        return None
    for order in ("<", ">"):
        if int(np.frombuffer(data, dtype=f"{order}i2", count=1)[0]) == 5:
            n_dim = np.frombuffer(data, dtype=f"{order}i4", count=4, offset=64 + 68)
            sf_a = np.frombuffer(data, dtype=f"{order}f8", count=4, offset=64 + 84)
            units = [data[64 + 152 + 4 * d: 64 + 156 + 4 * d].split(b"\0")[0].decode("latin-1") for d in range(4)]
            return order, [int(v) for v in n_dim], [float(v) for v in sf_a], units
    return None


def _ibw_kind(data):
    """"image" for a 2-D/3-D wave over a lateral grid, "force" otherwise (a curve's
    columns are a few channels such as Raw, Defl, ZSnsr, not a second lateral axis)."""
    header = _ibw_header(data)
    if header is None:
        return "force"
    _, n_dim, _, units = header
    if n_dim[0] < 2 or n_dim[1] < 2:
        return "force"
    if units[0] == "m" and units[1] == "m":
        return "image"
    if units[0] or units[1]:  # e.g. a curve's time axis in s
        return "force"
    return "image" if min(n_dim[0], n_dim[1]) > 8 else "force"


def _ibw_note(note):
    text = note.decode("latin-1") if isinstance(note, bytes) else str(note)
    out = {}
    for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def _ibw_unit(channel, data_units):
    low = channel.lower().replace("nap", "", 1) if channel.lower().startswith("nap") else channel.lower()
    for prefix, unit in _IBW_UNIT_BY_CHANNEL:
        if low.startswith(prefix):
            return unit
    if low.startswith(_IBW_LENGTH_CHANNELS):
        return "m"
    return data_units


def _check_ibw_sizes(data, order, name):
    sizes = np.frombuffer(data, dtype=f"{order}i4", count=15, offset=4)
    if (sizes < 0).any() or 64 + int(sizes.sum()) > len(data):
        raise CorruptFileError(f"{name}: the wave's sections ({int(sizes.sum()) + 64} bytes) do not fit the "
                               f"{len(data)}-byte file (truncated?).")
    n_points = int(np.frombuffer(data, dtype=f"{order}i4", count=1, offset=64 + 12)[0])
    if not 0 <= n_points <= int(sizes[0]):  # every point takes at least one byte of the wave section
        raise CorruptFileError(f"{name}: the wave declares {n_points:,} points in a {int(sizes[0]):,}-byte wave "
                               "section; the header is damaged.")


def _read_ibw_image(data, meta, pixel_size_um):
    name = Path(meta["source_name"]).name
    header = _ibw_header(data)
    if header is None:
        raise UnsupportedFormatError(f"{name}: battlab reads Igor binary waves of version 5 (Asylum Research "
                                     "images); re-save the wave from Igor 5 or later.")
    order, n_dim, _, _ = header
    _check_ibw_sizes(data, order, name)
    try:
        from igor2 import binarywave
    except ImportError:
        raise UnsupportedFormatError("reading Asylum .ibw files needs the optional package igor2 (installed with "
                                     "afmformats): pip install 'battlab[afm]'.") from None
    try:
        wave = binarywave.load(io.BytesIO(data))["wave"]
    except Exception as exc:
        raise CorruptFileError(f"{name}: the Igor wave could not be parsed ({type(exc).__name__}: {exc}).") from exc
    wh = wave["wave_header"]
    values = np.asarray(wave["wData"])
    if values.ndim not in (2, 3) or values.dtype.kind not in "fiu":
        raise UnsupportedFormatError(f"{name}: a {values.ndim}-D {values.dtype} wave is not an AFM image.")
    if values.ndim == 2:
        values = values[:, :, None]
    nx, ny, n_layers = values.shape
    note = _ibw_note(wave.get("note", b""))
    dim_units = ["".join(c.decode("latin-1") for c in row).strip("\0") for row in np.atleast_2d(wh["dimUnits"])]
    data_units = "".join(c.decode("latin-1") for c in np.atleast_1d(wh["dataUnits"])).strip("\0")
    sf_a = [float(v) for v in wh["sfA"]]
    if dim_units[:2] == ["m", "m"] and sf_a[0] > 0 and sf_a[1] > 0:
        dx, dy = sf_a[0] * 1e6, sf_a[1] * 1e6
    elif _float(note.get("FastScanSize", note.get("ScanSize"))) and _float(note.get("SlowScanSize",
                                                                                    note.get("ScanSize"))):
        dx = _float(note.get("FastScanSize", note.get("ScanSize"))) * 1e6 / nx
        dy = _float(note.get("SlowScanSize", note.get("ScanSize"))) * 1e6 / ny
    elif pixel_size_um is not None:
        dx = dy = _check_pixel_size(pixel_size_um)
    else:
        raise MissingDataError(f"{name}: the wave has no lateral scale (dimension units or ScanSize in its note); "
                               "pass pixel_size_um.")
    labels = wave.get("labels") or []
    layer_labels = [b.decode("latin-1") if isinstance(b, bytes) else str(b) for b in
                    (labels[2][1:] if len(labels) > 2 and labels[2] else [])]
    base = (wh.get("bname", b"") or b"").decode("latin-1") if isinstance(wh.get("bname"), bytes) else ""
    out = {}
    for k in range(n_layers):
        channel = layer_labels[k] if k < len(layer_labels) and layer_labels[k] else (
            base or "image" if n_layers == 1 else f"channel {k + 1}")
        # Igor's first dimension is x (points along a line), the second y (lines, y up).
        z = np.asarray(values[:, :, k], float).T
        shown_values, shown = _display(z, _ibw_unit(channel, data_units))
        key = _unique(out, channel)
        da = height_map(shown_values, pixel_size_um=_check_pixel_size(dx), pixel_size_y_um=_check_pixel_size(dy),
                        units=shown, channel=key, source_name=meta["source_name"],
                        meta={**meta, "format": "asylum-ibw-image"})
        da.attrs.update({"scan_angle_deg": note.get("ScanAngle", ""), "wave_name": base,
                         "igor_dims": [int(v) for v in n_dim]})
        out[key] = da
    return out


def _float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


# --- plain maps ------------------------------------------------------------------------------------
def _need_plain(meta, pixel_size_um, z_unit):
    name = Path(meta["source_name"]).name
    if pixel_size_um is None:
        raise MissingDataError(f"{name} is a plain height map without a lateral scale: pass pixel_size_um "
                               "(µm per pixel; the CLI option --pixel-size-um).")
    if not z_unit:
        raise MissingDataError(f"{name}: give the unit of the values with z_unit (e.g. 'nm', 'm', 'V').")


_LENGTH_UM = {"m": 1e6, "mm": 1e3, "um": 1.0, "µm": 1.0, "~m": 1.0, "nm": 1e-3, "pm": 1e-6}


def _gwyddion_ascii_header(text):
    """Width (µm), channel title and value unit from a Gwyddion ASCII export's '#' header."""
    found = {}
    for line in text.splitlines()[:20]:
        m = re.match(r"#\s*(Channel|Width|Height|Value units)\s*:\s*(.+?)\s*$", line)
        if m:
            found[m.group(1)] = m.group(2)
    width_um = None
    wm = re.match(r"(" + _NUM + r")\s*(\S+)$", found.get("Width", ""))
    if wm and wm.group(2) in _LENGTH_UM:
        width_um = float(wm.group(1)) * _LENGTH_UM[wm.group(2)]
    return width_um, found.get("Channel"), found.get("Value units")


def _read_text_map(data, meta, pixel_size_um, z_unit):
    name = Path(meta["source_name"]).name
    if b"\x00" in data:
        raise CorruptFileError(f"{name} holds binary bytes, not a text matrix.")
    text = data.decode("utf-8-sig", errors="strict")
    width_um, title, unit_in_file = _gwyddion_ascii_header(text)
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#%;":
            continue
        try:
            rows.append([float(v) for v in re.split(r"[,\s;]+", line) if v])
        except ValueError:
            if rows:
                raise CorruptFileError(f"{name}: a non-numeric row inside the matrix: {line[:40]!r}.") from None
            continue  # a header line before the numbers
    widths = {len(r) for r in rows}
    if not rows or len(widths) != 1:
        raise CorruptFileError(f"{name}: not a rectangular numeric matrix.")
    # A Gwyddion ASCII export states its width and value unit; values given here take precedence.
    if pixel_size_um is None and width_um is not None:
        pixel_size_um = width_um / len(rows[0])
    z_unit = z_unit or unit_in_file
    _need_plain(meta, pixel_size_um, z_unit)
    values, unit = _display(np.array(rows), z_unit)
    channel = title or "height"
    return {channel: height_map(values, pixel_size_um=pixel_size_um, units=unit, channel=channel,
                                source_name=meta["source_name"], meta={**meta, "format": "text-matrix"})}


def _read_tiff_map(data, meta, pixel_size_um, z_unit):
    import tifffile

    _need_plain(meta, pixel_size_um, z_unit)
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        _check_tiff_pages(tif.pages, len(data), Path(meta["source_name"]).name)
        arr = tif.asarray()
    if arr.ndim != 2:
        raise UnsupportedFormatError(f"{Path(meta['source_name']).name}: a TIFF height map must be one 2-D "
                                     f"page, got shape {arr.shape}.")
    values, unit = _display(arr, z_unit)
    return {"height": height_map(values, pixel_size_um=pixel_size_um, units=unit, channel="height",
                                 source_name=meta["source_name"], meta={**meta, "format": "tiff-map"})}


# --- force curves ---------------------------------------------------------------------------------------
def read_force_curves(source, *, name: str | None = None, max_curves: int | None = None) -> pd.DataFrame:
    """Read force–distance curves (JPK ``.jpk-force``/``.jpk-force-map``, Asylum ``.ibw``).

    Uses afmformats, which converts deflection to force with the file's sensitivity and
    spring constant.

    Returns
    -------
    DataFrame
        One row per sample: ``curve``, ``segment`` ("approach"/"retract"),
        ``piezo_height_nm`` (nominal), ``measured_height_nm`` (z-sensor), ``tip_height_nm``
        (measured height + F/k, the cantilever deflection), ``force_nN``, ``time_s`` (if
        stored), ``grid_x``/``grid_y`` (maps).
        ``attrs["battlab"]`` has source, sha256, format and per-curve
        ``spring_constant_N_per_m`` and ``sensitivity_nm_per_V``.
    """
    data, src_name = _read_bytes(source, name)
    ext = _suffix(src_name)
    if ext == ".ibw" and not is_force_file(src_name, data):
        raise UnsupportedFormatError(f"{Path(src_name).name} is an Asylum image (a wave over a lateral grid), not "
                                     "force curves: read it with battlab.afm.read_afm (or `battlab afm`).")
    if ext not in FORCE_EXTENSIONS:
        raise UnsupportedFormatError(f"{Path(src_name).name}: not a force-curve file battlab reads "
                                     f"({', '.join(FORCE_EXTENSIONS)}).")
    header = _ibw_header(data) if ext == ".ibw" else None
    if header is not None:
        # Section sizes beyond the file would have igor2 allocate what a damaged field declares.
        _check_ibw_sizes(data, header[0], Path(src_name).name)
    try:
        import afmformats
    except ImportError:
        raise UnsupportedFormatError("reading force curves needs the optional package afmformats: "
                                     "pip install 'battlab[afm]'.") from None
    import warnings

    # afmformats reads from a path; a private temporary copy keeps the original untouched.
    with tempfile.TemporaryDirectory(prefix="battlab-afm-") as tmp:
        path = Path(tmp) / f"curves{ext}"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                curves = afmformats.load_data(path, modality="force-distance")
        except (Exception, afmformats.errors.AFMFileFormatError) as exc:  # the latter is a BaseException
            raise CorruptFileError(f"{Path(src_name).name} could not be read as {ext} force data "
                                   f"({type(exc).__name__}: {exc}).") from exc
    if not curves:
        raise MissingDataError(f"{Path(src_name).name} holds no force–distance curve.")
    import zipfile
    import zlib

    try:
        frames, per_curve = [], []
        for k, fd in enumerate(curves[:max_curves] if max_curves else curves):
            cols = set(fd.columns)
            force = np.asarray(fd["force"], float) * 1e9
            seg = np.asarray(fd["segment"]).astype(int) if "segment" in cols else np.zeros(force.size, int)
            piezo_m = np.asarray(fd["height (piezo)"], float)
            if not seg.any():
                # One stored segment (e.g. an Igor FD plot): the approach ends where the piezo turns.
                turn = int(np.argmax(np.abs(piezo_m - piezo_m[0])))
                if 0.1 * seg.size < turn < 0.9 * seg.size:
                    seg[turn + 1:] = 1
            md = fd.metadata
            k_spring = float(md.get("spring constant", np.nan))
            piezo = piezo_m * 1e9
            # "height (measured)" is the piezo height read by the z sensor (better than the
            # nominal one); the tip sits F/k above it while the cantilever bends.
            measured = np.asarray(fd["height (measured)"], float) * 1e9 if "height (measured)" in cols else piezo
            frame = pd.DataFrame({
                "curve": k,
                "segment": np.where(seg == 0, "approach", "retract"),
                "piezo_height_nm": piezo,
                "measured_height_nm": measured,
                "tip_height_nm": measured + force / k_spring if np.isfinite(k_spring) and k_spring > 0 else np.nan,
                "force_nN": force,
            })
            if "time" in cols:
                frame["time_s"] = np.asarray(fd["time"], float)
            if "grid index x" in md:
                frame["grid_x"] = int(md["grid index x"])
                frame["grid_y"] = int(md["grid index y"])
            frames.append(frame)
            per_curve.append({"curve": k, "spring_constant_N_per_m": float(md.get("spring constant", np.nan)),
                              "sensitivity_nm_per_V": float(md.get("sensitivity", np.nan)) * 1e9,
                              "position_x_um": float(md.get("position x", np.nan)) * 1e6,
                              "position_y_um": float(md.get("position y", np.nan)) * 1e6})
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        # afmformats reads a JPK segment's channels only when a column is first asked for.
        raise CorruptFileError(f"{Path(src_name).name}: a force curve's data are damaged "
                               f"({type(exc).__name__}: {str(exc)[:120]}); copy the file again.") from None
    out = pd.concat(frames, ignore_index=True)
    out.attrs["battlab"] = {"source_name": src_name, "sha256": hashlib.sha256(data).hexdigest(),
                            "format": ext.lstrip("."), "curves": per_curve}
    return out


# --- registry: battlab.load / battlab info / battlab formats know AFM files -----------------

def _register_formats():
    from battlab.io.registry import Format, register

    def _tiff(head):
        return head[:4] in (b"II*\x00", b"MM\x00*")

    def read_image(source, **options):
        return read_afm(source.data, name=source.name, **options)

    def read_force(source, **options):
        return read_force_curves(source.data, name=source.name, **options)

    register(Format("afm-gwyddion", "Gwyddion .gwy AFM container", "afm", (".gwy",),
                    lambda head, name: 1.0 if head[:4] == b"GWYP" else 0.0, read_image, requires=("gwyfile",)))
    register(Format("afm-nanoscope", "Bruker/Veeco Nanoscope v5+ AFM image", "afm",
                    (".spm", ".000", ".001", ".002", ".003", ".004", ".005", ".006", ".007", ".008", ".009"),
                    lambda head, name: 1.0 if head.lstrip()[:11] in (b"\\*File list", b"\\*EC File ") else 0.0,
                    read_image))
    register(Format("afm-jpk-image", "JPK AFM image (.jpk, TIFF-based)", "afm", (".jpk",),
                    lambda head, name: 0.95 if _tiff(head) and _suffix(name) == ".jpk" else 0.0, read_image))
    register(Format("afm-force", "AFM force curves (JPK .jpk-force/-map, Asylum .ibw)", "afm", FORCE_EXTENSIONS,
                    lambda head, name: (0.95 if _suffix(name) in FORCE_EXTENSIONS and
                                        (head[:2] == b"PK" or (_suffix(name) == ".ibw" and
                                                               _ibw_kind(head) == "force")) else 0.0),
                    read_force, requires=("afmformats",)))
    register(Format("afm-nanonis", "Nanonis .sxm scan (all channels, forward/backward)", "afm", (".sxm",),
                    lambda head, name: 1.0 if head[:17] == b":NANONIS_VERSION:" else (
                        0.5 if _suffix(name) == ".sxm" and head[:1] == b":" else 0.0), read_image))
    register(Format("afm-asylum-image", "Asylum Research / Igor .ibw image (height, phase, amplitude …)", "afm",
                    (".ibw",), lambda head, name: (0.96 if _suffix(name) == ".ibw" and _ibw_kind(head) == "image"
                                                   else 0.0), read_image, requires=("igor2",)))


_register_formats()
