"""Open tomography volumes lazily as calibrated ``(z, y, x)`` DataArrays.

Every reader returns the same thing: a dask-backed ``xarray.DataArray`` with dims
``("z", "y", "x")``, coordinates ``z_um``, ``y_um``, ``x_um`` and attrs ``units``,
``voxel_size_um`` (z, y, x), ``source_format``, ``source_name``, ``source_sha256``,
``notes`` and ``battlab`` (the provenance summary). Nothing is read until a slice or a
reduction asks for it, so a volume larger than memory can be viewed and analysed chunk
by chunk.

Inputs: multi-page TIFF / OME-TIFF and folders of TIFF slices (through
:func:`battlab.imaging.open_movie`, one slice per page), HDF5 / NeXus datasets (h5py,
read slab by slab), zarr arrays, NumPy ``.npy`` files (memory-mapped), MetaImage
``.mhd`` headers with their raw data, and headerless raw files with an explicit shape
and dtype.

The voxel size is a required, visible input: it is taken from ``voxel_size_um`` when
given, else from the file (OME/ImageJ TIFF calibration, an HDF5/zarr attribute
``voxel_size_um`` or ``element_size_um``, MetaImage ``ElementSpacing`` in mm), else the
reader refuses with a message saying how to give it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from battlab.errors import (BattlabError, CorruptFileError, InvalidParameterError, MissingDataError, TooLargeError,
                            UnsupportedFormatError)

__all__ = ["open_volume", "make_volume", "write_zarr_volume", "describe_volume", "describe_volume_text",
           "volume_info_text", "VOLUME_SUFFIXES"]

VOLUME_SUFFIXES = (".tif", ".tiff", ".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".emd", ".zarr", ".npy", ".mhd",
                   ".raw", ".vol", ".bin")
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".emd")
_VOXEL_ATTRS = ("voxel_size_um", "element_size_um")
_MHD_TYPES = {"MET_UCHAR": "u1", "MET_CHAR": "i1", "MET_USHORT": "u2", "MET_SHORT": "i2", "MET_UINT": "u4",
              "MET_INT": "i4", "MET_FLOAT": "f4", "MET_DOUBLE": "f8", "MET_ULONG": "u8", "MET_LONG": "i8"}
#: A volume declaring more than these is a damaged header, not a tomogram: it is refused
#: before a dask graph (one task per chunk) or a slice buffer is built from the declared size.
MAX_AXIS_VOXELS = 2**24
MAX_DECLARED_BYTES = 2**44  # 16 TiB
MAX_SLICE_BYTES = 4 * 1024**3  # one (y, x) slice is read at once
#: More stored chunks than this are read in dask's own (~128 MB) blocks of whole chunks.
MAX_STORED_CHUNKS = 10_000
_HINT = ("battlab reads TIFF/OME-TIFF stacks, folders of TIFF slices, HDF5/NeXus, zarr, .npy, MetaImage .mhd "
         "and raw files with shape= and dtype=")


# --------------------------------------------------------------------------- voxel size
def _voxel_tuple(value, where="voxel_size_um"):
    """(dz, dy, dx) in µm from a number or three numbers; None stays None."""
    if value is None:
        return None
    try:
        vals = [float(v) for v in (value if np.ndim(value) else [value])]
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{where} must be a number of micrometres or three (z, y, x), got {value!r}.") \
            from None
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3 or not all(np.isfinite(v) and v > 0 for v in vals):
        raise InvalidParameterError(f"{where} must be one positive number of micrometres or three (z, y, x), "
                                    f"got {value!r}.")
    return tuple(vals)


def _require_voxel(given, from_file, name, notes):
    if given is not None:
        if from_file is not None and not np.allclose(given, from_file, rtol=0.01):
            notes.append(f"the file declares a voxel size of {from_file} µm; {given} µm (given) was used.")
        return given
    if from_file is not None:
        notes.append(f"voxel size {from_file} µm taken from the file.")
        return from_file
    raise InvalidParameterError(
        f"{name} does not state its voxel size: give voxel_size_um= (µm per voxel, one number for cubic voxels "
        "or three for z, y, x), from the reconstruction log or the instrument's pixel size divided by the "
        "geometric magnification (see battlab.xrm.effective_pixel_size_um).")


# --------------------------------------------------------------------------- wrapping
def make_volume(array, *, voxel_size_um, name: str = "intensity", units: str = "a.u.", source_format: str = "array",
                source_name: str = "array", source_sha256: str | None = None, notes=None):
    """Wrap a 3-D NumPy or dask array as a calibrated ``(z, y, x)`` volume.

    Parameters
    ----------
    array : array-like, 3-D
        Voxel values ordered (z, y, x).
    voxel_size_um : float or (float, float, float)
        Voxel size in micrometres, cubic or (z, y, x).
    name, units : str
        Name and units of the values.

    Returns
    -------
    xarray.DataArray
    """
    import xarray as xr

    vox = _voxel_tuple(voxel_size_um)
    if vox is None:
        raise InvalidParameterError("voxel_size_um is required (µm per voxel).")
    if getattr(array, "ndim", np.ndim(array)) != 3:
        raise InvalidParameterError(f"a volume must be 3-D (z, y, x), got shape {np.shape(array)}.")
    nz, ny, nx = array.shape
    vol = xr.DataArray(
        array, dims=("z", "y", "x"), name=name,
        coords={"z_um": ("z", np.arange(nz) * vox[0]), "y_um": ("y", np.arange(ny) * vox[1]),
                "x_um": ("x", np.arange(nx) * vox[2])},
        attrs={"units": units, "voxel_size_um": vox, "source_format": source_format, "source_name": source_name,
               "source_sha256": source_sha256, "notes": list(notes or []),
               "battlab": {"source_name": source_name, "sha256": source_sha256, "format": source_format}})
    for c in ("z_um", "y_um", "x_um"):
        vol[c].attrs["units"] = "µm"
    return vol


def write_zarr_volume(volume, path, *, chunks=(64, 64, 64)):
    """Write a volume (NumPy, dask or DataArray) to a zarr store with its voxel size.

    Parameters
    ----------
    volume : DataArray or array
        A DataArray from :func:`open_volume`/:func:`make_volume` keeps its voxel size.
    path : path
        The ``.zarr`` folder to create (an existing store is refused).
    chunks : tuple of int
        Chunk shape on disk (z, y, x).
    """
    import dask.array as da
    import zarr

    path = Path(path)
    if path.exists():
        raise InvalidParameterError(f"{path} exists; battlab does not overwrite a volume, choose a new path.")
    data = getattr(volume, "data", volume)
    arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks=chunks)
    arr = arr.rechunk(chunks)
    store = zarr.open_array(str(path), mode="w", shape=arr.shape, chunks=chunks, dtype=arr.dtype)
    vox = getattr(volume, "attrs", {}).get("voxel_size_um")
    if vox is not None:
        store.attrs["voxel_size_um"] = [float(v) for v in vox]
    da.store(arr, store, lock=False)
    return path


def _check_declared(name, shape, dtype, *, slice_shape=None):
    """Refuse a declared shape no acquisition has (a damaged size field), before it is used."""
    shape = tuple(int(n) for n in shape)
    itemsize = max(np.dtype(dtype).itemsize, 1)
    if any(n > MAX_AXIS_VOXELS for n in shape):
        raise TooLargeError(f"{name} declares an axis of {max(shape):,} voxels, which is not a real volume; the file "
                            "is damaged and was refused unread.")
    if math.prod(shape) * itemsize > MAX_DECLARED_BYTES:
        raise TooLargeError(f"{name} declares {math.prod(shape) * itemsize / 1e12:,.0f} TB, which is not a real "
                            "volume; the file is damaged and was refused unread.")
    if slice_shape is not None and math.prod(int(n) for n in slice_shape) * itemsize > MAX_SLICE_BYTES:
        raise TooLargeError(f"{name}: one slice declares {math.prod(int(n) for n in slice_shape) * itemsize / 1e9:,.1f}"
                            f" GB, above battlab's {MAX_SLICE_BYTES / 1e9:.0f} GB per slice; the file is damaged or "
                            "needs cropping before it is opened.")


# --------------------------------------------------------------------------- TIFF
def _check_tiff_declared(path):
    """A first page declaring an absurd width or height is refused before open_movie builds
    its coordinates (and page buffers) from it."""
    import tifffile

    first = _tiff_files(path)[:1]
    try:
        with tifffile.TiffFile(first[0]) as tif:
            page = tif.pages[0]
            shape, dtype = tuple(int(n) for n in page.shape), page.dtype
    except Exception:  # noqa: BLE001 - a damaged TIFF is reported by the reader proper
        return
    if dtype is not None and shape:
        _check_declared(Path(path).name, (1, *shape), dtype, slice_shape=shape)


def _tiff_volume(path, vox, notes):
    from battlab.imaging.movie import open_movie

    _check_tiff_declared(path)
    # open_movie calibrates x/y only; a placeholder size is replaced below.
    try:
        movie = open_movie(path, pixel_size_um=vox[1] if vox else 1.0, hash_source=False)
    except BattlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile fails on some damaged IFDs with TypeError
        raise CorruptFileError(f"{Path(path).name} is not a readable TIFF stack ({type(exc).__name__}: "
                               f"{str(exc)[:120]}); the file is damaged.") from None
    if movie.sizes["channel"] != 1:
        raise UnsupportedFormatError(f"{Path(path).name} holds {movie.sizes['channel']} colour channels per slice; "
                                     "a tomography volume has one value per voxel. Export greyscale slices.")
    meta = movie.attrs.get("metadata_pixel_size_um")
    from_file = (meta, meta, meta) if meta else None
    notes.extend(n for n in movie.attrs.get("notes", []) if "time" not in n)
    files = movie.attrs["source_name"]
    fmt = movie.attrs["source_format"]
    return movie.data[..., 0], from_file, fmt if fmt in ("TIFF", "OME-TIFF") else "TIFF slices", files


def _tiff_files(path):
    from battlab.imaging.movie import _natural_key

    if path.is_dir():
        return sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in (".tif", ".tiff")), key=lambda p: _natural_key(p.name))
    return [path]


# --------------------------------------------------------------------------- HDF5
class _H5Slab:
    """Array-like view of an HDF5 dataset: each read opens the file and reads one slab.

    Holding no open handle keeps the dask graph picklable (distributed workers) and
    means a chunk read never loads more than the requested slab.
    """

    def __init__(self, path, dataset, shape, dtype):
        self.path, self.dataset = str(path), dataset
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)

    def __getitem__(self, key):
        import h5py

        try:
            with h5py.File(self.path, "r") as fh:
                return fh[self.dataset][key]
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(f"{Path(self.path).name}: {self.dataset} cannot be read ({exc}); the file is "
                                   "damaged or was changed since it was opened.") from None


class _GuardedReads:
    """Array-like view whose reads turn a library's exception into CorruptFileError."""

    def __init__(self, array, name):
        self.array, self.name = array, name
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), len(array.shape)

    def __getitem__(self, key):
        try:
            return self.array[key]
        except Exception as exc:  # noqa: BLE001 - zarr's codecs raise many types on damaged chunks
            raise CorruptFileError(f"{self.name}: a chunk cannot be read ({type(exc).__name__}: {str(exc)[:120]}); "
                                   "the store is damaged.") from None


def _h5_candidates(fh):
    """3-D (or 2-D) datasets reachable by hard links, largest first."""
    import h5py

    from battlab.diffraction.io import _h5_groups

    found = []
    for group in _h5_groups(fh, depth=6):
        for key in list(group.keys())[:200]:
            try:
                link = group.get(key, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    continue
                obj = group[key]
            except (KeyError, OSError, ValueError, RuntimeError):
                continue
            if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3) and obj.dtype.kind in "uif" \
                    and sorted(obj.shape)[-2] >= 8:  # image-like: two axes of 8+ (not a metadata column)
                found.append(obj)
    return sorted(found, key=lambda d: -int(np.prod(d.shape)))


def _h5_volume(path, dataset, vox, notes):
    try:
        return _h5_open(path, dataset, notes)
    except (RuntimeError, ValueError, KeyError, TypeError, OSError) as exc:
        # A damaged object header or heap surfaces as any of these from h5py.
        raise CorruptFileError(f"{path.name}: the HDF5 structure is damaged ({exc}); copy the file again.") from None


def _h5_open(path, dataset, notes):
    import h5py

    from battlab.diffraction.io import _h5_external_links, _h5_groups

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"{path.name} is not a readable HDF5 file ({exc}); check the copy is complete.") \
            from None
    with fh:
        if dataset is not None:
            try:
                link = fh.get(dataset, getlink=True)
            except (KeyError, OSError, ValueError, RuntimeError):
                link = None
            if link is None:
                raise MissingDataError(f"{path.name} has no dataset {dataset!r}; list its datasets with h5py "
                                       "(h5py.File(path).visit(print)) and pass one as dataset=.")
            if isinstance(link, h5py.ExternalLink):
                target = Path(path).parent / link.filename
                if not target.is_file():
                    raise MissingDataError(
                        f"{path.name}: {dataset} is an external link to {link.filename}, which is not next to the "
                        "file. Copy the data file(s) beside the master file, or open the data file directly.")
            try:
                obj = fh[dataset]
            except (KeyError, OSError, ValueError, RuntimeError) as exc:
                raise MissingDataError(f"{path.name}: {dataset} cannot be opened ({exc}); a linked data file is "
                                       "missing or damaged.") from None
            if not isinstance(obj, h5py.Dataset):
                raise InvalidParameterError(f"{path.name}: {dataset} is a group, not a dataset; name the array "
                                            "inside it.")
        else:
            # A NeXus master keeps its frames in linked data files: when such a link is
            # broken, the volume is missing, and a small mask array must not stand in for it.
            broken = [(name, target) for name, target in _h5_external_links(_h5_groups(fh, depth=6))
                      if not (Path(path).parent / target).is_file()]
            cands = [] if broken else _h5_candidates(fh)
            if broken:
                raise MissingDataError(
                    f"{path.name}: its data are in linked file(s) that are missing ({broken[0][0]} -> "
                    f"{broken[0][1]}). Copy the data file(s) beside this master file, or open a data file itself.")
            if not cands:
                raise MissingDataError(f"{path.name} holds no 2-D or 3-D numeric dataset; {_HINT}.")
            obj = cands[0]
            if len(cands) > 1:
                notes.append(f"opened {obj.name} (the largest image dataset); pass dataset= to choose another.")
        if obj.dtype.kind not in "uif":
            raise UnsupportedFormatError(f"{path.name}: {obj.name} holds {obj.dtype} values, not numbers.")
        _check_declared(path.name, obj.shape, obj.dtype)
        if obj.chunks is not None:
            n_declared = math.prod(-(-int(n) // max(int(c), 1)) for n, c in zip(obj.shape, obj.chunks))
            # HDF5 walks its chunk index for every declared chunk it reads, stored or not: a
            # damaged dimension declaring a million absent chunks takes minutes to read.
            if n_declared > MAX_STORED_CHUNKS and n_declared > 16 * obj.id.get_num_chunks():
                raise CorruptFileError(f"{path.name}: {obj.name} declares {n_declared:,} chunks but the file stores "
                                       f"{obj.id.get_num_chunks():,}; the file is damaged or was not completely "
                                       "written.")
        from_file = None
        for key in _VOXEL_ATTRS:
            if key in obj.attrs:
                from_file = _voxel_tuple(np.asarray(obj.attrs[key]).tolist(), f"{obj.name} attribute {key}")
                break
        return _H5Slab(path, obj.name, obj.shape, obj.dtype), obj.chunks, from_file


# --------------------------------------------------------------------------- zarr, npy, raw
def _zarr_volume(path, dataset):
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several types for a damaged store
        raise CorruptFileError(f"{path.name} is not a readable zarr store ({exc}).") from None
    if dataset is not None:
        try:
            node = node[dataset]
        except (KeyError, TypeError):
            raise MissingDataError(f"{path.name} has no array {dataset!r}.") from None
    if not hasattr(node, "shape"):
        arrays = [name for name, _ in node.arrays()] if hasattr(node, "arrays") else []
        raise MissingDataError(f"{path.name} is a zarr group; pass dataset= one of {arrays}.")
    from_file = None
    for key in _VOXEL_ATTRS:
        if key in node.attrs:
            from_file = _voxel_tuple(node.attrs[key], f"zarr attribute {key}")
            break
    return node, from_file


def _count_files(folder, *, stop):
    """Files under ``folder``, counted up to ``stop`` (zarr's own count visits every declared
    chunk key, which for a damaged shape is billions)."""
    import os

    count = 0
    for _, _, names in os.walk(folder):
        count += len(names)
        if count >= stop:
            break
    return count


def _mhd_header(path):
    fields = {}
    for line in path.read_text(errors="replace").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip()
    try:
        dims = [int(v) for v in fields["DimSize"].split()]
        dtype = np.dtype(_MHD_TYPES[fields["ElementType"]])
        data_file = fields["ElementDataFile"]
    except (KeyError, ValueError):
        raise CorruptFileError(f"{path.name}: a MetaImage header needs DimSize, ElementType (MET_UCHAR, MET_USHORT, "
                               "MET_FLOAT, …) and ElementDataFile.") from None
    if len(dims) != 3:
        raise UnsupportedFormatError(f"{path.name}: DimSize has {len(dims)} numbers; a volume has three.")
    if fields.get("BinaryDataByteOrderMSB", fields.get("ElementByteOrderMSB", "False")).lower() == "true":
        dtype = dtype.newbyteorder(">")
    spacing = None
    try:
        if "ElementSpacing" in fields:
            sx, sy, sz = (float(v) for v in fields["ElementSpacing"].split()[:3])
            spacing = _voxel_tuple((sz * 1e3, sy * 1e3, sx * 1e3), "ElementSpacing")  # in mm, x first
        offset = int(fields.get("HeaderSize", "0") or 0)
    except (ValueError, InvalidParameterError):
        # A damaged header line (a non-number, fewer than three spacings) is not a volume to guess at.
        raise CorruptFileError(f"{path.name}: ElementSpacing must be three positive numbers (mm) and HeaderSize "
                               "a byte count; the header is damaged.") from None
    if offset < 0:
        raise UnsupportedFormatError(f"{path.name}: HeaderSize {offset} (data at the end of the file) is not "
                                     "supported; give the header size in bytes.")
    if data_file.upper() == "LOCAL":
        raise UnsupportedFormatError(f"{path.name}: data embedded in the header (LOCAL) is not supported; save as "
                                     ".mhd + .raw.")
    return path.parent / data_file, (dims[2], dims[1], dims[0]), dtype, offset, spacing


def _raw_memmap(path, shape, dtype, offset):
    if shape is None or dtype is None:
        raise InvalidParameterError(f"{path.name} is a headerless raw file: give shape=(nz, ny, nx) and dtype= "
                                    "(e.g. 'uint16', '>f4') from the reconstruction log, or a MetaImage .mhd header.")
    try:
        shape = tuple(int(v) for v in shape)
        dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"shape must be three integers and dtype a NumPy type, got {shape!r}, "
                                    f"{dtype!r}.") from None
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidParameterError(f"shape must be three positive integers (nz, ny, nx), got {shape}.")
    need = math.prod(shape) * dtype.itemsize + int(offset)  # Python ints: a damaged shape cannot overflow
    size = path.stat().st_size
    if size < need:
        raise CorruptFileError(f"{path.name} holds {size:,} bytes but shape {shape} of {dtype} needs {need:,}; "
                               "check shape, dtype and offset_bytes.")
    return np.memmap(path, mode="r", dtype=dtype, shape=shape, offset=int(offset))


# --------------------------------------------------------------------------- entry point
def _kind(path):
    name = path.name.lower()
    if path.is_dir():
        if name.endswith(".zarr") or any((path / m).exists() for m in (".zarray", ".zgroup", "zarr.json")):
            return "zarr"
        return "tiff-folder"
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise CorruptFileError(f"{path.name} is empty (0 bytes); copy the file again.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    from battlab.diffraction.io import _is_hdf5

    with open(path, "rb") as fh:
        if _is_hdf5(fh.read(32776)):
            return "hdf5"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if name.endswith(".mhd"):
        return "mhd"
    if name.endswith((".raw", ".vol", ".bin", ".dat")):
        return "raw"
    if name.endswith((".tif", ".tiff")):
        raise CorruptFileError(f"{path.name} has a TIFF name but not a TIFF header; the file is damaged.")
    raise UnsupportedFormatError(f"{path.name}: not a volume format battlab recognises; {_HINT}.")


def _open_lazy(path, *, given, dataset, axes, shape, dtype, offset_bytes, chunks):
    """The stored array as lazy dask (z, y, x), the file's voxel size (or None), format, files, notes."""
    import dask.array as da

    if sorted(str(axes).lower()) != ["x", "y", "z"]:
        raise InvalidParameterError(f"axes must name z, y and x once each (e.g. 'zyx' or 'yxz'), got {axes!r}.")
    axes = str(axes).lower()
    notes: list[str] = []
    kind = _kind(path)
    files = [path]
    stored = None  # chunk shape on disk, when the format has one
    if kind in ("tiff", "tiff-folder"):
        if kind == "tiff-folder" and not _tiff_files(path):
            raise MissingDataError(f"folder {path.name} holds no TIFF slices or zarr store; {_HINT}.")
        data, from_file, fmt, _ = _tiff_volume(path, given, notes)
        files = _tiff_files(path)
        if axes != "zyx":
            notes.append("axes= is ignored for TIFF stacks: one page is one z slice.")
            axes = "zyx"
    elif kind == "hdf5":
        slab, stored_chunks, from_file = _h5_volume(path, dataset, given, notes)
        if slab.ndim == 2:
            notes.append("the dataset is 2-D: opened as a volume of one slice.")
            axes = "".join(a for a in axes if a != "z")
        _check_declared(path.name, slab.shape, slab.dtype)
        auto = chunks or (tuple(max(c, 1) for c in stored_chunks) if stored_chunks else "auto")
        if chunks is None and stored_chunks and math.prod(-(-int(n) // max(int(c), 1)) for n, c in
                                                          zip(slab.shape, stored_chunks)) > MAX_STORED_CHUNKS:
            # Small stored chunks: each dask task opens the file, so tasks of ~128 MB made of
            # whole stored chunks keep a read from becoming millions of tasks.
            auto = da.core.normalize_chunks("auto", slab.shape, dtype=slab.dtype, previous_chunks=stored_chunks)
        data = da.from_array(slab, chunks=auto, lock=False, asarray=True, fancy=False,
                             name=f"battlab-h5-{path.name}-{slab.dataset}-{path.stat().st_mtime_ns}")
        if slab.ndim == 2:
            data = data[None]
            axes = "z" + axes
        fmt, stored = "HDF5", stored_chunks
    elif kind == "zarr":
        node, from_file = _zarr_volume(path, dataset)
        _check_declared(path.name, node.shape, node.dtype)
        zchunks = chunks
        n_declared = math.prod(-(-int(n) // max(int(c), 1)) for n, c in zip(node.shape, node.chunks))
        if n_declared > MAX_STORED_CHUNKS:
            # As for HDF5: a damaged shape declaring millions of absent chunks is refused, and
            # many small stored chunks are read in ~128 MB blocks (one dask task each).
            stored_files = _count_files(path / dataset if dataset and (path / dataset).is_dir() else path,
                                        stop=n_declared // 16 + 1)
            if 16 * stored_files < n_declared:
                raise CorruptFileError(f"{path.name} declares {n_declared:,} chunks but stores {stored_files:,} "
                                       "files; the store is damaged or incomplete.")
            zchunks = chunks or da.core.normalize_chunks("auto", node.shape, dtype=node.dtype,
                                                         previous_chunks=node.chunks)
        # Chunks are decoded lazily: a damaged store must fail then with battlab's error too.
        data = da.from_array(_GuardedReads(node, path.name), chunks=zchunks or node.chunks, lock=False,
                             asarray=True, fancy=False, name=f"battlab-zarr-{path}-{dataset}-{path.stat().st_mtime_ns}")
        fmt = "zarr"
        stored = node.chunks
    elif kind == "npy":
        from battlab.io.arrays import load_npy

        arr = load_npy(path, max_bytes=math.inf)  # memory-mapped: read chunk by chunk below
        data, from_file, fmt = da.from_array(arr, chunks=chunks or "auto"), None, "NumPy .npy"
    elif kind == "mhd":
        raw_path, shp, dt, off, from_file = _mhd_header(path)
        try:
            found = raw_path.is_file()
        except OSError:  # a damaged ElementDataFile line can be a name longer than the system allows
            raise CorruptFileError(f"{path.name}: ElementDataFile is not a usable file name; the header is "
                                   "damaged.") from None
        if not found:
            raise MissingDataError(f"{path.name} points to {raw_path.name}, which is not beside it.")
        data = da.from_array(_raw_memmap(raw_path, shp, dt, off), chunks=chunks or "auto")
        fmt, files = "MetaImage", [path, raw_path]
    else:
        data = da.from_array(_raw_memmap(path, shape, dtype, offset_bytes), chunks=chunks or "auto")
        from_file, fmt = None, "raw"
    if data.ndim != 3:
        raise UnsupportedFormatError(f"{path.name}: the data are {data.ndim}-D; a volume is 3-D (z, y, x).")
    if axes != "zyx":
        data = data.transpose([axes.index(a) for a in "zyx"])
    _check_declared(path.name, data.shape, data.dtype, slice_shape=data.shape[1:])
    return data, from_file, fmt, files, notes, stored


def open_volume(path, *, voxel_size_um=None, dataset: str | None = None, axes: str = "zyx", shape=None, dtype=None,
                offset_bytes: int = 0, chunks=None, hash_source: bool = True):
    """Open a tomography volume lazily as ``(z, y, x)`` with physical coordinates.

    Parameters
    ----------
    path : path
        Multi-page TIFF / OME-TIFF, folder of TIFF slices, HDF5/NeXus file, zarr store,
        ``.npy``, MetaImage ``.mhd`` or headerless raw file.
    voxel_size_um : float or (float, float, float)
        Voxel size in micrometres (one number for cubic voxels, or z, y, x). Required
        unless the file states it; a given value wins over the file's.
    dataset : str, optional
        HDF5 dataset or zarr array path inside the file (default: the largest 2-D/3-D
        numeric dataset reachable without following external links).
    axes : str
        Order of the stored axes as letters ``z``, ``y``, ``x`` (e.g. ``"yxz"`` for a
        stack stored with slices last). TIFF stacks are always ``zyx`` (slice per page).
    shape, dtype : optional
        Headerless raw files only: ``(nz, ny, nx)`` and the NumPy dtype (byte order
        included, e.g. ``">u2"``). ``offset_bytes`` skips a header.
    chunks : tuple or str, optional
        dask chunks; default one slab per stored chunk or about 64 MB.
    hash_source : bool
        Hash the input for ``attrs["source_sha256"]`` (streamed, ~1 s per GB; zarr
        stores and folders are not hashed).

    Returns
    -------
    xarray.DataArray
        Dask-backed ``(z, y, x)`` volume; attrs ``voxel_size_um`` (z, y, x), ``units``,
        ``source_format``, ``source_name``, ``source_sha256``, ``notes``.
    """
    path = Path(path)
    given = _voxel_tuple(voxel_size_um)
    data, from_file, fmt, files, notes, _ = _open_lazy(path, given=given, dataset=dataset, axes=axes, shape=shape,
                                                       dtype=dtype, offset_bytes=offset_bytes, chunks=chunks)
    kind = _kind(path)
    hash_source = hash_source and kind not in ("zarr",)
    vox = _require_voxel(given, from_file, path.name, notes)
    sha = None
    if hash_source:
        from battlab.imaging.movie import _sha256

        sha = _sha256(files)
    units = "counts" if np.dtype(data.dtype).kind in "ui" else "a.u."
    name = path.name if len(files) == 1 or kind == "mhd" else f"{path.name}/ ({len(files)} files)"
    return make_volume(data, voxel_size_um=vox, units=units, source_format=fmt, source_name=name,
                       source_sha256=sha, notes=notes)


# --------------------------------------------------------------------------- describe without reading
def describe_volume(path, *, voxel_size_um=None, dataset: str | None = None, axes: str = "zyx", shape=None,
                    dtype=None, offset_bytes: int = 0) -> dict:
    """What a volume file holds, from its header only (no voxel is read).

    Parameters
    ----------
    path : path
        Any input :func:`open_volume` reads.
    voxel_size_um, dataset, axes, shape, dtype, offset_bytes
        As for :func:`open_volume`; the voxel size is optional here (reported as
        unknown when neither given nor stated in the file).

    Returns
    -------
    dict
        ``format``, ``shape`` (z, y, x), ``dtype``, ``nbytes``, ``voxel_size_um`` (or None),
        ``voxel_size_source`` ("file", "given" or None), ``stored_chunks`` (on-disk chunk
        shape, or None for contiguous/page-wise storage), ``dask_chunks`` (the chunk shape
        battlab processes), ``files`` and ``notes``.
    """
    path = Path(path)
    given = _voxel_tuple(voxel_size_um)
    data, from_file, fmt, files, notes, stored = _open_lazy(path, given=given, dataset=dataset, axes=axes,
                                                            shape=shape, dtype=dtype, offset_bytes=offset_bytes,
                                                            chunks=None)
    vox, src = (given, "given") if given is not None else ((from_file, "file") if from_file is not None
                                                           else (None, None))
    return {"format": fmt, "shape": tuple(int(n) for n in data.shape), "dtype": str(np.dtype(data.dtype)),
            "nbytes": int(data.nbytes), "voxel_size_um": vox, "voxel_size_source": src,
            "stored_chunks": tuple(int(c) for c in stored) if stored else None,
            "dask_chunks": tuple(int(c[0]) for c in data.chunks), "files": [Path(f).name for f in files],
            "notes": notes}


def describe_volume_text(path, **options) -> str:
    """:func:`describe_volume` as the lines ``battlab info`` prints."""
    info = describe_volume(path, **options)
    nz, ny, nx = info["shape"]
    size = info["nbytes"]
    size_txt = f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"
    lines = [f"file:       {Path(path).name}" + (f" ({len(info['files'])} files)" if len(info["files"]) > 2 else ""),
             f"format:     {info['format']} volume",
             f"shape:      {nz} × {ny} × {nx} voxels (z, y, x), {info['dtype']}, {size_txt} uncompressed"]
    if info["voxel_size_um"] is None:
        lines.append("voxel size: not stated in the file; give it (battlab xrm --voxel-um, "
                     "open_volume(voxel_size_um=...))")
    else:
        dz, dy, dx = info["voxel_size_um"]
        lines.append(f"voxel size: {dz:.4g} × {dy:.4g} × {dx:.4g} µm (z, y, x), {info['voxel_size_source']}; "
                     f"extent {nz * dz:.4g} × {ny * dy:.4g} × {nx * dx:.4g} µm")
    stored = info["stored_chunks"]
    lines.append("chunks:     " + (" × ".join(map(str, stored)) + " on disk" if stored else
                                   ("one page per slice" if "TIFF" in info["format"] else "contiguous on disk"))
                 + "; processed in " + " × ".join(map(str, info["dask_chunks"])) + " blocks")
    lines += [f"note:       {n}" for n in info["notes"]]
    return "\n".join(lines)


def volume_info_text(path) -> str | None:
    """``battlab info`` text when ``path`` is a volume, else None (another reader's file).

    Decided from the path and the first 64 kB only, so a volume larger than memory is
    described without being read. An HDF5 file counts as a volume when it holds a 3-D
    numeric dataset or external links to missing frame files (an HDF5 series of 1-D
    patterns stays with its own reader).
    """
    path = Path(path)
    if path.is_dir():
        return describe_volume_text(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    from battlab.io.registry import detect

    with open(path, "rb") as fh:
        head = fh.read(65536)
    try:
        fmt = detect(head, name=str(path))
    except Exception:  # noqa: BLE001 - unknown here means: let the generic path report it
        return None
    if fmt.kind == "volume":
        return describe_volume_text(path)
    if fmt.name == "xrd-hdf5":
        try:
            import h5py

            from battlab.diffraction.io import _h5_external_links, _h5_groups

            with h5py.File(path, "r") as fh:
                # A detector master file whose frame files are missing is refused here with
                # what to copy, rather than described as a diffraction file without axes.
                broken = any(not (path.parent / target).is_file()
                             for _, target in _h5_external_links(_h5_groups(fh, depth=6)))
                is_volume = broken or any(d.ndim == 3 for d in _h5_candidates(fh))
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, ImportError):
            is_volume = False
        return describe_volume_text(path) if is_volume else None
    return None


# --------------------------------------------------------------------------- registry
def _read_registered(source, **options):
    """Registry reader: volumes open lazily from their path (they can be larger than memory)."""
    path = Path(source.name)
    if not path.exists():
        raise UnsupportedFormatError(f"{path.name} is a volume; volumes are opened lazily from a file on disk: save "
                                     "it and call battlab.xrm.open_volume(path, voxel_size_um=...).")
    return open_volume(path, **options)


def _register_formats():
    from battlab.io.registry import Format, register

    def suffix(name):
        return Path(name).suffix.lower()

    def sniff_tiff(head, name):
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return 0.5 if suffix(name) in (".tif", ".tiff") else 0.3
        return 0.0

    def sniff_npy(head, name):
        if head[:6] != b"\x93NUMPY":
            return 0.0
        text = head[:4096].decode("latin-1")
        return 0.9 if "'shape': (" in text and text.split("'shape': (", 1)[1].split(")")[0].count(",") == 2 else 0.4

    def sniff_mhd(head, name):
        return 0.95 if b"ElementDataFile" in head and b"DimSize" in head else (0.4 if suffix(name) == ".mhd" else 0.0)

    def sniff_hdf5(head, name):
        from battlab.diffraction.io import _is_hdf5

        # Below the diffraction reader's 0.6: an HDF5 series of patterns keeps its reader in
        # battlab.load; `battlab info` looks inside for a 3-D dataset (volume_info_text).
        return 0.55 if _is_hdf5(head) else 0.0

    def sniff_raw(head, name):
        return 0.2 if suffix(name) in (".raw", ".vol", ".bin") else 0.0

    register(Format("volume-tiff", "a multi-page TIFF / OME-TIFF volume (one slice per page)", "volume",
                    (".tif", ".tiff", ".ome.tif"), sniff_tiff, _read_registered, requires=("tifffile",)))
    register(Format("volume-hdf5", "a volume in HDF5/NeXus (read slab by slab)", "volume",
                    _HDF5_SUFFIXES, sniff_hdf5, _read_registered, requires=("h5py",)))
    register(Format("volume-zarr", "a chunked zarr volume (a folder; battlab info DIR.zarr)", "volume",
                    (".zarr",), lambda head, name: 0.0, _read_registered, requires=("zarr",)))
    register(Format("volume-npy", "a 3-D NumPy .npy volume (memory-mapped)", "volume", (".npy",), sniff_npy,
                    _read_registered))
    register(Format("volume-mhd", "a MetaImage .mhd header with its raw volume", "volume", (".mhd",), sniff_mhd,
                    _read_registered))
    register(Format("volume-raw", "a headerless raw volume (needs shape= and dtype=)", "volume",
                    (".raw", ".vol", ".bin"), sniff_raw, _read_registered))


_register_formats()
