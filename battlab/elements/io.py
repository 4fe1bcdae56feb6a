"""Readers for XRF and EDS element maps.

Every reader returns one DataArray with dims ``("element", "y", "x")``: coordinate
``element`` (chemical symbols, or the map names when no symbol is recognised), pixel-centre
``y_um``/``x_um`` coordinates and attrs ``units`` ("counts" unless told otherwise),
``pixel_size_um`` and ``attrs["battlab"]`` (source, sha256, format). One element,
``maps.sel(element="Ni")``, is a map in the AFM convention of :func:`battlab.afm.height_map`,
so the AFM and correlation map tools apply to it.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
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
from battlab.probes.io import _read

__all__ = ["element_maps", "read_element_maps", "element_symbol", "MAP_EXTENSIONS"]

MAP_EXTENSIONS = (".tif", ".tiff", ".zip", ".h5", ".hdf5", ".nxs", ".csv", ".txt")
MAX_BYTES = 1024**3
MAX_PIXELS = 64 * 1024**2  # per element map: larger ones must be binned first

_SYMBOLS = set("""H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os
Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U""".split())
_LINES = re.compile(r"^(?:K|L|M)(?:a|b|α|β|alpha|beta)?\d?$", re.IGNORECASE)


def element_symbol(label: str) -> str:
    """The chemical symbol in a map name ("Ni_Ka", "map-Mn K", "EDS Co La.tif" → Ni, Mn, Co).

    Tokens are tried in order; a token that is a line label (Ka, L, Kα) is skipped. The
    label itself comes back when no token is a symbol.
    """
    stem = Path(str(label)).stem if "." in str(label)[-6:] else str(label)
    tokens = [t for t in re.split(r"[\s_\-.,;:()\[\]/]+", stem) if t]
    for t in tokens:
        if t in _SYMBOLS and not _LINES.match(t):
            return t
        m = re.match(r"^([A-Z][a-z]?)(?:K|L|M)(?:a|b|α|β)?\d?$", t)  # "NiKa", "MnK"
        if m and m.group(1) in _SYMBOLS:
            return m.group(1)
    for t in tokens:  # lower-case symbols as a last resort ("ni_ka")
        if t.capitalize() in _SYMBOLS and not _LINES.match(t):
            return t.capitalize()
    return stem


def _check_px(px):
    from battlab.imaging.movie import _check_pixel_size

    return _check_pixel_size(px)


def element_maps(maps, *, pixel_size_um: float, units: str = "counts", source_name: str = "array",
                 meta: dict | None = None) -> xr.DataArray:
    """Stack per-element 2-D maps into battlab's element-map DataArray.

    Parameters
    ----------
    maps : dict of str -> 2-D array
        Element (or map) name -> counts, all the same shape.
    pixel_size_um : float
        Pixel size (µm); required, it sets every area and registration.
    """
    if not isinstance(maps, dict) or not maps:
        raise MissingDataError("no element maps given: pass a dict such as {'Ni': counts, 'Mn': counts}.")
    px = _check_px(pixel_size_um)
    names, arrays = [], []
    for name, values in maps.items():
        a = np.asarray(values, dtype=float)
        if a.ndim != 2 or min(a.shape) < 2:
            raise InvalidParameterError(f"element map {name!r} must be 2-D with at least 2×2 pixels, got {a.shape}.")
        names.append(str(name))
        arrays.append(a)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        found = {n: a.shape for n, a in zip(names, arrays, strict=True)}
        raise InvalidParameterError(f"element maps differ in shape: {found}; "
                                    "they must come from one acquisition (bin or crop them to one grid).")
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"two maps have the same element name: {names}.")
    ny, nx = arrays[0].shape
    da = xr.DataArray(np.stack(arrays), dims=("element", "y", "x"),
                      coords={"element": names, "y_um": ("y", (np.arange(ny) + 0.5) * px),
                              "x_um": ("x", (np.arange(nx) + 0.5) * px)}, name="counts")
    da["y_um"].attrs["units"] = "µm"
    da["x_um"].attrs["units"] = "µm"
    da.attrs.update({"units": units, "pixel_size_um": px, "scan_size_um": [nx * px, ny * px],
                     "source_name": source_name})
    da.attrs["battlab"] = dict(meta or {"source_name": source_name})
    return da


def _text_matrix(data, label):
    """A numeric text/CSV matrix (rows along y): the AFM reader's plain-map parser, values as they are."""
    from battlab.afm.io import read_afm

    name = label if Path(label).suffix.lower() in (".csv", ".txt", ".asc") else f"{label}.txt"
    channels = read_afm(data, name=name, pixel_size_um=1.0, z_unit="counts")
    return np.asarray(next(iter(channels.values())).values, dtype=float)


def _tiff_pages(data, label):
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        pages = list(tif.pages)
        if sum(int(np.prod(p.shape)) for p in pages) > MAX_PIXELS * 8:
            raise TooLargeError(f"{label}: too many pixels; bin the maps first.")
        arrays = [p.asarray() for p in pages]
        descriptions = [getattr(p, "description", "") or "" for p in pages]
        labels = None
        ij = tif.imagej_metadata or {}
        if isinstance(ij.get("Labels"), (list, tuple)):
            labels = [str(v) for v in ij["Labels"]]
    if len(arrays) == 1 and arrays[0].ndim == 3:
        arrays = list(arrays[0])  # one page holding a (element, y, x) stack
        descriptions = [""] * len(arrays)
    return arrays, labels, descriptions


def _page_name(description):
    d = description.strip()
    if not d or d.startswith("{") or d.startswith("<") or "shape=" in d or "ImageJ=" in d:
        return None
    return d.splitlines()[0][:40]


def _member_maps(members, label):
    """members: list of (name, bytes) -> dict element -> 2-D array"""
    from battlab.io.arrays import read_tiff_array

    out = {}
    for mname, raw in members:
        ext = Path(mname).suffix.lower()
        if ext in (".tif", ".tiff"):
            arr = read_tiff_array(raw, name=mname)  # declared size checked before decoding
        elif ext in (".csv", ".txt", ".dat", ".asc"):
            arr = _text_matrix(raw, mname)
        else:
            continue
        arr = np.asarray(arr, dtype=float)
        if arr.ndim != 2:
            raise UnsupportedFormatError(f"{label}: {Path(mname).name} is not a 2-D map (shape {arr.shape}).")
        key = element_symbol(Path(mname).name)
        if key in out:
            key = Path(mname).stem
        out[key] = arr
    if not out:
        raise MissingDataError(f"{label} holds no per-element CSV/TXT/TIFF maps.")
    return dict(sorted(out.items()))


def _hdf5_maps(data, label, datasets):
    import h5py

    maps, px = {}, None
    with h5py.File(io.BytesIO(data), "r") as f:
        found = []

        def walk(group, prefix):
            for key in group:
                link = group.get(key, getlink=True)
                if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                    continue  # links may point outside the file (or nowhere): never followed
                obj = group.get(key)
                path = f"{prefix}/{key}"
                if isinstance(obj, h5py.Group):
                    walk(obj, path)
                elif isinstance(obj, h5py.Dataset) and obj.ndim == 2 and obj.dtype.kind in "iuf" \
                        and min(obj.shape) >= 2:
                    found.append(path)

        walk(f, "")
        paths = list(datasets) if datasets else found
        shapes = {f[p].shape for p in paths}
        if not datasets and len(shapes) > 1:
            listing = ", ".join(f"{p} {f[p].shape}" for p in found[:12])
            raise MissingDataError(f"{label}: the 2-D datasets differ in shape ({listing}); pass datasets=[...] "
                                   "naming the element maps (CLI: --datasets).")
        if not paths:
            raise MissingDataError(f"{label}: no 2-D numeric dataset (one per element) in the HDF5 file; pass "
                                   "datasets=[...] naming them.")
        for path in paths:
            if path not in f:
                raise MissingDataError(f"{label}: no dataset {path!r}.")
            ds = f[path]
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 2:
                raise InvalidParameterError(f"{label}: {path} is not a 2-D dataset.")
            if ds.size > MAX_PIXELS:
                raise TooLargeError(f"{label}: {path} has {ds.size} pixels; bin it first.")
            key = element_symbol(path.rsplit("/", 1)[-1])
            maps[key if key not in maps else path.strip("/")] = np.asarray(ds[...], dtype=float)
            for attr in ("pixel_size_um", "pixel_size"):
                if px is None and attr in ds.attrs:
                    px = float(np.asarray(ds.attrs[attr]).ravel()[0])
    return maps, px


def read_element_maps(source, *, name: str | None = None, pixel_size_um: float | None = None,
                      elements=None, datasets=None, units: str = "counts") -> xr.DataArray:
    """Read per-element XRF/EDS maps into one ``(element, y, x)`` DataArray.

    Parameters
    ----------
    source : path or bytes
        * multi-page TIFF, one page per element, named by ``elements``, ImageJ labels or
          each page's description;
        * a ``.zip`` of per-element CSV/TXT/TIFF maps, or a folder of them (element from
          each file name: ``Ni_Ka.csv``, ``map_Mn.tif``);
        * HDF5 with one 2-D dataset per element (every 2-D numeric dataset, or
          ``datasets``); links are not followed and each dataset is size-checked before
          it is read;
        * a single CSV/TXT/TIFF map (its element from the file name).
    pixel_size_um : float
        Required unless the HDF5 file states it (``pixel_size_um`` attribute).
    elements : list of str, optional
        Names of the TIFF pages in order (overrides names found in the file).
    datasets : list of str, optional
        HDF5 dataset paths to read.
    """
    if not isinstance(source, (bytes, bytearray, memoryview)) and Path(source).is_dir():
        folder = Path(source)
        members = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())
                   if p.is_file() and p.suffix.lower() in (".csv", ".txt", ".tif", ".tiff")]
        maps = _member_maps(members, folder.name)
        digest = hashlib.sha256(b"".join(hashlib.sha256(m[1]).digest() for m in members)).hexdigest()
        meta = {"source_name": str(folder), "sha256": digest, "format": "folder"}
        px = pixel_size_um
        return _finish(maps, px, units, str(folder), meta, elements)
    data, src, meta = _read(source, name)
    label = Path(src).name
    ext = Path(src).suffix.lower()
    try:
        px = pixel_size_um
        if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            arrays, ij_labels, descriptions = _tiff_pages(data, label)
            names = list(elements) if elements is not None else ij_labels
            if names is None:
                page_names = [_page_name(d) for d in descriptions]
                names = page_names if all(page_names) and len(set(page_names)) == len(page_names) else None
            if names is None and len(arrays) == 1:
                names = [_single_name(label, None)]
            if names is None:
                raise MissingDataError(f"{label}: {len(arrays)} pages but no element names in the file; pass "
                                       "elements=['Ni', 'Mn', ...] in page order (CLI: --elements Ni,Mn,...).")
            if len(names) != len(arrays):
                raise InvalidParameterError(f"{label}: {len(arrays)} pages but {len(names)} element names given.")
            maps = {(element_symbol(n) if elements is None else str(n)): a for n, a in zip(names, arrays, strict=True)}
            meta["format"] = "multipage-tiff"
        elif data[:4] == b"PK\x03\x04" or ext == ".zip":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir() and not Path(i.filename).name.startswith(".")]
                if sum(i.file_size for i in infos) > MAX_BYTES:
                    raise TooLargeError(f"{label} unpacks to more than 1 GB.")
                members = [(i.filename, zf.read(i)) for i in infos
                           if Path(i.filename).suffix.lower() in (".csv", ".txt", ".tif", ".tiff")]
            maps = _member_maps(members, label)
            meta["format"] = "zip"
        elif data[:8] == b"\x89HDF\r\n\x1a\n":
            maps, file_px = _hdf5_maps(data, label, datasets)
            px = px if px is not None else file_px
            meta["format"] = "hdf5"
        elif ext in (".csv", ".txt", ".dat", ".asc"):
            maps = {_single_name(label, elements): _text_matrix(data, label)}
            meta["format"] = "text-matrix"
        else:
            raise UnsupportedFormatError(f"{label}: not an element-map file (multi-page TIFF, zip of maps, HDF5, "
                                         "or a CSV/TXT matrix).")
    except BattlabError:
        raise
    except MemoryError as exc:
        raise TooLargeError(f"{label}: not enough memory to read it.") from exc
    except Exception as exc:  # damaged files end in a message
        raise CorruptFileError(f"{label} could not be read ({type(exc).__name__}: {exc}); the file may be "
                               "damaged.") from exc
    return _finish(maps, px, units, src, meta, None)


def _single_name(label, elements):
    """Element of a one-map file: given, or a chemical symbol in its name (else the file is refused)."""
    if elements is not None:
        if len(elements) != 1:
            raise InvalidParameterError(f"{label} holds one map but {len(elements)} element names were given.")
        return str(elements[0])
    symbol = element_symbol(label)
    if symbol not in _SYMBOLS:
        raise MissingDataError(f"{label}: one map whose name holds no element symbol; name the file after its "
                               "element (Ni_Ka.csv) or pass elements=['Ni'] (CLI: --elements Ni).")
    return symbol


def _finish(maps, px, units, src, meta, elements):
    if px is None:
        raise MissingDataError(f"{Path(src).name}: the maps carry no pixel size; pass pixel_size_um (µm per pixel, "
                               "from the instrument's scan settings).")
    if elements is not None:
        if len(elements) != len(maps):
            raise InvalidParameterError(f"{len(maps)} maps but {len(elements)} element names given.")
        maps = dict(zip(elements, maps.values(), strict=True))
    return element_maps(maps, pixel_size_um=px, units=units, source_name=src, meta=meta)


def to_table(maps) -> pd.DataFrame:
    """Long table (element, x_um, y_um, value) of an element-map DataArray."""
    return maps.to_dataframe(name="value").reset_index()[["element", "x_um", "y_um", "value"]]
