"""Diffraction readers: .xy/.xye/.csv, PANalytical .xrdml, Bruker .brml, folders of patterns as a series.

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

from battlab.errors import (
    BattlabError,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register
from battlab.series import series_files, stack_curves, times_for

__all__ = ["describe", "load_pattern", "load_series", "make_pattern", "read_brml", "read_hdf5_series", "read_xrdml",
           "read_xy", "stack_patterns"]

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
    try:
        table = pd.read_csv(_io.StringIO("\n".join(lines)))
    except (pd.errors.ParserError, ValueError) as exc:
        # A damaged row with an extra separator makes pandas refuse the whole table.
        raise CorruptFileError(f"the [Scan points] table is damaged ({str(exc)[:120]}); export the scan "
                               "again from the instrument software.") from None
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
            try:
                wavelength_A = float(info["K-Alpha1 wavelength"][0])
                lam2 = float(info["K-Alpha2 wavelength"][0]) if info.get("K-Alpha2 wavelength") else None
                ratio = float(info["Ratio K-Alpha2/K-Alpha1"][0]) if info.get("Ratio K-Alpha2/K-Alpha1") else None
            except ValueError:
                raise CorruptFileError(f"{Path(src.name).name}: a wavelength in the [Measurement conditions] header "
                                       "is not a number; the file is damaged. Export it again.") from None
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


# --------------------------------------------------------------------------- brml

#: Sum of the declared uncompressed member sizes a .brml may have (zip-bomb guard).
BRML_MAX_UNCOMPRESSED = 256 * 1024**2
#: A .brml with more members than this is refused (real files hold tens).
BRML_MAX_MEMBERS = 5000
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_RAWDATA_NAME = re.compile(r"^Experiment(\d+)/RawData(\d+)\.xml$", re.IGNORECASE)
_BRML_ADVICE = "Export the scan from DIFFRAC.EVA or DIFFRAC.Commander as .xy (or .csv/.uxd text), then load that."


def _brml_members(src) -> dict:
    """Every member of the .brml ZIP as bytes, in memory, after the size and name checks."""
    import zipfile
    import zlib

    label = Path(src.name).name
    try:
        archive = zipfile.ZipFile(_io.BytesIO(src.data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise UnsupportedFormatError(f"{label} is not a ZIP archive, so not a readable Bruker .brml ({exc}). "
                                     + _BRML_ADVICE) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > BRML_MAX_MEMBERS:
            raise TooLargeError(f"{label}: {len(infos):,} archive members, above battlab's {BRML_MAX_MEMBERS:,}.")
        declared = sum(max(i.file_size, 0) for i in infos)
        if declared > BRML_MAX_UNCOMPRESSED:
            raise TooLargeError(f"{label} declares {declared / 1e6:,.0f} MB uncompressed, above battlab's "
                                f"{BRML_MAX_UNCOMPRESSED / 1e6:.0f} MB for a .brml; it is refused unread "
                                "(a damaged file or a decompression bomb). " + _BRML_ADVICE)
        members = {}
        for info in infos:
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            # Nothing is extracted to disk, but a path-like name still marks a forged archive.
            if (name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in name or "\x00" in name):
                raise CorruptFileError(f"{label}: archive member {name!r} has a path-like name; refused.")
            if info.is_dir():
                continue
            try:
                with archive.open(info) as fh:
                    data = fh.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError,
                    ValueError) as exc:
                raise CorruptFileError(f"{label}: archive member {name!r} could not be decompressed ({exc}); "
                                       "the file may be damaged or encrypted.") from exc
            if len(data) > info.file_size:
                raise CorruptFileError(f"{label}: archive member {name!r} is larger than it declares; refused.")
            members[name] = data
    return members


def _brml_xml(data: bytes, label: str, member: str):
    import defusedxml.ElementTree as ET
    from defusedxml import DefusedXmlException

    try:
        return ET.fromstring(data)
    except DefusedXmlException as exc:
        raise UnsupportedFormatError(f"{label}: {member} declares XML entities or external references, "
                                     "refused for safety; .brml files never need them.") from exc
    except ET.ParseError as exc:
        raise CorruptFileError(f"{label}: {member} is not well-formed XML ({exc}); the file may be damaged.") from exc


def _brml_raw_names(members: dict, label: str) -> list:
    """RawData members in the order the DataContainer lists them (else by experiment and number)."""
    found = {n: tuple(int(g) for g in m.groups()) for n in members if (m := _RAWDATA_NAME.match(n))}
    if not found:
        raise UnsupportedFormatError(f"{label}: a ZIP archive without Experiment*/RawData*.xml members, so not "
                                     "a Bruker .brml scan. " + _BRML_ADVICE)
    lower = {n.lower(): n for n in found}
    for name in sorted(n for n in members if n.lower().endswith("/datacontainer.xml")):
        root = _brml_xml(members[name], label, name)
        listed = [lower.get((el.text or "").strip().replace("\\", "/").lower()) for el in root.iter()
                  if _local(el.tag) == "string" and "RawData" in (el.text or "")]
        listed = [n for n in dict.fromkeys(listed) if n]
        if listed:
            return listed + sorted((n for n in found if n not in listed), key=found.get)
    return sorted(found, key=found.get)


def _brml_attr_float(el, what, label):
    try:
        return float(el.get("Value"))
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{label}: {what} has no numeric Value attribute.") from exc


def _brml_source_info(root, label):
    """(Kα1 Å, Kα2 Å, Kα2/Kα1, anode) from the tube description, each None when absent."""
    lam1 = lam2 = ratio = anode = None
    for el in root.iter():
        name = _local(el.tag)
        if name in ("WaveLengthAlpha1", "WaveLengthAlpha2", "WaveLengthRatio") and el.get("Value") is not None:
            value = _brml_attr_float(el, name, label)
            if name != "WaveLengthRatio" and str(el.get("Unit", "Angstrom")).lower().startswith("nano"):
                value *= 10.0
            if name == "WaveLengthAlpha1" and lam1 is None:
                lam1 = value
            elif name == "WaveLengthAlpha2" and lam2 is None:
                lam2 = value
            elif name == "WaveLengthRatio" and ratio is None:
                ratio = value
        elif name == "TubeMaterial" and anode is None and (el.text or "").strip():
            anode = el.text.strip()
    if lam1 is not None and not 0.01 < lam1 < 10:
        raise CorruptFileError(f"{label}: the stated Kα1 wavelength {lam1:g} Å is not an X-ray wavelength.")
    return lam1, lam2, ratio, anode


def _brml_start_time(root):
    for el in root.iter():
        if _local(el.tag) in ("TimeStampStarted", "StartTime", "MeasurementStarted") and (el.text or "").strip():
            try:
                stamp = pd.Timestamp(el.text.strip())
            except (ValueError, TypeError, OverflowError):
                return None
            if pd.isna(stamp):
                return None
            return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
    return None


def _brml_views(route, label):
    """{logic name: (first column, number of columns)} from the route's RawDataView list."""
    views = {}
    for view in route.iter():
        if _local(view.tag) != "RawDataView":
            continue
        name = view.get("LogicName")
        if name is None:
            rec = _child(view, "Recording")
            name = rec.get("LogicName") if rec is not None else None
        try:
            start, length = int(view.get("Start")), int(view.get("Length", "1"))
        except (TypeError, ValueError) as exc:
            raise CorruptFileError(f"{label}: a RawDataView without integer Start/Length.") from exc
        if name and start >= 0 and length >= 1:
            views.setdefault(name, (start, length))
    return views


def _brml_axis(route, name, label):
    """(start, stop, unit) of the scan axis called ``name`` (start/stop offset by its Reference)."""
    for info in route.iter():
        if _local(info.tag) != "ScanAxisInfo" or info.get("AxisName", info.get("AxisId")) != name:
            continue
        vals = {}
        for key in ("Start", "Stop", "Reference"):
            el = _child(info, key)
            try:
                vals[key] = float(el.text) if el is not None and (el.text or "").strip() else 0.0
            except ValueError as exc:
                raise CorruptFileError(f"{label}: the {name} scan axis has a non-numeric {key}.") from exc
        unit = _child(info, "Unit")
        unit = (unit.get("Base") if unit is not None else None) or "Degree"
        return vals["Start"] + vals["Reference"], vals["Stop"] + vals["Reference"], unit
    return None


def _brml_route(route, label, member):
    """(2θ in degrees, counts) of one DataRoute."""
    rows = [d.text or "" for d in route.iter() if _local(d.tag) == "Datum"]
    if len(rows) < 2:
        raise MissingDataError(f"{label}: {member} has a data route with {len(rows)} Datum rows; nothing to plot.")
    try:
        table = [[float(v) for v in row.split(",")] for row in rows]
    except ValueError as exc:
        raise CorruptFileError(f"{label}: a Datum row in {member} is not comma-separated numbers ({exc}).") from exc
    widths = {len(r) for r in table}
    views = _brml_views(route, label)
    needed = max((s + n for s, n in views.values()), default=0)
    if len(widths) != 1 or min(widths) < max(needed, 2):
        raise CorruptFileError(f"{label}: the Datum rows in {member} have {sorted(widths)} columns where the data "
                               f"views describe {needed}; the file is damaged.")
    arr = np.array(table, float)
    counter = [k for k in views if "counter" in k.lower()]
    if counter:
        start, length = views[counter[0]]
        if length != 1:
            raise UnsupportedFormatError(f"{label}: the counter {counter[0]} in {member} records {length} values "
                                         "per step (a 1-D detector frame), which battlab does not read. "
                                         + _BRML_ADVICE)
        y = arr[:, start]
    elif not views:
        y = arr[:, -1]  # no views at all: the documented layout ends each row with the counts
    else:
        raise MissingDataError(f"{label}: no counter column among the data views ({', '.join(views)}) of {member}.")
    tt_view = next((k for k in views if k.lower() in ("twotheta", "2theta")), None)
    if tt_view is not None:
        tt = arr[:, views[tt_view][0]]
    else:
        axis = _brml_axis(route, "TwoTheta", label) or _brml_axis(route, "2Theta", label)
        if axis is None:
            raise MissingDataError(f"{label}: {member} has neither a 2θ column nor a TwoTheta scan axis; it is not "
                                   "a 2θ scan (a rocking curve or a map?). " + _BRML_ADVICE)
        tt = np.linspace(axis[0], axis[1], arr.shape[0])
        if axis[2].lower().startswith("rad"):
            tt = np.degrees(tt)
    if not np.all(np.isfinite(tt)) or np.ptp(tt) <= 0 or tt.max() > 180 or tt.min() < -10:
        raise CorruptFileError(f"{label}: the 2θ values in {member} are not a range of angles in degrees.")
    if not np.all(np.isfinite(y)):
        raise CorruptFileError(f"{label}: the counts in {member} contain non-finite values.")
    return tt, y


def read_brml(source, **_options):
    """Read a Bruker DIFFRAC .brml file (a ZIP of XML), never extracting anything to disk.

    Each ``Experiment*/RawData*.xml`` (in the order ``DataContainer.xml`` lists them)
    and each ``DataRoute`` in it is one pattern. A row (``Datum``) is split into columns
    by the route's ``RawDataView`` list: the counts are the view whose logic name
    names a counter, 2θ the ``TwoTheta`` view, else the ``TwoTheta`` scan axis
    (``Start``/``Stop`` plus ``Reference``) spread over the rows. The tube's
    ``WaveLengthAlpha1``/``Alpha2``/``Ratio`` and ``TubeMaterial`` give the wavelength
    and anode. Several patterns become a series over ``time`` (from each raw file's
    start time when it states one), on the union of their 2θ grids (NaN outside a
    range).

    Written from the published layout of the format; not yet checked against a file
    from an instrument.
    """
    src = source if isinstance(source, Source) else _as_source(source, None, DEFAULT_MAX_BYTES)
    label = Path(src.name).name
    members = _brml_members(src)
    found = []
    lam1 = lam2 = ratio = anode = None
    for member in _brml_raw_names(members, label):
        root = _brml_xml(members[member], label, member)
        if not _local(root.tag).startswith("RawData"):
            raise CorruptFileError(f"{label}: {member} is XML but not a RawData document (root <{_local(root.tag)}>).")
        info = _brml_source_info(root, label)
        lam1, lam2, ratio, anode = (a if a is not None else b for a, b in zip((lam1, lam2, ratio, anode), info))
        stamp = _brml_start_time(root)
        routes = [r for r in root.iter() if _local(r.tag) == "DataRoute"]
        # DIFFRAC may keep processed copies beside the measurement; the measured route wins.
        measured = [r for r in routes if "originally measured" in (r.get("Description") or "").lower()]
        routes = measured or routes
        for k, route in enumerate(routes):
            if not any(_local(d.tag) == "Datum" for d in route.iter()):
                continue
            tt, y = _brml_route(route, label, member)
            found.append((tt, y, stamp, member if len(routes) == 1 else f"{member} route {k}"))
    if not found:
        raise MissingDataError(f"{label}: the RawData files hold no Datum rows. " + _BRML_ADVICE)
    meta = _meta(src, "brml")
    meta["notes"].append("Bruker .brml read from its XML layout; not yet checked against an instrument file.")
    if lam1 is None:
        meta["notes"].append("the file does not state the wavelength; give wavelength_A or anode for d-spacings.")
    if len(found) > 1:
        grid = np.unique(np.concatenate([tt for tt, *_ in found]))
    pats, times = [], []
    for i, (tt, y, stamp, where) in enumerate(found):
        m = dict(meta, notes=list(meta["notes"]), start_time_utc=stamp.isoformat() if stamp is not None else None,
                 brml_member=where)
        if len(found) > 1 and not (tt.size == grid.size and np.array_equal(np.sort(tt), grid)):
            order = np.argsort(tt, kind="stable")
            inside = (grid >= tt.min()) & (grid <= tt.max())
            # interpolation only fills the other ranges' points: at its own angles a pattern keeps its counts
            y = np.where(inside, np.interp(grid, tt[order], y[order]), np.nan)
            tt = grid
        pats.append(make_pattern(tt, y, wavelength_A=lam1, wavelength2_A=lam2, ka2_ratio=ratio, anode=anode, meta=m))
        times.append(stamp)
    if len(pats) == 1:
        return pats[0]
    if any(t is None for t in times):
        base = pd.Timestamp("1970-01-01T00:00:00Z")
        times = [base + pd.Timedelta(seconds=i) for i in range(len(pats))]
        pats[0].attrs["battlab"]["notes"].append(
            "the raw data state no start times: the ranges are kept in file order, 1 s apart from 1970-01-01.")
    return stack_patterns(pats, times=times)


# --------------------------------------------------------------------------- hdf5

_H5_NAMES = {
    "two_theta": ("two_theta_deg", "two_theta", "2theta", "twotheta", "tth", "2th", "2theta_deg"),
    "q": ("q_A-1", "q_a^-1", "q_inv_A", "q", "q_nm-1"),
    "intensity": ("intensity", "intensities", "i", "counts", "patterns", "data", "signal"),
    "time": ("time_utc", "timestamps", "timestamp", "time", "times", "epoch_s", "datetime", "start_time"),
    "wavelength": ("wavelength_A", "wavelength", "incident_wavelength", "lambda"),
}
#: Series larger than this many intensity values are refused (float64: 800 MB).
H5_MAX_VALUES = 100_000_000
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(head: bytes) -> bool:
    # The superblock sits at 0, 512, 1024, 2048 … (after an optional user block).
    return any(head[off:off + 8] == _HDF5_MAGIC for off in (0, 512, 1024, 2048, 4096, 8192, 16384, 32768))


def _attr_text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return [_attr_text(v) for v in value.tolist()]
    return value.decode("utf-8", "replace") if isinstance(value, np.bytes_) else value


def _h5_get(group, path):
    """The dataset at ``path``, or None when it is absent, not a dataset or an unreachable link."""
    import h5py

    try:
        obj = group.get(path)
    except (KeyError, OSError, ValueError, RuntimeError):  # broken external/soft links
        return None
    return obj if isinstance(obj, h5py.Dataset) else None


def _h5_groups(root, depth: int = 3):
    """Groups reachable by hard links only (external links are never opened), breadth first."""
    import h5py

    out, todo = [], [(root, 0)]
    while todo and len(out) < 500:
        group, level = todo.pop(0)
        out.append(group)
        if level >= depth:
            continue
        for key in list(group.keys())[:200]:
            try:
                link = group.get(key, getlink=True)
                if isinstance(link, h5py.HardLink) and isinstance(group[key], h5py.Group):
                    todo.append((group[key], level + 1))
            except (KeyError, OSError, ValueError, RuntimeError):
                continue
    return out


def _h5_external_links(groups):
    """(path, target file) of the external links in these groups (never opened)."""
    import h5py

    out = []
    for group in groups:
        for key in list(group.keys())[:200]:
            try:
                link = group.get(key, getlink=True)
            except (KeyError, OSError, ValueError, RuntimeError):
                continue
            if isinstance(link, h5py.ExternalLink):
                out.append((f"{group.name.rstrip('/')}/{key}", link.filename))
    return out


def _h5_find(groups, role):
    for group in groups:
        names = {k.lower(): k for k in group.keys()}
        for cand in _H5_NAMES[role]:
            key = names.get(cand.lower())
            if key is not None:
                ds = _h5_get(group, key)
                if ds is not None:
                    return ds
    return None


def _h5_nxdata(groups):
    """(signal, x axis, time axis) datasets of the first NXdata group with a 1-D or 2-D signal."""
    for group in groups:
        if _attr_text(group.attrs.get("NX_class")) != "NXdata" or "signal" not in group.attrs:
            continue
        signal = _h5_get(group, str(_attr_text(group.attrs["signal"])))
        if signal is None or signal.ndim not in (1, 2):
            continue
        axes = _attr_text(group.attrs.get("axes", []))
        axes = [axes] if isinstance(axes, str) else list(axes)
        axes = [a for ax in axes for a in str(ax).split(":")]  # old NeXus "time:two_theta"
        xname = axes[-1] if axes and axes[-1] != "." else None
        tname = axes[0] if signal.ndim == 2 and len(axes) == 2 and axes[0] != "." else None
        return signal, (_h5_get(group, xname) if xname else None), (_h5_get(group, tname) if tname else None)
    return None, None, None


def _h5_read(ds, what, label, limit=H5_MAX_VALUES):
    if ds.size > limit:
        raise TooLargeError(f"{label}: the {what} dataset {ds.name} holds {ds.size:,} values, above battlab's "
                            f"{limit:,}; read a part of it with h5py and stack_patterns.")
    try:
        return ds[()]
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise CorruptFileError(f"{label}: the {what} dataset {ds.name} could not be read ({exc}); "
                               "the file may be truncated or use a missing compression filter.") from exc


def _h5_times(ds, n, label):
    raw = _h5_read(ds, "time", label)
    vals = np.atleast_1d(raw)
    if vals.size != n:
        raise CorruptFileError(f"{label}: {vals.size} timestamps for {n} patterns in {ds.name}.")
    if vals.dtype.kind in "SOU":
        text = [_attr_text(v) for v in vals.tolist()]
        try:
            stamps = pd.to_datetime(pd.Series(text), utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise CorruptFileError(f"{label}: the timestamps in {ds.name} are not ISO 8601 ({exc}).") from exc
        return list(stamps)
    if vals.dtype.kind not in "iuf" or not np.all(np.isfinite(vals)):
        raise CorruptFileError(f"{label}: the timestamps in {ds.name} are neither ISO strings nor epoch seconds.")
    start = _attr_text(ds.attrs.get("start_time", ds.attrs.get("start")))
    if isinstance(start, str):  # seconds since a stated start (NeXus style)
        t0 = pd.Timestamp(start)
        t0 = t0.tz_convert("UTC") if t0.tzinfo else t0.tz_localize("UTC")
        return [t0 + pd.Timedelta(seconds=float(v)) for v in vals]
    if np.nanmax(np.abs(vals)) > 4e9 * 1000:
        raise CorruptFileError(f"{label}: the numbers in {ds.name} are not epoch seconds.")
    return list(pd.to_datetime(vals.astype(float), unit="s", utc=True))


def read_hdf5_series(source, *, paths: dict | None = None, wavelength_A: float | None = None, timestamps=None,
                     **_options):
    """Read a series of 1-D diffraction patterns from an HDF5 (or NeXus) file.

    The simple layout battlab reads (any group, depth ≤ 3):

    * ``two_theta_deg`` (degrees; also ``two_theta``, ``2theta``, ``tth``) **or** ``q``
      (Å⁻¹; ``units`` attribute ``1/nm`` or ``nm^-1`` for nm⁻¹) with a wavelength
      (``wavelength_A`` dataset or attribute, or the ``wavelength_A`` option);
    * ``intensity`` (also ``intensities``, ``counts``, ``data``), shape
      ``(n_patterns, n_points)`` or ``(n_points,)`` for one pattern;
    * ``time`` / ``timestamps``: one per pattern, ISO 8601 strings or epoch seconds
      (or seconds after an ISO ``start_time`` attribute).

    A NeXus ``NXdata`` group's ``signal`` and ``axes`` attributes are used first when
    present. Only these datasets are read; external links are never followed to find them.

    Parameters
    ----------
    source : path, bytes or Source
    paths : dict, optional
        Explicit dataset paths, keys ``two_theta`` or ``q``, ``intensity``, ``time`` and
        ``wavelength``, e.g. ``{"intensity": "/entry/data/I", "q": "/entry/data/q"}``.
    wavelength_A : float, optional
        X-ray wavelength in Å (needed for q, recorded for d-spacings).
    timestamps : sequence, optional
        One UTC time per pattern, replacing (or standing in for) the file's.

    Returns
    -------
    DataArray
        A series over ``(time, two_theta_deg)`` (see :func:`stack_patterns`).
    """
    import h5py

    src = source if isinstance(source, Source) else _as_source(source, None, DEFAULT_MAX_BYTES)
    label = Path(src.name).name
    if not _is_hdf5(src.data[:65536]):
        raise UnsupportedFormatError(f"{label}: not an HDF5 file (no HDF5 signature).")
    paths = dict(paths or {})
    unknown = set(paths) - set(_H5_NAMES)
    if unknown:
        raise InvalidParameterError(f"paths keys must be among {', '.join(_H5_NAMES)}; got {', '.join(sorted(unknown))}.")
    try:
        fh = h5py.File(_io.BytesIO(src.data), "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise CorruptFileError(f"{label}: the HDF5 structure could not be opened ({exc}); the file may be "
                               "truncated or damaged.") from exc
    with fh:
        try:
            return _read_h5(fh, src, label, paths, wavelength_A, timestamps)
        except BattlabError:
            raise
        except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            # A damaged HDF5 object table or heap surfaces as one of these from h5py.
            raise CorruptFileError(f"{label}: the HDF5 structure is damaged ({exc}); the file may be truncated "
                                   "or corrupted.") from exc


def _read_h5(fh, src, label, paths, wavelength_A, timestamps):
    def named(role):
        ds = _h5_get(fh, paths[role])
        if ds is None:
            raise MissingDataError(f"{label}: no readable dataset at {paths[role]!r} (given as {role}).")
        return ds

    groups = _h5_groups(fh)
    signal, xds, tds = _h5_nxdata(groups) if "intensity" not in paths else (None, None, None)
    y_ds = named("intensity") if "intensity" in paths else (signal or _h5_find(groups, "intensity"))
    x_role = "two_theta" if "two_theta" in paths else ("q" if "q" in paths else None)
    if x_role:
        xds = named(x_role)
    elif xds is None:
        xds = _h5_find(groups, "two_theta") or _h5_find(groups, "q")
    if xds is not None and x_role is None:
        short = xds.name.rsplit("/", 1)[-1].lower()
        units = str(_attr_text(xds.attrs.get("units", ""))).lower()
        x_role = "q" if (short.startswith("q") or "^-1" in units or units.startswith("1/")) else "two_theta"
    tds = named("time") if "time" in paths else (tds or _h5_find(groups, "time"))
    if y_ds is None or xds is None:
        missing = " and no ".join(w for w, d in (("intensity array", y_ds), ("2θ or q axis", xds)) if d is None)
        broken = _h5_external_links(groups)
        raise UnsupportedFormatError(
            f"{label} is an HDF5 file without a diffraction series battlab recognises: it has no {missing} "
            + (f"(its external link {broken[0][0]} points to {broken[0][1]}, which battlab does not open; "
               "a master file needs its data files beside it) " if broken else "") +
            "(datasets named two_theta_deg/q, intensity, time, or a NeXus NXdata group with signal/axes; "
            "a link to a missing external file counts as absent). Name them with paths={...} "
            "(battlab xrd --h5-path intensity=/entry/data/I …).")
    if y_ds.ndim not in (1, 2) or xds.ndim != 1:
        raise UnsupportedFormatError(f"{label}: {y_ds.name} has shape {y_ds.shape}; a series is "
                                     "(n_patterns, n_points) with a 1-D axis. 2-D detector frames need "
                                     "battlab.diffraction.integrate_images with a PONI geometry.")
    n_x = xds.shape[0]
    if y_ds.shape[-1] != n_x:
        raise CorruptFileError(f"{label}: {y_ds.name} {y_ds.shape} does not match the {n_x} points of {xds.name}.")
    if n_x < 3:
        raise MissingDataError(f"{label}: fewer than 3 points in {xds.name}.")
    x = np.asarray(_h5_read(xds, "axis", label), float)
    lam = wavelength_A
    if lam is None:
        wds = named("wavelength") if "wavelength" in paths else _h5_find(groups, "wavelength")
        if wds is not None and wds.size == 1:
            lam = float(np.asarray(_h5_read(wds, "wavelength", label)).ravel()[0])
            if str(_attr_text(wds.attrs.get("units", ""))).lower() in ("nm",):
                lam *= 10
        for obj in (y_ds, y_ds.parent, fh):
            if lam is None and "wavelength_A" in obj.attrs:
                lam = float(np.asarray(obj.attrs["wavelength_A"]).ravel()[0])
    if lam is not None and not (0.01 < lam < 20):
        raise CorruptFileError(f"{label}: wavelength {lam:g} Å is not plausible (give wavelength_A).")
    meta = _meta(src, "xrd-hdf5")
    meta["hdf5_paths"] = {"intensity": y_ds.name, x_role: xds.name, "time": tds.name if tds is not None else None}
    if x_role == "q":
        if lam is None:
            raise MissingDataError(f"{label}: the axis {xds.name} is q; converting it to 2θ needs the wavelength "
                                   "(a wavelength_A dataset/attribute, or give wavelength_A).")
        units = str(_attr_text(xds.attrs.get("units", ""))).lower()
        q_A = x / 10.0 if "nm" in units else x
        arg = q_A * lam / (4 * np.pi)
        if np.any(np.abs(arg) > 1) or not np.all(np.isfinite(arg)):
            raise CorruptFileError(f"{label}: q values in {xds.name} exceed 4π/λ; wrong units or wavelength?")
        x = np.degrees(2 * np.arcsin(arg))
        meta["notes"].append(f"2θ computed from q ({xds.name}) with λ = {lam:g} Å.")
    else:
        units = str(_attr_text(xds.attrs.get("units", ""))).lower()
        if units.startswith("rad"):
            x = np.degrees(x)
    if not np.all(np.isfinite(x)) or np.ptp(x) <= 0 or x.max() > 180 or x.min() < -10:
        raise CorruptFileError(f"{label}: {xds.name} is not a range of 2θ angles in degrees.")
    y = np.asarray(_h5_read(y_ds, "intensity", label), float)
    y = y[None, :] if y.ndim == 1 else y
    n = y.shape[0]
    if n == 0:
        raise MissingDataError(f"{label}: {y_ds.name} holds no patterns.")
    if timestamps is not None:
        times = [pd.Timestamp(t) for t in timestamps]
        if len(times) != n:
            raise MissingDataError(f"{len(times)} timestamps for the {n} patterns of {label}.")
        times = [t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC") for t in times]
    else:
        times = _h5_times(tds, n, label) if tds is not None else [None] * n
    if lam is None:
        meta["notes"].append("the file does not state the wavelength; give wavelength_A or anode for d-spacings.")
    pats = []
    for i in range(n):
        m = dict(meta, notes=list(meta["notes"]), start_time_utc=times[i].isoformat() if times[i] is not None else None)
        pats.append(make_pattern(x, y[i], wavelength_A=lam, meta=m))
    if times[0] is None:
        if n == 1:
            pats[0].attrs["battlab"]["notes"].append("no acquisition time in the file; time set to 1970-01-01.")
            times = ["1970-01-01T00:00:00Z"]
        else:
            raise MissingDataError(f"{label}: {n} patterns but no timestamps dataset (time/timestamps, ISO 8601 "
                                   "or epoch seconds); name it with paths={'time': ...} or give timestamps.")
    return stack_patterns(pats, times=times)


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
    from battlab.diffraction.integrate import IMAGE_EXTENSIONS

    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise UnsupportedFormatError(
            f"{path.name} looks like a 2-D detector image. Integrating it to I(2θ) needs the detector geometry "
            "(a pyFAI .poni file): use battlab.diffraction.integrate_image(path, poni=...) or "
            "integrate_images(folder, poni=...), or `battlab xrd FOLDER --poni geometry.poni`.")


def load_pattern(source, *, name: str | None = None, wavelength_A: float | None = None, anode: str | None = None):
    """Read one diffraction pattern (or an XRDML series) from a path or bytes."""
    import battlab

    label = Path(name or (str(source) if isinstance(source, (str, Path)) else "upload"))
    _refuse_special(label)
    data = battlab.load(source, name=name)
    if not (hasattr(data, "dims") and "two_theta_deg" in data.dims):
        raise UnsupportedFormatError(f"{label.name} is not a diffraction pattern (it reads as a "
                                     f"{type(data).__name__}); give a .xy, .xye, .csv, .xrdml or .brml file.")
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


_PATTERN_EXT = (".xy", ".xye", ".csv", ".xrdml", ".brml", ".txt", ".dat")


_HDF5_EXT = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5")


def load_series(folder_or_files, *, timestamps=None, wavelength_A: float | None = None,
                anode: str | None = None, pattern: str = "*", paths: dict | None = None):
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
    paths : dict, optional
        For an HDF5 series: explicit dataset paths (see :func:`read_hdf5_series`).
    """
    if isinstance(folder_or_files, (str, Path)) and Path(folder_or_files).is_file():
        path = Path(folder_or_files)
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if path.suffix.lower() in _HDF5_EXT or _is_hdf5(head):
            times = None
            if timestamps is not None and not isinstance(timestamps, (str, Path)):
                times = list(timestamps)
            elif timestamps is not None:
                raise InvalidParameterError("an HDF5 series carries its own times; give timestamps as a list "
                                            "(one per pattern) or name the dataset with paths={'time': ...}.")
            series = read_hdf5_series(path, paths=paths, wavelength_A=wavelength_A, timestamps=times)
            return _with_wavelength(series, None, anode)  # wavelength_A was applied by the reader
        one = load_pattern(folder_or_files, wavelength_A=wavelength_A, anode=anode)
        if "time" in one.dims:
            return one
        times = times_for([Path(folder_or_files)], timestamps, [one], label="patterns")
        if times[0] is None:  # a single pattern needs no clock; say so instead of refusing
            one.attrs["battlab"]["notes"].append("no acquisition time in the file; time set to 1970-01-01.")
            times = ["1970-01-01T00:00:00Z"]
        return stack_patterns([one], times=times)
    files = series_files(folder_or_files, suffixes=_PATTERN_EXT, pattern=pattern, label="pattern")
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


def _sniff_hdf5(head: bytes, name: str) -> float:
    if _is_hdf5(head):
        return 0.6
    return 0.3 if name.lower().endswith(_HDF5_EXT) else 0.0


def _sniff_bruker(head: bytes, name: str) -> float:
    low = name.lower()
    if head.startswith((b"RAW1.01", b"RAW4.00", b"RAW ")) and low.endswith(".raw"):
        return 0.95
    return 0.0


def _read_bruker(source, **_options):
    src = source if isinstance(source, Source) else _as_source(source, None, DEFAULT_MAX_BYTES)
    raise UnsupportedFormatError(
        f"{Path(src.name).name} is a Bruker binary .raw diffraction file, which battlab does not read. "
        "Export the scan from DIFFRAC.EVA or DIFFRAC.Commander as .xy (or .csv/.uxd text), then load that.")


register(Format(name="xrdml", description="a PANalytical XRDML diffraction scan", kind="xrd",
                extensions=(".xrdml",), sniff=_sniff_xrdml, read=read_xrdml, requires=("defusedxml",)))
register(Format(name="xrd-xy", description="a diffraction pattern as text (2θ, intensity[, esd])", kind="xrd",
                extensions=(".xy", ".xye"), sniff=_sniff_xy, read=read_xy))
register(Format(name="xrd-hdf5", description="a series of diffraction patterns in HDF5/NeXus", kind="xrd",
                extensions=_HDF5_EXT, sniff=_sniff_hdf5, read=read_hdf5_series, requires=("h5py",)))
def _sniff_brml(head: bytes, name: str) -> float:
    low = name.lower()
    if head.startswith(b"PK\x03\x04") and (low.endswith(".brml") or b"Experiment0/" in head):
        return 0.95
    return 0.6 if low.endswith(".brml") else 0.0


register(Format(name="brml", description="a Bruker DIFFRAC .brml diffraction scan", kind="xrd",
                extensions=(".brml",), sniff=_sniff_brml, read=read_brml, requires=("defusedxml",)))
register(Format(name="bruker-xrd", description="a Bruker .raw diffraction file (not readable, export .xy)",
                kind="xrd", extensions=(), sniff=_sniff_bruker, read=_read_bruker))
