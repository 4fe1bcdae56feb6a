"""Azimuthal integration of 2-D detector images to I(2θ) patterns with pyFAI.

The detector geometry comes from a pyFAI ``.poni`` file (from a calibrant, e.g. LaB6 or
CeO2, in pyFAI-calib2): sample–detector distance, point of normal incidence, tilts,
pixel size and the wavelength. pyFAI is an optional dependency (``pip install
battlab[xrd2d]``); without it these functions raise a battlab error saying so.

Images are read read-only: TIFF (tifffile, PILATUS/Eiger/marCCD frames), CBF and EDF
(fabio, installed with pyFAI) or an array given in code. Negative and non-finite pixels
(PILATUS module gaps are -1, bad pixels -2) are masked automatically.
"""

from __future__ import annotations

import io as _io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import (
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)

__all__ = ["IMAGE_EXTENSIONS", "integrate_image", "integrate_images", "load_poni", "read_detector_image"]

#: File endings treated as 2-D detector frames.
IMAGE_EXTENSIONS = (".tif", ".tiff", ".cbf", ".edf")
_UNITS = {"2th_deg": "2th_deg", "q_A^-1": "q_A^-1", "q_nm^-1": "q_nm^-1"}
#: Frames larger than this many pixels are refused (a 16M Eiger frame is 1.8e7).
MAX_PIXELS = 64_000_000


def _pyfai():
    try:
        import pyFAI  # noqa: F401
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    except ImportError as exc:
        raise UnsupportedFormatError(
            "integrating 2-D detector images needs the optional package pyFAI: "
            "pip install 'battlab[xrd2d]' (or integrate with pyFAI-integrate and load the .xy pattern).") from exc
    return AzimuthalIntegrator


def load_poni(poni):
    """A pyFAI ``AzimuthalIntegrator`` from a ``.poni`` file, a geometry dict or an integrator.

    Parameters
    ----------
    poni : path, dict or AzimuthalIntegrator
        A pyFAI PONI file (version 1 or 2), the dict of ``AzimuthalIntegrator.get_config()``,
        or an integrator (used as is).

    Returns
    -------
    pyFAI.integrator.azimuthal.AzimuthalIntegrator
    """
    integrator_cls = _pyfai()
    if isinstance(poni, integrator_cls):
        ai = poni
    elif isinstance(poni, dict):
        ai = integrator_cls()
        try:
            ai.set_config(dict(poni))
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise InvalidParameterError(f"the geometry dict is not a pyFAI configuration ({exc}).") from exc
    elif isinstance(poni, (str, Path)):
        path = Path(poni)
        if not path.is_file():
            raise MissingDataError(f"{path}: no such PONI file.")
        ai = integrator_cls()
        # A new integrator has no cached arrays to free: skip the full gc.collect() pyFAI
        # runs on each geometry change (tens of ms in a process with pandas/xarray loaded).
        ai.auto_gc = False
        try:
            ai.load(str(path))
        except Exception as exc:  # pyFAI raises many kinds on a bad file
            raise CorruptFileError(f"{path.name} is not a readable pyFAI PONI file ({type(exc).__name__}: {exc}).") from exc
        finally:
            ai.auto_gc = True
    else:
        raise InvalidParameterError(f"poni must be a .poni path, a dict or an AzimuthalIntegrator, "
                                    f"not {type(poni).__name__}.")
    if not ai.wavelength:
        raise MissingDataError("the PONI geometry states no wavelength; add a 'Wavelength:' line (in m).")
    if not ai.dist or ai.dist <= 0:
        raise InvalidParameterError("the PONI geometry has no positive sample–detector distance.")
    return ai


def _tiff_time(page):
    """Acquisition time from a TIFF DateTime tag (no time zone: read as UTC)."""
    tag = page.tags.get(306)
    if tag is None or not isinstance(tag.value, str):
        return None
    try:
        return pd.Timestamp(pd.to_datetime(tag.value.strip(), format="%Y:%m:%d %H:%M:%S")).tz_localize("UTC")
    except (ValueError, TypeError):
        return None


def _read_tiff(data: bytes, name: str):
    import tifffile

    notes = []
    try:
        with tifffile.TiffFile(_io.BytesIO(data)) as tif:
            if not tif.pages:
                raise CorruptFileError(f"{name}: a TIFF without images.")
            page = tif.pages[0]
            if len(page.shape) != 2:
                raise UnsupportedFormatError(f"{name}: a detector frame must be one 2-D image, got shape {page.shape}.")
            if int(np.prod(page.shape)) > MAX_PIXELS:
                raise UnsupportedFormatError(f"{name}: {page.shape} pixels is larger than any detector frame "
                                             f"battlab integrates ({MAX_PIXELS:,} pixels).")
            stamp = _tiff_time(page)
            try:
                image = page.asarray()
            except ValueError:
                # Uncompressed frames cut short (a copy that lost its last bytes) keep the
                # pixels that are there; the missing ones are masked and the loss noted.
                if page.compression != 1 or not page.is_contiguous:
                    raise
                offset, count = page.dataoffsets[0], page.databytecounts[0]
                raw = data[offset:offset + count]
                dtype = np.dtype(page.dtype).newbyteorder(tif.byteorder)
                have = len(raw) // dtype.itemsize
                flat = np.full(int(np.prod(page.shape)), np.nan)
                flat[:have] = np.frombuffer(raw[:have * dtype.itemsize], dtype=dtype)
                image = flat.reshape(page.shape)
                notes.append(f"the file is {count - len(raw)} bytes short: the last "
                             f"{flat.size - have} pixel(s) are missing and were masked.")
    except (CorruptFileError, UnsupportedFormatError):
        raise
    except MemoryError as exc:
        raise TooLargeError(f"{name}: not enough memory to decode this TIFF frame.") from exc
    except Exception as exc:  # noqa: BLE001 - tifffile fails on damaged IFDs with struct.error, TypeError...
        raise CorruptFileError(f"{name}: not a readable TIFF detector frame ({type(exc).__name__}: "
                               f"{str(exc)[:200]}).") from exc
    if stamp is not None:
        notes.append("TIFF DateTime has no time zone; read as UTC.")
    return image, stamp, notes


#: Start of the binary data in a CBF section (after its MIME header).
_CBF_STARTER = b"\x0c\x1a\x04\xd5"


def _check_fabio_header(data: bytes, suffix: str, label: str) -> None:
    """Refuse a CBF/EDF frame whose header is damaged before fabio reads it.

    fabio loops forever on a CBF whose binary section lost its start marker (it keeps
    reading past the end of the file for it), searches for that marker in a loop that is
    quadratic in the distance to it, and sizes its buffers from the declared dimensions:
    all three are checked here first.
    """
    import re

    if suffix == ".cbf":
        section = data.find(b"--CIF-BINARY-FORMAT-SECTION--")
        start = data.find(_CBF_STARTER, section) if section >= 0 else -1
        if start < 0:
            raise CorruptFileError(f"{label}: the CBF binary section or the marker that starts its data is missing; "
                                   "the file is truncated or damaged.")
        if start - section > 65536:  # fabio searches for the marker in a quadratic loop
            raise CorruptFileError(f"{label}: the MIME header of the CBF binary section is {start - section:,} bytes "
                                   "long (a few hundred in a real frame); the file is damaged.")
        header = data[section:start]
        dims = [re.search(rb"X-Binary-Size-" + key + rb"-Dimension:\s*(\d+)", header)
                for key in (b"Fastest", b"Second")]
        sizes = [int(m.group(1)) for m in dims if m]
    else:
        end = re.search(rb"}\r?\n", data[:65536])  # the end of the header block, as fabio finds it
        if not data.lstrip()[:1] == b"{" or end is None:
            raise CorruptFileError(f"{label}: not an EDF frame (no '{{ ... }}' header block in its first 64 kB); "
                                   "the file is truncated or damaged.")
        sizes = [int(v) for v in re.findall(rb"\bDim_[123]\s*=\s*(\d+)", data[:end.start()], flags=re.IGNORECASE)]
    if len(sizes) < 2 or min(sizes) < 1:
        raise CorruptFileError(f"{label}: the {suffix} header does not state the frame's dimensions; the file is "
                               "damaged.")
    if math.prod(sizes) > MAX_PIXELS:
        raise TooLargeError(f"{label}: the {suffix} header declares {' × '.join(f'{n:,}' for n in sizes)} pixels, "
                            f"more than any detector frame ({MAX_PIXELS:,}); the file is damaged.")


def read_detector_image(source, *, name: str | None = None):
    """Read one 2-D detector frame (TIFF, CBF, EDF) read-only.

    Parameters
    ----------
    source : path or bytes
        The image file.
    name : str, optional
        File name for bytes input (the ending chooses the reader).

    Returns
    -------
    image : ndarray
        Pixel values as float (missing pixels NaN).
    meta : dict
        ``source_name``, ``sha256``, ``start_time_utc`` (from the file when it says) and ``notes``.
    """
    from battlab.io.registry import DEFAULT_MAX_BYTES, _as_source

    src = _as_source(source, name, DEFAULT_MAX_BYTES)
    label = Path(src.name).name
    suffix = Path(src.name).suffix.lower()
    stamp, notes = None, []
    if suffix in (".tif", ".tiff") or src.data[:4] in (b"II*\x00", b"MM\x00*"):
        image, stamp, notes = _read_tiff(src.data, label)
    elif suffix in (".cbf", ".edf"):
        try:
            import fabio  # noqa: F401  availability check; the CBF/EDF readers are imported below
        except ImportError as exc:
            raise UnsupportedFormatError(f"{label}: CBF/EDF frames need fabio (pip install 'battlab[xrd2d]').") from exc
        import tempfile

        _check_fabio_header(src.data, suffix, label)
        # fabio reads from a file name; a private temporary copy keeps the raw file untouched.
        # The reader is the one the ending names: fabio.open would guess among ~30 formats.
        with tempfile.TemporaryDirectory(prefix="battlab-frame-") as tmp:
            copy = Path(tmp) / f"frame{suffix}"
            copy.write_bytes(src.data)
            try:
                if suffix == ".cbf":
                    from fabio.cbfimage import CbfImage as image_class
                else:
                    from fabio.edfimage import EdfImage as image_class
                frame = image_class()
                frame.read(str(copy))
                image = frame.data
            except MemoryError as exc:
                raise TooLargeError(f"{label}: not enough memory to read this {suffix} frame.") from exc
            except Exception as exc:  # fabio raises many kinds on a damaged file
                raise CorruptFileError(f"{label}: not a readable {suffix} frame ({type(exc).__name__}: "
                                       f"{str(exc)[:200]}).") from exc
            if image is None:
                raise CorruptFileError(f"{label}: the {suffix} file holds no image data.")
    else:
        raise UnsupportedFormatError(f"{label}: not a detector image ({', '.join(IMAGE_EXTENSIONS)}).")
    image = np.asarray(image, dtype=float)
    if image.ndim != 2 or min(image.shape) < 2:
        raise UnsupportedFormatError(f"{label}: a detector frame must be a 2-D image, got shape {image.shape}.")
    meta = {"source_name": src.name, "sha256": src.sha256,
            "start_time_utc": stamp.isoformat() if stamp is not None else None, "notes": notes}
    return image, meta


def _two_theta_range(ai, shape):
    tth = np.asarray(ai.center_array(tuple(shape), unit="2th_deg"), float)
    return float(np.nanmin(tth)), float(np.nanmax(tth))


def integrate_image(image_or_path, *, poni, n_points: int = 2000, unit: str = "2th_deg", mask=None,
                    two_theta_range_deg=None, name: str | None = None):
    """Integrate one 2-D detector image azimuthally into a canonical pattern I(2θ).

    Parameters
    ----------
    image_or_path : ndarray, path or bytes
        The frame, or a TIFF/CBF/EDF file (see :func:`read_detector_image`).
    poni : path, dict or AzimuthalIntegrator
        Detector geometry and wavelength (see :func:`load_poni`).
    n_points : int
        Number of radial bins.
    unit : {"2th_deg", "q_A^-1", "q_nm^-1"}
        Bins of equal width in 2θ (default) or in q; the pattern is always returned over
        ``two_theta_deg`` (q converted with the PONI wavelength).
    mask : ndarray of bool, optional
        Extra pixels to leave out (True = masked, pyFAI's convention). Negative and
        non-finite pixels are always masked.
    two_theta_range_deg : (float, float), optional
        Radial range of the bins; default the whole detector (so frames of one geometry
        share one grid).
    name : str, optional
        File name for bytes input.

    Returns
    -------
    DataArray
        Pattern over ``two_theta_deg`` with ``esd`` (Poisson), ``wavelength_A`` from the
        PONI and ``attrs["battlab"]["poni"]`` holding the geometry. Bins no pixel falls
        into are left out.
    """
    from battlab.diffraction.io import make_pattern

    if unit not in _UNITS:
        raise InvalidParameterError(f"unit must be one of {', '.join(_UNITS)}, not {unit!r}.")
    if int(n_points) < 10:
        raise InvalidParameterError("n_points must be at least 10.")
    ai = load_poni(poni)
    if isinstance(image_or_path, np.ndarray):
        image = np.asarray(image_or_path, dtype=float)
        if image.ndim != 2:
            raise InvalidParameterError(f"an image must be 2-D, got shape {image.shape}.")
        meta = {"source_name": name or "array", "sha256": None, "start_time_utc": None, "notes": []}
    else:
        image, meta = read_detector_image(image_or_path, name=name)
    if ai.detector.max_shape is not None and tuple(ai.detector.max_shape) != image.shape:
        raise InvalidParameterError(f"the image is {image.shape[0]}×{image.shape[1]} pixels but the PONI detector "
                                    f"is {ai.detector.max_shape[0]}×{ai.detector.max_shape[1]}; wrong PONI file?")
    bad = ~np.isfinite(image) | (image < 0)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != image.shape:
            raise InvalidParameterError(f"the mask is {mask.shape} but the image is {image.shape}.")
        bad |= mask
    if bad.all():
        raise MissingDataError(f"{Path(meta['source_name']).name}: every pixel is masked (negative or missing).")
    clean = np.where(bad, 0.0, image)
    lo, hi = two_theta_range_deg or _two_theta_range(ai, image.shape)
    lam_A = float(ai.wavelength) * 1e10
    if unit == "2th_deg":
        radial_range = (lo, hi)
    else:
        q_lo, q_hi = (4 * np.pi / lam_A * np.sin(np.radians(v) / 2) for v in (lo, hi))
        radial_range = (q_lo, q_hi) if unit == "q_A^-1" else (10 * q_lo, 10 * q_hi)
    res = ai.integrate1d(clean, int(n_points), unit=_UNITS[unit], mask=bad.astype(np.int8),
                         radial_range=radial_range, error_model="poisson")
    x = np.asarray(res.radial, float)
    y = np.asarray(res.intensity, float)
    esd = np.asarray(res.sigma, float) if res.sigma is not None else None
    keep = np.isfinite(y)
    if res.count is not None:
        keep &= np.asarray(res.count) > 0
    if keep.sum() < 10:
        raise MissingDataError(f"{Path(meta['source_name']).name}: fewer than 10 radial bins hold pixels; "
                               "check the PONI geometry.")
    if unit != "2th_deg":
        q_A = x if unit == "q_A^-1" else x / 10.0
        x = np.degrees(2 * np.arcsin(np.clip(q_A * lam_A / (4 * np.pi), -1.0, 1.0)))
    notes = list(meta["notes"]) + [f"integrated with pyFAI over {int(bad.sum())} masked of {bad.size} pixels "
                                   f"({n_points} bins in {unit}, solid-angle corrected)."]
    config = {k: (v if not hasattr(v, "name") else str(v)) for k, v in ai.get_config().items()}
    config["detector_config"] = {k: (list(v) if isinstance(v, tuple) else (int(v) if hasattr(v, "value") else v))
                                 for k, v in dict(config.get("detector_config") or {}).items()}
    pmeta = {"format": "pyfai-integrated", "source_name": meta["source_name"], "sha256": meta["sha256"],
             "technique": "xrd", "start_time_utc": meta["start_time_utc"], "notes": notes, "poni": config,
             "poni_file": str(poni) if isinstance(poni, (str, Path)) else None}
    return make_pattern(x[keep], y[keep], esd=None if esd is None else esd[keep], wavelength_A=lam_A, meta=pmeta)


def integrate_images(files, *, poni, timestamps=None, n_points: int = 2000, unit: str = "2th_deg", mask=None):
    """Integrate a series of detector frames into a (time, two_theta_deg) series.

    Parameters
    ----------
    files : path to a folder, or sequence of paths
        The frames (a folder: every TIFF/CBF/EDF in it, sorted by name).
    poni : path, dict or AzimuthalIntegrator
        One geometry for every frame (see :func:`load_poni`).
    timestamps : path or sequence, optional
        A CSV with columns ``file`` and ``time`` (ISO 8601, UTC), or one time per file.
        Default: the TIFF DateTime of each frame.
    n_points, unit, mask
        As in :func:`integrate_image`; all frames share one radial grid.

    Returns
    -------
    DataArray
        Series over ``(time, two_theta_deg)`` with the PONI wavelength.
    """
    from battlab.diffraction.io import stack_patterns
    from battlab.series import times_for

    if isinstance(files, (str, Path)):
        folder = Path(files)
        if folder.is_file():
            paths = [folder]
        elif folder.is_dir():
            paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            raise MissingDataError(f"{folder}: no such file or folder.")
    else:
        paths = [Path(p) for p in files]
    if not paths:
        raise MissingDataError(f"no detector images ({', '.join(IMAGE_EXTENSIONS)}) found in {files}.")
    ai = load_poni(poni)
    shape = ai.detector.max_shape
    if shape is None:
        shape = read_detector_image(paths[0])[0].shape
    rng = _two_theta_range(ai, tuple(shape))  # one radial grid for every frame
    pats = [integrate_image(p, poni=ai, n_points=n_points, unit=unit, mask=mask, two_theta_range_deg=rng)
            for p in paths]
    if isinstance(poni, (str, Path)):
        for p in pats:
            p.attrs["battlab"]["poni_file"] = str(poni)
    times = times_for(paths, timestamps, pats, label="images")
    if len(pats) == 1 and times[0] is None:
        pats[0].attrs["battlab"]["notes"].append("no acquisition time in the image; time set to 1970-01-01.")
        times = ["1970-01-01T00:00:00Z"]
    return stack_patterns(pats, times=times)

