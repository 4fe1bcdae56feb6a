"""Diffraction readers: .xy/.xye/.csv, PANalytical .xrdml, folders of patterns as a series.

A pattern is an ``xarray.DataArray`` named ``intensity`` over ``two_theta_deg``; a
series adds a ``time`` dimension (UTC timestamps, plus ``elapsed_s``). Attributes carry
``wavelength_A`` (Kα1 or the monochromatic wavelength), ``wavelength2_A`` and
``ka2_ratio`` when the file states them, and ``attrs["battlab"]`` the source record
(format, sha256, source name, start time, notes).
"""

from __future__ import annotations

import io as _io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import CorruptFileError, MissingDataError, UnsupportedFormatError
from battlab.series import stack_curves, times_for
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register

__all__ = ["describe", "load_pattern", "load_series", "make_pattern", "read_xrdml", "read_xy", "stack_patterns"]

_NUM = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?([\s,;]+[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?){1,2}\s*$")
_ANGLE_HEADER = re.compile(r"(2[\s_-]?theta|two[\s_-]?theta|2θ|^angle|^pos)", re.IGNORECASE)


def make_pattern(two_theta, intensity, *, esd=None, wavelength_A=None, wavelength2_A=None, ka2_ratio=None,
                 anode=None, meta=None):
    """Build a canonical pattern DataArray (used by readers and generators)."""
    import xarray as xr

    tt = np.asarray(two_theta, float)
    y = np.asarray(intensity, float)
    order = np.argsort(tt, kind="stable")
    coords = {"two_theta_deg": ("two_theta_deg", tt[order], {"units": "degree", "long_name": "2θ"})}
    if esd is not None:
        coords["esd"] = ("two_theta_deg", np.asarray(esd, float)[order], {"units": "counts"})
    da = xr.DataArray(y[order], dims=("two_theta_deg",), coords=coords, name="intensity")
    da.attrs.update({"units": "counts", "long_name": "intensity"})
    for key, val in (("wavelength_A", wavelength_A), ("wavelength2_A", wavelength2_A),
                     ("ka2_ratio", ka2_ratio), ("anode", anode)):
        if val is not None:
            da.attrs[key] = val
    da.attrs["battlab"] = dict(meta or {})
    da.attrs["battlab"].setdefault("notes", [])
    return da


def _meta(src: Source, fmt: str) -> dict:
    return {"format": fmt, "source_name": src.name, "sha256": src.sha256, "technique": "xrd",
            "start_time_utc": None, "notes": []}


# --------------------------------------------------------------------------- text


def _parse_panalytical_csv(text: str):
    head, _, body = text.partition("[Scan points]")
    info = {}
    for line in head.splitlines():
        parts = [p.strip().strip('"') for p in line.split(",")]
        if len(parts) >= 2 and parts[0]:
            info[parts[0]] = parts[1:]
    lines = body.strip().splitlines()
    if not lines:
        raise CorruptFileError("the [Scan points] section is empty.")
    table = pd.read_csv(_io.StringIO("\n".join(lines)))
    return info, table


def read_xy(source, *, wavelength_A: float | None = None, anode: str | None = None, **_options):
    """Read a two- or three-column text pattern (2θ, intensity[, esd]).

    Handles ``.xy``/``.xye``/``.csv`` with whitespace, comma or semicolon separators,
    ``#`` comments and a one-line header, and PANalytical CSV exports (``[Scan points]``,
    whose header gives the anode and wavelengths). Text files do not say the wavelength:
    give ``wavelength_A`` or ``anode`` (d-spacings need it).
    """
    from battlab.diffraction.bragg import ANODES

    src = source if isinstance(source, Source) else _as_source(source, None, DEFAULT_MAX_BYTES)
    text = src.text()
    meta = _meta(src, "xrd-text")
    esd = None
    lam2 = ratio = None
    if "[Scan points]" in text:
        meta["format"] = "panalytical-csv"
        info, table = _parse_panalytical_csv(text)
        num = table.apply(pd.to_numeric, errors="coerce").dropna()
        if num.shape[1] < 2 or len(num) < 3:
            raise CorruptFileError(f"{Path(src.name).name}: fewer than 3 numeric (angle, intensity) rows.")
        tt, y = num.iloc[:, 0].to_numpy(), num.iloc[:, 1].to_numpy()
        anode = anode or (info.get("Anode material", [None])[0] or None)
        if wavelength_A is None and info.get("K-Alpha1 wavelength"):
            wavelength_A = float(info["K-Alpha1 wavelength"][0])
            lam2 = float(info["K-Alpha2 wavelength"][0]) if info.get("K-Alpha2 wavelength") else None
            ratio = float(info["Ratio K-Alpha2/K-Alpha1"][0]) if info.get("Ratio K-Alpha2/K-Alpha1") else None
        if info.get("File date and time"):
            meta["notes"].append(f"file date (instrument local time): {info['File date and time'][0]}")
    else:
        rows, header = [], None
        for line in text.splitlines():
            s = line.strip()
            if not s or s.startswith(("#", "!", "'", "//")):
                continue
            if _NUM.match(s):
                rows.append([float(v) for v in re.split(r"[\s,;]+", s) if v])
            elif not rows and header is None:
                header = s
            elif rows:
                continue  # trailing text after the data (footers)
        if len(rows) < 3:
            raise UnsupportedFormatError(f"{Path(src.name).name}: no columns of numbers (2θ, intensity) found; "
                                         "a diffraction text file needs one 2θ/intensity pair per line.")
        width = min(len(r) for r in rows)
        arr = np.array([r[:width] for r in rows])
        tt, y = arr[:, 0], arr[:, 1]
        if width >= 3:
            esd = arr[:, 2]
    if wavelength_A is None and anode:
        key = str(anode).strip().capitalize()
        if key in ANODES:
            wavelength_A, lam2, ratio = ANODES[key]
    if wavelength_A is None:
        meta["notes"].append("the file does not state the wavelength; give wavelength_A or anode for d-spacings.")
    if not np.all(np.isfinite(tt)) or np.ptp(tt) <= 0:
        raise CorruptFileError(f"{Path(src.name).name}: the 2θ column is not a range of angles.")
    if np.nanmax(tt) > 180 or np.nanmin(tt) < -10:
        raise UnsupportedFormatError(f"{Path(src.name).name}: the first column ({np.nanmin(tt):g}–{np.nanmax(tt):g}) "
                                     "is not 2θ in degrees; is this a spectrum or a cycler table?")
    return make_pattern(tt, y, esd=esd, wavelength_A=wavelength_A, wavelength2_A=lam2, ka2_ratio=ratio,
                        anode=anode, meta=meta)


# --------------------------------------------------------------------------- xrdml


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node, name):
    for c in node:
        if _local(c.tag) == name:
            return c
    return None


def _children(node, name):
    return [c for c in node if _local(c.tag) == name]


def _floats(text):
    return np.array(text.split(), dtype=float) if text else np.array([])


def read_xrdml(source, **_options):
    """Read a PANalytical XRDML file (see :func:`_read_xrdml`); damaged numbers raise CorruptFileError."""
    src = source if isinstance(source, Source) else _as_source(source, None, DEFAULT_MAX_BYTES)
    try:
        return _read_xrdml(src)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise CorruptFileError(f"{Path(src.name).name}: an XRDML value could not be read ({exc}); "
                               "the file may be damaged. Re-export it from the instrument software.") from exc


def _read_xrdml(src):
    """Read a PANalytical XRDML file (open XML; parsed with defusedxml).

    The 2θ axis comes from ``listPositions`` or from ``startPosition``/``endPosition``;
    intensities from ``intensities`` or ``counts`` (times ``beamAttenuationFactors``).
    One scan gives a pattern; several scans on one 2θ grid give a series over ``time``
    from each scan's ``startTimeStamp``.
    """
    import defusedxml.ElementTree as ET
    from defusedxml import DefusedXmlException

    try:
        root = ET.fromstring(src.data)
    except DefusedXmlException as exc:
        raise UnsupportedFormatError(f"{Path(src.name).name}: XML with entity declarations or external "
                                     "references is refused for safety; XRDML files never need them.") from exc
    except ET.ParseError as exc:
        raise CorruptFileError(f"{Path(src.name).name}: not well-formed XML ({exc}); the file may be truncated.") from exc
    meas = _child(root, "xrdMeasurement")
    if meas is None:
        raise UnsupportedFormatError(f"{Path(src.name).name}: XML without an xrdMeasurement; not an XRDML scan.")
    lam1 = lam2 = ratio = None
    wl = _child(meas, "usedWavelength")
    if wl is not None:
        k1, k2, r = _child(wl, "kAlpha1"), _child(wl, "kAlpha2"), _child(wl, "ratioKAlpha2KAlpha1")
        lam1 = float(k1.text) if k1 is not None else None
        lam2 = float(k2.text) if k2 is not None else None
        ratio = float(r.text) if r is not None else None
    anode = None
    for el in meas.iter():
        if _local(el.tag) == "anodeMaterial":
            anode = (el.text or "").strip() or None
            break
    patterns = []
    for scan in _children(meas, "scan"):
        dp = _child(scan, "dataPoints")
        if dp is None:
            continue
        tt = None
        n = None
        inten = _child(dp, "intensities")
        counts = _child(dp, "counts")
        y = _floats((inten if inten is not None else counts).text) if (inten is not None or counts is not None) else None
        if y is None or y.size < 2:
            continue
        n = y.size
        att = _child(dp, "beamAttenuationFactors")
        if inten is None and att is not None:
            fac = _floats(att.text)
            if fac.size == n:
                y = y * fac
        for pos in _children(dp, "positions"):
            if pos.get("axis") == "2Theta":
                lst = _child(pos, "listPositions")
                if lst is not None:
                    tt = _floats(lst.text)
                else:
                    start, end = float(_child(pos, "startPosition").text), float(_child(pos, "endPosition").text)
                    tt = np.linspace(start, end, n)
        if tt is None or tt.size != n:
            raise CorruptFileError(f"{Path(src.name).name}: a scan has no 2θ axis matching its {n} intensities.")
        stamp = None
        header = _child(scan, "header")
        if header is not None and _child(header, "startTimeStamp") is not None:
            stamp = pd.Timestamp(_child(header, "startTimeStamp").text.strip())
            stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
        patterns.append((tt, y, stamp, scan.get("scanAxis")))
    if not patterns:
        raise MissingDataError(f"{Path(src.name).name}: the XRDML file holds no scan data points.")
    meta = _meta(src, "xrdml")
    meta["scan_axis"] = patterns[0][3]
    if ratio == 0 and lam1 is not None:
        # PANalytical writes ratio 0 when Kα2 was stripped or a monochromator removes it.
        meta["notes"].append("Kα2/Kα1 ratio is 0 in the file: treated as monochromatic Kα1.")
    if patterns[0][2] is not None:
        meta["start_time_utc"] = patterns[0][2].isoformat()
    pats = []
    for tt, y, stamp, _axis in patterns:
        m = dict(meta, notes=list(meta["notes"]), start_time_utc=stamp.isoformat() if stamp is not None else None)
        pats.append(make_pattern(tt, y, wavelength_A=lam1, wavelength2_A=lam2, ka2_ratio=ratio, anode=anode, meta=m))
    if len(pats) == 1:
        return pats[0]
    return stack_patterns(pats, times=[p[2] for p in patterns])


# --------------------------------------------------------------------------- series


def stack_patterns(patterns, *, times=None):
    """Stack patterns into a series over ``time`` (interpolated onto the first 2θ grid).

    Parameters
    ----------
    patterns : sequence of DataArray
    times : sequence of timestamps, optional
        UTC acquisition times; default each pattern's ``start_time_utc``.
    """
    return stack_curves(patterns, times=times, label="patterns")


def describe(data) -> str:
    """A few lines for ``battlab info``: patterns, 2θ range, wavelength, start time, notes."""
    x = data["two_theta_deg"].to_numpy()
    n = data.sizes.get("time", 1)
    meta = data.attrs.get("battlab", {})
    lam = data.attrs.get("wavelength_A")
    lines = [f"patterns:   {n}", f"2theta:     {x.min():.4f} to {x.max():.4f} deg, {x.size} points",
             f"wavelength: {f'{lam:.6f} A' if lam else 'not stated (give --anode or --wavelength-A)'}"
             + (f", Ka2 {data.attrs['wavelength2_A']:.6f} A ratio {data.attrs.get('ka2_ratio')}"
                if data.attrs.get("wavelength2_A") else "")]
    if meta.get("start_time_utc"):
        lines.append(f"started:    {meta['start_time_utc']}")
    lines += [f"note:       {note}" for note in meta.get("notes", [])]
    return "\n".join(lines)


def _refuse_special(path: Path):
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff", ".cbf", ".edf", ".h5", ".nxs"):
        raise UnsupportedFormatError(
            f"{path.name} looks like a 2-D detector image or HDF5 container. Integrating it to I(2θ) needs the "
            "detector geometry (a pyFAI .poni file), which battlab does not do yet: integrate it with pyFAI "
            "(pyFAI-integrate) and load the resulting .xy/.dat pattern.")


def load_pattern(source, *, name: str | None = None, wavelength_A: float | None = None, anode: str | None = None):
    """Read one diffraction pattern (or an XRDML series) from a path or bytes."""
    import battlab

    label = Path(name or (str(source) if isinstance(source, (str, Path)) else "upload"))
    _refuse_special(label)
    data = battlab.load(source, name=name)
    if not (hasattr(data, "dims") and "two_theta_deg" in data.dims):
        raise UnsupportedFormatError(f"{label.name} is not a diffraction pattern (it reads as a "
                                     f"{type(data).__name__}); give a .xy, .xye, .csv or .xrdml file.")
    return _with_wavelength(data, wavelength_A, anode)


def _with_wavelength(data, wavelength_A, anode):
    from battlab.diffraction.bragg import ANODES
    from battlab.diffraction.bragg import wavelength_A as _wl

    if wavelength_A is not None:
        data.attrs["wavelength_A"] = float(wavelength_A)
        data.attrs.pop("wavelength2_A", None)
    elif anode is not None:
        l1, l2, r = ANODES[str(anode).strip().capitalize()] if str(anode).strip().capitalize() in ANODES else (
            _wl(anode=anode), None, None)
        data.attrs.update({"wavelength_A": l1, "wavelength2_A": l2, "ka2_ratio": r, "anode": anode})
    return data


_PATTERN_EXT = (".xy", ".xye", ".csv", ".xrdml", ".txt", ".dat")


def load_series(folder_or_files, *, timestamps=None, wavelength_A: float | None = None,
                anode: str | None = None, pattern: str = "*"):
    """Read a folder (or list) of patterns into a series DataArray (time, two_theta_deg).

    Parameters
    ----------
    folder_or_files : path or sequence of paths
        A folder of pattern files (sorted by name) or explicit files. A single
        multi-scan XRDML is returned as its series.
    timestamps : path or sequence, optional
        A CSV with columns ``file`` and ``time`` (ISO 8601, UTC), or one time per file.
        Default: the times stated in the files (XRDML ``startTimeStamp``).
    wavelength_A, anode : optional
        Wavelength for files that do not state it.
    """
    if isinstance(folder_or_files, (str, Path)) and Path(folder_or_files).is_file():
        one = load_pattern(folder_or_files, wavelength_A=wavelength_A, anode=anode)
        if "time" in one.dims:
            return one
        times = times_for([Path(folder_or_files)], timestamps, [one], label="patterns")
        if times[0] is None:  # a single pattern needs no clock; say so instead of refusing
            one.attrs["battlab"]["notes"].append("no acquisition time in the file; time set to 1970-01-01.")
            times = ["1970-01-01T00:00:00Z"]
        return stack_patterns([one], times=times)
    if isinstance(folder_or_files, (str, Path)):
        folder = Path(folder_or_files)
        if not folder.is_dir():
            raise UnsupportedFormatError(f"{folder}: no such file or folder.")
        files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in _PATTERN_EXT
                       and "timestamp" not in p.name.lower())
    else:
        files = [Path(p) for p in folder_or_files]
    if not files:
        raise MissingDataError(f"no pattern files ({', '.join(_PATTERN_EXT)}) found in {folder_or_files}.")
    pats = [load_pattern(p, wavelength_A=wavelength_A, anode=anode) for p in files]
    return stack_patterns(pats, times=times_for(files, timestamps, pats, label="patterns"))


# --------------------------------------------------------------------------- registry


def _sniff_xrdml(head: bytes, name: str) -> float:
    if b"<xrdMeasurements" in head or b"xrdml.com/XRDMeasurement" in head:
        return 0.95
    return 0.5 if name.lower().endswith(".xrdml") else 0.0


def _numeric_share(head: bytes):
    text = head.decode("latin-1").replace("\r", "")
    lines = [s.strip() for s in text.split("\n")[:200] if s.strip() and not s.strip().startswith("#")]
    if len(lines) > 1:
        lines = lines[:-1]  # may be cut mid-line
    if not lines:
        return 0.0, ""
    numeric = sum(1 for s in lines if _NUM.match(s))
    first = next((s for s in lines if not _NUM.match(s)), "")
    return numeric / len(lines), first


def _sniff_xy(head: bytes, name: str) -> float:
    if b"\x00" in head[:4096]:
        return 0.0
    low = name.lower()
    if b"[Scan points]" in head or (b"[Measurement conditions]" in head and low.endswith(".csv")):
        return 0.9
    share, first = _numeric_share(head)
    if low.endswith((".xy", ".xye")):
        return 0.7 if share > 0.8 else 0.2
    # A CSV/TXT is claimed only when its one header line names a 2θ column, so cycler
    # tables keep going to the cycler reader.
    if low.endswith((".csv", ".txt", ".dat")) and share > 0.9 and _ANGLE_HEADER.search(first or "-"):
        return 0.6
    return 0.0


def _sniff_bruker(head: bytes, name: str) -> float:
    low = name.lower()
    if head.startswith((b"RAW1.01", b"RAW4.00", b"RAW ")) and low.endswith(".raw"):
        return 0.95
    if head.startswith(b"PK\x03\x04") and (low.endswith(".brml") or b"Experiment0/" in head):
        return 0.95
    return 0.6 if low.endswith(".brml") else 0.0


def _read_bruker(source, **_options):
    src = source if isinstance(source, Source) else _as_source(source, None, DEFAULT_MAX_BYTES)
    raise UnsupportedFormatError(
        f"{Path(src.name).name} is a Bruker diffraction file (.brml/.raw), which battlab does not read. "
        "Export the scan from DIFFRAC.EVA or DIFFRAC.Commander as .xy (or .csv/.uxd text), then load that.")


register(Format(name="xrdml", description="a PANalytical XRDML diffraction scan", kind="xrd",
                extensions=(".xrdml",), sniff=_sniff_xrdml, read=read_xrdml, requires=("defusedxml",)))
register(Format(name="xrd-xy", description="a diffraction pattern as text (2θ, intensity[, esd])", kind="xrd",
                extensions=(".xy", ".xye"), sniff=_sniff_xy, read=read_xy))
register(Format(name="bruker-xrd", description="a Bruker .brml/.raw diffraction file (not readable, export .xy)",
                kind="xrd", extensions=(), sniff=_sniff_bruker, read=_read_bruker))
