"""Readers for TEM files: Gatan .dm3/.dm4, FEI TIA .emi/.ser, Velox/NCEM .emd, .mrc, TIFF, .npy.

:func:`open_tem` returns an ``xarray.DataArray`` in one of four shapes:

* image ``("y", "x")`` with coordinates ``y_nm`` / ``x_nm``;
* diffraction pattern ``("ky", "kx")`` with ``ky_per_nm`` / ``kx_per_nm`` (reciprocal nm);
* movie ``("time", "y", "x")`` with ``time_s``, dask-backed (frames read on demand);
* spectrum ``("energy",)`` with ``energy_eV`` (and spectrum images ``("y", "x", "energy")``).

Vendor formats are decoded by RosettaSciIO (the optional ``battlab[tem]`` extra). The
attrs carry what the file declares: pixel size, accelerating voltage, exposure, dwell
and frame time, camera length, magnification, screen current and acquisition time.
Whatever the file lacks and an analysis needs (pixel size, voltage) is a required
keyword: the reader refuses to guess.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from battlab.errors import (
    BattlabError,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)

__all__ = ["open_tem", "open_pattern", "TEM_SUFFIXES", "spatial_unit_to_nm"]

TEM_SUFFIXES = (".dm3", ".dm4", ".emi", ".ser", ".emd", ".mrc", ".tif", ".tiff", ".npy", ".h5", ".hdf5", ".nxs")

# length unit (as vendors spell it) -> nanometres
_LENGTH_NM = {"nm": 1.0, "µm": 1e3, "um": 1e3, "μm": 1e3, "micron": 1e3, "mm": 1e6, "m": 1e9,
              "a": 0.1, "å": 0.1, "angstrom": 0.1, "pm": 1e-3}
# reciprocal length unit -> reciprocal nanometres
_RECIP_PER_NM = {"1/nm": 1.0, "nm^-1": 1.0, "1 / nm": 1.0, "1/a": 10.0, "1/å": 10.0, "a^-1": 10.0,
                 "1/µm": 1e-3, "1/um": 1e-3, "1/m": 1e-9}
_TIME_S = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "min": 60.0}

#: Largest array a TEM file may declare (a big 4D-STEM cube stays lazy below this).
MAX_DECLARED_BYTES = 256 * 1024**3
#: Longest axis a TEM file may declare (frames, scan positions, pixels or channels).
MAX_AXIS_LENGTH = 2**24
#: Largest piece battlab holds in memory at once: a whole image or spectrum, one movie frame.
MAX_IN_MEMORY_BYTES = 4 * 1024**3


def spatial_unit_to_nm(unit: str) -> float | None:
    """Factor from a vendor length unit to nm (None when it is not a length)."""
    return _LENGTH_NM.get(str(unit).strip().lower().replace("micrometer", "µm"))


#: Most fields a DigitalMicrograph tag struct may declare (real ones have a handful:
#: complex numbers 2, RGBA colours and rectangles 4).
MAX_DM_STRUCT_FIELDS = 1024


def _guard_dm_parser() -> None:
    """Bound the struct field count RosettaSciIO's DM tag parser trusts.

    It builds a struct's definition one field at a time by tuple concatenation, as many
    fields as the file declares: a damaged count (hundreds of thousands of fields) keeps
    it busy for minutes. A count no struct has is refused as damage instead. Installed
    once; it changes nothing for an intact file.
    """
    from rsciio.digitalmicrograph import _api

    cls = _api.DigitalMicrographReader
    # Only on the parser this was written against; another RosettaSciIO keeps its own behaviour.
    if getattr(cls, "_battlab_guarded", False) or not all(
            hasattr(cls, name) for name in ("parse_struct_definition", "read_l_or_q")):
        return
    parse = cls.parse_struct_definition

    def parse_struct_definition(self):
        start = self.f.tell()
        self.read_l_or_q(self.f, "big")  # the struct's name length
        n_fields = self.read_l_or_q(self.f, "big")
        if not 0 <= n_fields <= MAX_DM_STRUCT_FIELDS:
            raise OSError(f"a tag struct declares {n_fields:,} fields at byte {start}; the file is damaged")
        self.f.seek(start)
        return parse(self)

    cls.parse_struct_definition = parse_struct_definition
    cls._battlab_guarded = True


def _reader(suffix):
    try:
        if suffix in (".dm3", ".dm4"):
            from rsciio.digitalmicrograph import file_reader

            _guard_dm_parser()
            return file_reader, "Gatan DigitalMicrograph"
        if suffix in (".emi", ".ser"):
            from rsciio.tia import file_reader
            return file_reader, "FEI TIA"
        if suffix == ".emd":
            from rsciio.emd import file_reader
            return file_reader, "EMD (Velox/NCEM)"
        if suffix == ".mrc":
            from rsciio.mrc import file_reader
            return file_reader, "MRC"
    except ImportError:
        raise UnsupportedFormatError(
            f"reading {suffix} files needs RosettaSciIO: pip install 'battlab[tem]' (or rosettasciio).") from None
    raise UnsupportedFormatError(f"{suffix} is not a TEM format battlab reads; use one of {', '.join(TEM_SUFFIXES)}.")


def _walk(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, tree


def _find(original, *names):
    """First numeric value whose dotted key ends with one of ``names`` (case-insensitive)."""
    wanted = [n.lower() for n in names]
    for key, value in _walk(original):
        low = key.lower()
        if any(low.endswith(n) for n in wanted):
            try:
                val = float(value)
            except (TypeError, ValueError):
                continue
            if np.isfinite(val):
                return val
    return None


def _instrument(original) -> dict:
    """Acquisition metadata from the vendor tags (None where the file is silent)."""
    volt = _find(original, "microscope info.voltage", "accelerationvoltage", "acceleratingvoltage",
                 "acceleration_voltage", "beam_energy")
    exposure = _find(original, "detector-1.exposuretime", "high level.exposure (s)", "databar.exposure time (s)",
                     "exposure_time", "integration time")
    dwell = _find(original, "scan.dwelltime", "dwelltimepath", "pixel dwell time", "dwell_time")
    frame = _find(original, "scan.frametime", "acquireinfo.frametime")
    camera = _find(original, "optics.cameralength", "camera length_m")
    if camera is None:
        cam_mm = _find(original, "microscope info.stem camera length")
        camera = cam_mm / 1e3 if cam_mm else None
    mag = _find(original, "nominalmagnification", "indicated magnification", "magnification_x",
                "stemmagnification.value")
    current = _find(original, "optics.screencurrent", "probe current (na)")
    if current is not None and _find(original, "probe current (na)") == current:
        current = current * 1e-9 if current else None
    if volt is not None and volt > 1e3:  # files store volts; battlab reports kV
        volt = volt / 1e3
    mode = "STEM" if dwell else "TEM"
    return {"voltage_kV": volt or None, "exposure_s": exposure, "dwell_time_s": dwell,
            "frame_time_s": frame, "camera_length_m": camera or None, "magnification": mag or None,
            "screen_current_A": current or None, "mode": mode}


def _sha256(path: Path) -> str:
    from battlab.provenance import sha256_of

    return sha256_of(path)


def _axis_role(axis):
    name = str(axis.get("name") or "").lower()
    unit = str(axis.get("units") or "").strip()
    ulow = unit.lower()
    if ulow in ("ev", "kev"):
        return "energy"
    if ulow in _RECIP_PER_NM or ulow.startswith("1/"):
        return "recip"
    if ulow in _TIME_S or name in ("time", "t"):
        return "time"
    if spatial_unit_to_nm(ulow) is not None:
        return "space"
    if "energy" in name:
        return "energy"
    return "unknown"


def _check_declared_hdf5(path: Path) -> None:
    """Refuse an HDF5-based file (EMD) whose datasets declare impossible sizes, before decoding.

    A damaged dimension field can declare terabytes (or 2**40 frames); the vendor reader
    would then try to build that many chunks or allocate the array and exhaust the memory.
    """
    import h5py

    try:
        fh = h5py.File(path, "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise CorruptFileError(f"{path.name}: not a readable HDF5/EMD file ({exc}).") from None
    file_bytes = path.stat().st_size
    problems: list[str] = []

    def visit(name, obj):
        if problems or not isinstance(obj, h5py.Dataset) or obj.shape is None:
            return
        shape, itemsize = tuple(int(n) for n in obj.shape), max(int(obj.dtype.itemsize), 1)
        declared = math.prod(shape) * itemsize
        if any(n > MAX_AXIS_LENGTH for n in shape):
            problems.append(f"dataset {name} declares an axis of {max(shape):,} elements")
        elif declared > MAX_DECLARED_BYTES:
            problems.append(f"dataset {name} declares {declared / 1e9:,.0f} GB")
        elif obj.chunks is None and declared > file_bytes and obj.id.get_storage_size() < declared:
            # contiguous storage holds the whole array inside the file
            problems.append(f"dataset {name} declares {declared:,} bytes but the file holds {file_bytes:,}")

    try:
        with fh:
            fh.visititems(visit)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path.name}: its HDF5 object table is damaged ({exc}).") from None
    if problems:
        raise TooLargeError(f"{path.name}: {problems[0]}, which is not a real acquisition; the file is damaged "
                            "and was refused unread.")


#: Bytes per value of the MRC data modes RosettaSciIO reads (0 uint8, 1 int16, 2 float32,
#: 4 complex float32, 6 uint16, 12 float16).
_MRC_MODE_BYTES = {0: 1, 1: 2, 2: 4, 4: 8, 6: 2, 12: 2}


def _check_declared_mrc(path: Path) -> None:
    """Refuse an MRC file whose header declares sizes the file cannot hold, before decoding.

    RosettaSciIO memory-maps what NX, NY, NZ declare and builds its chunk table from them
    unchecked: a flipped sign or high byte asks for terabytes (or a negative shape).
    """
    file_bytes = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if len(head) < 1024:
        raise CorruptFileError(f"{path.name}: {len(head)} bytes, shorter than the 1024-byte MRC header; the file is "
                               "truncated.")
    order = ">" if head[212:214] == b"\x11\x11" else "<"
    nx, ny, nz, mode = (int(v) for v in np.frombuffer(head[:16], dtype=f"{order}i4"))
    n_ext = int(np.frombuffer(head[92:96], dtype=f"{order}i4")[0])
    if min(nx, ny, nz) < 1 or max(nx, ny, nz) > MAX_AXIS_LENGTH:
        raise CorruptFileError(f"{path.name}: the MRC header declares {nx} × {ny} × {nz} voxels, which is not a "
                               "real acquisition; the file is damaged.")
    if mode not in _MRC_MODE_BYTES:
        raise UnsupportedFormatError(f"{path.name}: MRC data mode {mode} is not one battlab reads "
                                     f"({', '.join(map(str, _MRC_MODE_BYTES))}); if the file is not damaged, save "
                                     "it as 32-bit float (mode 2).")
    if not 0 <= n_ext <= file_bytes:
        raise CorruptFileError(f"{path.name}: the MRC header declares an extended header of {n_ext:,} bytes in a "
                               f"file of {file_bytes:,}; the file is damaged.")
    declared = nx * ny * nz * _MRC_MODE_BYTES[mode]
    if 1024 + n_ext + declared > file_bytes:
        raise CorruptFileError(f"{path.name}: the MRC header declares {declared:,} bytes of data ({nx} × {ny} × "
                               f"{nz}) but the file holds {file_bytes:,}; it is truncated or its header is damaged.")


def _check_in_memory(data, dims) -> None:
    """The part battlab loads at once (a whole image/spectrum, or one frame) must fit the budget."""
    shape = [int(n) for n in data.shape]
    if "time" in dims or data.ndim > 2:
        shape = shape[1:]  # read one frame (or one navigation row) at a time
    need = math.prod(shape) * max(int(np.dtype(data.dtype).itemsize), 1)
    if need > MAX_IN_MEMORY_BYTES:
        raise TooLargeError(f"one {'frame' if 'time' in dims else 'image'} of this file declares {need / 1e9:,.1f} GB, "
                            f"above battlab's {MAX_IN_MEMORY_BYTES / 1e9:.0f} GB; the file is damaged or needs "
                            "cropping in the vendor software.")


def _from_rsciio(sig, *, pixel_size_nm, voltage_kV, frame_time_s, exposure_s, notes):
    import dask.array as da
    import xarray as xr

    data = sig["data"]
    if any(int(n) > MAX_AXIS_LENGTH for n in data.shape):
        raise TooLargeError(f"the file declares an axis of {max(int(n) for n in data.shape):,} elements, which is "
                            "not a real acquisition; the file is damaged.")
    axes = sorted(sig["axes"], key=lambda a: a.get("index_in_array", 0))
    if len(axes) != data.ndim:  # rsciio lists axes in array order when no index is given
        axes = list(sig["axes"])
    # Size-1 navigation axes (a single spectrum stored as a 1×N "line") carry no information.
    keep = [i for i, a in enumerate(axes) if not (int(a.get("size", data.shape[i])) == 1 and data.ndim > 1)]
    if len(keep) != data.ndim:
        data = data.reshape([data.shape[i] for i in keep])
        axes = [axes[i] for i in keep]
    roles = [_axis_role(a) for a in axes]
    inst = _instrument(sig.get("original_metadata", {}))
    coords, dims, attrs = {}, [], {}
    n_space = roles.count("space") + roles.count("unknown") * (roles.count("energy") == 0 and roles.count("recip") == 0)
    space_names = iter(("y", "x") if n_space <= 2 else ("z", "y", "x"))
    recip_names = iter(("ky", "kx"))
    px_nm = {}
    for a, role, n in zip(axes, roles, data.shape, strict=True):
        scale, offset = float(a.get("scale", 1.0)), float(a.get("offset", 0.0))
        unit = str(a.get("units") or "").strip()
        if role == "energy":
            f = 1e3 if unit.lower() == "kev" else 1.0
            dims.append("energy")
            coords["energy_eV"] = ("energy", (offset + scale * np.arange(n)) * f)
            attrs["dispersion_eV"] = scale * f
        elif role == "recip":
            dim = next(recip_names)
            f = _RECIP_PER_NM.get(unit.lower(), 1.0)
            dims.append(dim)
            coords[f"{dim}_per_nm"] = (dim, (offset + scale * np.arange(n)) * f)
            px_nm[dim] = scale * f
        elif role == "time":
            dims.append("time")
            coords["time_s"] = ("time", (offset + scale * np.arange(n)) * _TIME_S.get(unit.lower(), 1.0))
        else:
            dim = next(space_names, None)
            if dim is None:
                raise UnsupportedFormatError(f"the file holds a {data.ndim}-D array with axes battlab cannot map "
                                             f"({[a.get('name') for a in axes]}).")
            f = spatial_unit_to_nm(unit) if role == "space" else None
            dims.append(dim)
            if f is None:
                px_nm[dim] = None
                coords[f"{dim}_px"] = (dim, np.arange(n, dtype=float))
            else:
                px_nm[dim] = scale * f
                coords[f"{dim}_nm"] = (dim, (offset + scale * np.arange(n)) * f)
    # Spatial calibration: the file's, unless the user gave one (then the file's is a note).
    spatial = [d for d in dims if d in ("y", "x")]
    if spatial:
        declared = [px_nm.get(d) for d in spatial]
        if pixel_size_nm is not None:
            px = float(pixel_size_nm)
            if not np.isfinite(px) or px <= 0:
                raise InvalidParameterError(f"pixel_size_nm must be a positive number, got {pixel_size_nm!r}.")
            if all(v is not None for v in declared) and any(abs(v - px) > 0.01 * px for v in declared):
                notes.append(f"the file declares {', '.join(f'{v:.6g}' for v in declared)} nm per pixel; "
                             f"{px:g} nm (given) was used.")
            for d in spatial:
                n = data.shape[dims.index(d)]
                coords.pop(f"{d}_px", None)
                coords[f"{d}_nm"] = (d, np.arange(n) * px)
                px_nm[d] = px
        elif any(v is None for v in declared):
            raise MissingDataError("the file does not say how large a pixel is; give pixel_size_nm= "
                                   "(from the microscope's calibration at this magnification).")
        ys, xs = px_nm.get("y"), px_nm.get("x")
        attrs["pixel_size_y_nm"], attrs["pixel_size_x_nm"] = ys, xs
        square = ys is None or xs is None or abs(ys - xs) <= 1e-6 * max(ys, xs)
        attrs["pixel_size_nm"] = (xs if xs is not None else ys) if square else None
        if not square:
            notes.append(f"pixels are not square ({ys:.6g} nm in y, {xs:.6g} nm in x): pixel_size_nm is None, "
                         "use pixel_size_y_nm / pixel_size_x_nm.")
    if any(d in ("ky", "kx") for d in dims):
        attrs["reciprocal_pixel_per_nm"] = px_nm.get("kx", px_nm.get("ky"))
    _check_in_memory(data, dims)
    # Movies: frame times from the file or the user.
    if "z" in dims:  # a stack of frames whose first axis has no time unit
        dims[dims.index("z")] = "time"
        coords.pop("z_nm", None)
        coords.pop("z_px", None)
    if "time" in dims:
        n = data.shape[dims.index("time")]
        if frame_time_s is not None:
            coords["time_s"] = ("time", np.arange(n) * float(frame_time_s))
        elif "time_s" not in coords:
            ft = inst.get("frame_time_s") or inst.get("exposure_s")
            if ft:
                coords["time_s"] = ("time", np.arange(n) * ft)
                notes.append(f"frame times from the file's frame/exposure time ({ft:g} s per frame).")
            else:
                coords["time_s"] = ("time", np.arange(n, dtype=float))
                notes.append("the file carries no frame times: time_s is the frame index; give frame_time_s=.")
        coords["frame"] = ("time", np.arange(n))
        if not hasattr(data, "dask"):
            data = da.from_array(data, chunks=(1,) + tuple(data.shape[1:]))
    elif hasattr(data, "dask") and data.ndim <= 2:
        data = np.asarray(data.compute())  # single images and spectra are small; cubes (SI, 4D-STEM) stay lazy
    if voltage_kV is not None:
        if inst["voltage_kV"] and abs(inst["voltage_kV"] - voltage_kV) > 0.5:
            notes.append(f"the file says {inst['voltage_kV']:g} kV; {voltage_kV:g} kV (given) was used.")
        inst["voltage_kV"] = float(voltage_kV)
    if exposure_s is not None:
        inst["exposure_s"] = float(exposure_s)
    if frame_time_s is not None:
        inst["frame_time_s"] = float(frame_time_s)
    arr = xr.DataArray(data, dims=tuple(dims), coords=coords, name="intensity")
    for c in arr.coords:
        unit = {"_nm": "nm", "_per_nm": "1/nm", "_eV": "eV", "_s": "s", "_px": "px"}
        for suffix, u in unit.items():
            if str(c).endswith(suffix):
                arr[c].attrs["units"] = u
    attrs.update(inst)
    meta = sig.get("metadata", {})
    general = meta.get("General", {})
    if general.get("date"):
        attrs["acquisition_time"] = f"{general.get('date')}T{general.get('time', '00:00:00')}"
    attrs["title"] = general.get("title")
    attrs["signal_type"] = meta.get("Signal", {}).get("signal_type") or None
    attrs["units"] = "counts"
    arr.attrs.update(attrs)
    return arr


def _kind(arr) -> str:
    dims = tuple(arr.dims)
    if dims == ("energy",):
        return "spectrum"
    if "energy" in dims:
        return "spectrum image"
    if "time" in dims:
        return "movie"
    if dims == ("ky", "kx"):
        return "diffraction"
    if dims == ("y", "x", "ky", "kx"):
        return "4D-STEM"
    return "image"


def _open_hdf5(path: Path):
    """NeXus/HDF5 detector files: the data, or a clear error when a linked data file is missing."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"{path.name}: not a readable HDF5 file ({exc}).") from None
    with fh:
        missing, arrays = [], []

        def visit(group, prefix):
            for key in group:
                link = group.get(key, getlink=True)
                full = f"{prefix}/{key}"
                if isinstance(link, h5py.ExternalLink):
                    target = path.parent / link.filename
                    if not target.exists():
                        missing.append((full, link.filename))
                        continue
                try:
                    obj = group[key]
                except (KeyError, OSError):
                    missing.append((full, "(unresolvable link)"))
                    continue
                if isinstance(obj, h5py.Group):
                    visit(obj, full)
                elif isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "uif":
                    arrays.append(full)

        visit(fh, "")
        # A master file's own 2-D arrays (flat field, pixel mask) are calibration, not data,
        # so a missing linked data file is the message that matters.
        if missing:
            where, target = missing[0]
            raise MissingDataError(
                f"{path.name}: the detector data are not in this file: {where} links to {target}, which is not "
                f"beside it. Copy the master file together with its data files (same folder) and open it again.")
        if arrays:
            raise UnsupportedFormatError(
                f"{path.name}: HDF5 with image arrays ({', '.join(arrays[:3])}) but not a TEM layout battlab knows; "
                "export the images as TIFF or .npy and open those with pixel_size_nm=.")
        raise MissingDataError(f"{path.name}: the HDF5 file holds no image or spectrum data.")


def _open_array(arr, *, path, pixel_size_nm, frame_time_s, voltage_kV, exposure_s, notes):
    import dask.array as da
    import xarray as xr

    if arr.ndim not in (2, 3):
        raise UnsupportedFormatError(f"{path.name}: a {arr.ndim}-D array; battlab reads images (2-D) and movies (3-D).")
    if pixel_size_nm is None:
        raise MissingDataError(f"{path.name} carries no pixel size battlab trusts; give pixel_size_nm=.")
    px = float(pixel_size_nm)
    if not np.isfinite(px) or px <= 0:
        raise InvalidParameterError(f"pixel_size_nm must be a positive number, got {pixel_size_nm!r}.")
    ny, nx = arr.shape[-2:]
    coords = {"y_nm": ("y", np.arange(ny) * px), "x_nm": ("x", np.arange(nx) * px)}
    dims = ("y", "x")
    if arr.ndim == 3:
        n = arr.shape[0]
        dims = ("time", "y", "x")
        if frame_time_s is None:
            notes.append("no frame time given: time_s is the frame index; give frame_time_s=.")
        coords["time_s"] = ("time", np.arange(n) * (float(frame_time_s) if frame_time_s else 1.0))
        coords["frame"] = ("time", np.arange(n))
        if not hasattr(arr, "dask"):
            arr = da.from_array(arr, chunks=(1, ny, nx))
    out = xr.DataArray(arr, dims=dims, coords=coords, name="intensity")
    out.attrs.update({"pixel_size_nm": px, "pixel_size_y_nm": px, "pixel_size_x_nm": px,
                      "voltage_kV": voltage_kV, "exposure_s": exposure_s, "frame_time_s": frame_time_s,
                      "dwell_time_s": None, "camera_length_m": None, "magnification": None,
                      "screen_current_A": None, "mode": "TEM", "units": "counts"})
    return out


def open_tem(path, *, pixel_size_nm: float | None = None, voltage_kV: float | None = None,
             frame_time_s: float | None = None, exposure_s: float | None = None, signal: int | None = None,
             lazy: bool = True, hash_source: bool = True):
    """Open a TEM image, movie, diffraction pattern or EELS spectrum with its calibration.

    Parameters
    ----------
    path : path
        ``.dm3``/``.dm4`` (Gatan), ``.emi``/``.ser`` (FEI TIA; the pair must sit together),
        ``.emd`` (Velox or NCEM), ``.mrc``, ``.tif``/``.tiff`` stacks, ``.npy`` arrays.
        NeXus/HDF5 detector master files are recognised, and refused with a clear message
        when their linked data files are absent.
    pixel_size_nm : float, optional
        Overrides the file's pixel size (a differing file value is kept in ``notes``);
        required for TIFF / .npy and for vendor files without a spatial calibration.
    voltage_kV, frame_time_s, exposure_s : float, optional
        Override or supply the accelerating voltage, the time between frames and the
        exposure per frame (dose bookkeeping needs them).
    signal : int, optional
        Which signal of a multi-signal file (EMD files may hold several); default the first.
    lazy : bool
        Movies stay dask-backed (one chunk per frame). Images and spectra are loaded.
    hash_source : bool
        Record the file's SHA-256 in ``attrs["source_sha256"]``.

    Returns
    -------
    xarray.DataArray
        attrs: ``kind`` ("image", "movie", "diffraction", "spectrum", "spectrum image", "4D-STEM"),
        ``pixel_size_nm`` (None for non-square pixels, see ``pixel_size_y_nm`` /
        ``pixel_size_x_nm``), ``voltage_kV``, ``exposure_s``, ``dwell_time_s``,
        ``frame_time_s``, ``camera_length_m``, ``magnification``, ``screen_current_A``,
        ``mode`` (TEM/STEM), ``acquisition_time``, ``source_format``, ``source_name``,
        ``source_sha256``, ``n_signals``, ``notes``.
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist.")
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix in (".h5", ".hdf5", ".nxs"):
        _open_hdf5(path)
    if suffix in (".tif", ".tiff"):
        from battlab.imaging.movie import open_movie

        if pixel_size_nm is None:
            raise MissingDataError(f"{path.name}: give pixel_size_nm= (TIFF stacks rarely carry a TEM calibration).")
        movie = open_movie(path, pixel_size_um=float(pixel_size_nm) / 1e3,
                           frame_rate_fps=1.0 / frame_time_s if frame_time_s else None, hash_source=False)
        notes.extend(movie.attrs.get("notes", []))
        data = movie.mean("channel") if movie.sizes["channel"] > 1 else movie.isel(channel=0, drop=True)
        arr = _open_array(data.data if data.sizes["time"] > 1 else np.asarray(data.data[0]), path=path,
                          pixel_size_nm=pixel_size_nm, frame_time_s=frame_time_s, voltage_kV=voltage_kV,
                          exposure_s=exposure_s, notes=notes)
        if "time" in arr.dims:
            arr = arr.assign_coords(time_s=("time", movie["time_s"].to_numpy()))
        fmt, n_signals = "TIFF", 1
    elif suffix == ".npy":
        from battlab.io.arrays import load_npy

        raw = load_npy(path, max_bytes=math.inf)  # memory-mapped: a series larger than memory stays lazy
        arr = _open_array(raw, path=path, pixel_size_nm=pixel_size_nm, frame_time_s=frame_time_s,
                          voltage_kV=voltage_kV, exposure_s=exposure_s, notes=notes)
        fmt, n_signals = "NumPy .npy", 1
    else:
        reader, fmt = _reader(suffix)
        read_path = path
        if suffix == ".ser":
            emi = path.with_name(path.stem.rsplit("_", 1)[0] + ".emi")
            if emi.exists() and path.stem.endswith("_1"):
                read_path = emi  # the .emi holds the microscope metadata of its first .ser
            elif not emi.exists():
                notes.append("no matching .emi beside the .ser: TIA metadata (voltage, magnification) are missing.")
        if suffix == ".emi" and not list(path.parent.glob(f"{path.stem}_*.ser")):
            raise MissingDataError(f"{path.name}: the image data live in {path.stem}_1.ser, which is not beside it.")
        if suffix == ".emd":
            _check_declared_hdf5(path)
        if suffix == ".mrc":
            _check_declared_mrc(path)
        try:
            signals = reader(str(read_path), lazy=lazy)
        except BattlabError:
            raise
        except MemoryError:
            raise TooLargeError(f"{path.name}: the {fmt} reader ran out of memory; the sizes in its header are "
                                "damaged or the file needs cropping in the vendor software.") from None
        except Exception as exc:  # vendor parsers raise anything on damaged bytes
            raise CorruptFileError(f"{path.name}: the {fmt} reader could not decode it "
                                   f"({type(exc).__name__}: {exc}).") from None
        signals = [s for s in signals if s.get("data") is not None and math.prod(s["data"].shape) > 0]
        if not signals:
            raise MissingDataError(f"{path.name}: the file holds no image or spectrum data.")
        n_signals = len(signals)
        if signal is None:
            signal = 0
        if not 0 <= int(signal) < n_signals:
            raise InvalidParameterError(f"signal {signal} does not exist; {path.name} holds {n_signals}.")
        if n_signals > 1:
            notes.append(f"the file holds {n_signals} signals; signal {int(signal)} was read (signal= picks another).")
        try:
            arr = _from_rsciio(signals[int(signal)], pixel_size_nm=pixel_size_nm, voltage_kV=voltage_kV,
                               frame_time_s=frame_time_s, exposure_s=exposure_s, notes=notes)
        except BattlabError:
            raise
        except (ValueError, OSError) as exc:  # lazy readers meet missing bytes only when small data are loaded
            raise CorruptFileError(f"{path.name}: the {fmt} data could not be read ({type(exc).__name__}: {exc}); "
                                   "the file is probably truncated.") from None
    arr.attrs.update({"kind": _kind(arr), "source_format": fmt, "source_name": path.name,
                      "source_sha256": _sha256(path) if hash_source else None, "n_signals": n_signals,
                      "notes": notes})
    return arr


def open_pattern(path, *, voltage_kV: float | None = None, signal: int | None = None):
    """Open a diffraction pattern: vendor files through :func:`open_tem`; ``.npy``/TIFF
    images as ``("ky", "kx")`` in detector pixels (no real-space calibration needed).
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist.")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".tif", ".tiff"):
        return _vendor_pattern(path, voltage_kV, signal)
    from battlab.io.arrays import load_npy, read_tiff_array

    arr = load_npy(path) if suffix == ".npy" else read_tiff_array(path)
    arr = np.asarray(arr, float)
    if arr.size == 0:
        raise CorruptFileError(f"{path.name} holds no pixels (an array of shape {arr.shape}); the file is damaged or "
                               "was saved empty.")
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., :3].mean(axis=-1)
    if arr.ndim not in (2, 3):
        raise UnsupportedFormatError(f"{path.name}: a diffraction pattern must be a 2-D image (or a (time, y, x) "
                                     f"series), got {arr.shape}.")
    dims = ("ky", "kx") if arr.ndim == 2 else ("time", "ky", "kx")
    coords = {"ky_px": ("ky", np.arange(arr.shape[-2], dtype=float)),
              "kx_px": ("kx", np.arange(arr.shape[-1], dtype=float))}
    if arr.ndim == 3:
        coords["time_s"] = ("time", np.arange(arr.shape[0], dtype=float))
    out = xr.DataArray(arr, dims=dims, name="intensity", coords=coords,
                       attrs={"kind": "diffraction", "units": "counts", "voltage_kV": voltage_kV,
                              "source_format": "NumPy .npy" if suffix == ".npy" else "TIFF", "source_name": path.name,
                              "source_sha256": _sha256(path), "notes": []})
    return out


def _vendor_pattern(path, voltage_kV, signal):
    try:
        return open_tem(path, voltage_kV=voltage_kV, signal=signal)
    except MissingDataError:
        # a pattern stored without any calibration: detector pixels are fine for SAED
        arr = open_tem(path, voltage_kV=voltage_kV, signal=signal, pixel_size_nm=1.0)
        arr = arr.rename({"y": "ky", "x": "kx"}).drop_vars(["y_nm", "x_nm"], errors="ignore")
        arr.attrs["kind"] = "diffraction"
        arr.attrs["notes"] = list(arr.attrs.get("notes", [])) + ["no calibration in the file: radii in detector px."]
        return arr
