"""Run native-code readers in a throw-away child process with a memory and time budget.

HDF5, TIFF codecs, DigitalMicrograph and other vendor parsers are C code: a damaged
file can crash them (segfault), make them allocate without bound or loop forever. Run
through :func:`run_isolated`, such a file costs a child process, not the user's kernel;
the caller gets battlab's own error with a plain message and keeps working.

The result travels back as plain files, never as a pickle: the child writes arrays with
``np.save(allow_pickle=False)`` and everything else as JSON into a private scratch
folder, and the parent rebuilds the object from those files. (What the parent sends to
the child, the function name, a path or the upload's bytes and the options, is the
parent's own data.)

Settings: ``BATTLAB_READER_MEMORY_MB`` (default 3000) and ``BATTLAB_READER_TIMEOUT_S``
(default 120) set the budgets; ``BATTLAB_ISOLATE_READERS`` (``native`` by default in
the apps, ``all`` or ``off``) says which reads the apps isolate.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
import signal
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from battlab import errors as _errors
from battlab.errors import BattlabError, CorruptFileError, ResourceLimitError

__all__ = ["run_isolated", "is_native", "probe_native", "warm_up", "NATIVE_SUFFIXES", "default_policy",
           "DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT_S"]

#: Formats decoded by compiled code (HDF5, TIFF codecs, detector-image codecs, vendor binaries).
NATIVE_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".nx", ".emd", ".tif", ".tiff", ".jpk",
                   ".dm3", ".dm4", ".ser", ".emi", ".mrc", ".cbf", ".edf")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
#: Zip members looked at for native content (a zip of more is refused by its reader's own limits).
_ZIP_MEMBERS_CHECKED = 10_000

DEFAULT_MEMORY_MB = 3000.0
DEFAULT_TIMEOUT_S = 120.0


def _env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def default_policy() -> str:
    """Which reads the apps isolate: ``"native"`` (default), ``"all"`` or ``"off"``."""
    value = os.environ.get("BATTLAB_ISOLATE_READERS", "native").strip().lower()
    return {"0": "off", "false": "off", "no": "off", "1": "native", "true": "native"}.get(value, value)


def is_native(name, *, head: bytes = b"", path=None) -> bool:
    """True when a file is decoded by compiled code: by its extension, or by its content.

    ``head`` (the first bytes) catches a TIFF or HDF5 file under another name, e.g. a
    TIFF saved as ``.txt`` that a reader recognises by its magic bytes; with ``path``, a
    zip counts when any member is a TIFF or HDF5 file (zipped image sequences).
    """
    if Path(str(name)).suffix.lower() in NATIVE_SUFFIXES:
        return True
    if head.startswith(_TIFF_MAGIC) or head.startswith(_HDF5_MAGIC):
        return True
    if head.startswith(_ZIP_MAGIC) and path is not None:
        return bool(_native_zip_members(path))
    return False


def _native_zip_members(path) -> list:
    """Names of the members of a zip that are TIFF or HDF5 files (by name or magic)."""
    import zipfile

    found = []
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist()[:_ZIP_MEMBERS_CHECKED]:
                if info.is_dir():
                    continue
                if Path(info.filename).suffix.lower() in NATIVE_SUFFIXES:
                    found.append(info.filename)
                    continue
                with archive.open(info) as member:
                    if member.read(8).startswith(_TIFF_MAGIC + (_HDF5_MAGIC,)):
                        found.append(info.filename)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return []  # not a readable zip: its reader reports that
    return found


def _scratch_root() -> Path:
    from battlab._cache import private_folder

    return private_folder("BATTLAB_SCRATCH_DIR", "isolated")


# --- the child's side -------------------------------------------------------------------
def _address_space_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(budget_bytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the time limit still applies
        return
    # What the interpreter already maps is not the file's fault: the budget comes on top.
    limit = _address_space_bytes() + int(budget_bytes)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _resolve(target: str):
    module, _, qualname = target.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _child_main(target, args, kwargs, out_dir, memory_bytes):
    try:  # glibc reserves 64 MB of address space per thread arena: cap them so decoder threads fit the budget
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX = 2
    except (OSError, AttributeError):
        pass
    _limit_memory(memory_bytes)
    out = Path(out_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = _resolve(target)(*args, **kwargs)
            manifest = {"ok": True, "result": _Encoder(out).encode(result)}
        except MemoryError:
            manifest = {"ok": False, "error": "memory"}
        except BattlabError as exc:
            manifest = {"ok": False, "error": "battlab", "class": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # reported by type and message; the parent maps it
            manifest = {"ok": False, "error": "other", "type": type(exc).__name__, "message": str(exc)[:500]}
    manifest["warnings"] = [{"category": w.category.__name__, "message": str(w.message)[:500]}
                            for w in caught if issubclass(w.category, UserWarning)][:20]
    tmp = out / "manifest.json.part"
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, out / "manifest.json")


class _Encoder:
    """Objects -> JSON description + .npy files (no pickles anywhere)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def _npy(self, arr) -> str:
        name = f"a{self.count}.npy"
        self.count += 1
        np.save(self.folder / name, arr if arr.flags.c_contiguous else arr.copy(order="C"), allow_pickle=False)
        return name

    def array(self, arr):
        arr = np.asarray(arr)
        if arr.dtype.hasobject:
            return {"t": "objarray", "shape": list(arr.shape), "items": [self.encode(x) for x in arr.ravel()]}
        return {"t": "ndarray", "file": self._npy(arr)}

    def column(self, series):
        import pandas as pd

        dtype = series.dtype
        if isinstance(dtype, np.dtype) and not dtype.hasobject:
            return self.array(series.to_numpy())
        if isinstance(dtype, pd.CategoricalDtype):
            return {"t": "categorical", "values": self.array(series.astype(object).to_numpy())}
        return self.array(series.astype(object).to_numpy())

    def encode(self, obj):  # noqa: C901  one branch per supported type
        import pandas as pd

        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)) and not isinstance(obj, np.generic):
            if isinstance(obj, float) and not np.isfinite(obj):
                return {"t": "float", "repr": repr(obj)}
            return obj
        if isinstance(obj, np.generic):
            return {"t": "scalar", "value": self.array(np.asarray(obj))}
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, pd.Timestamp):
            return {"t": "timestamp", "iso": obj.isoformat()}
        if isinstance(obj, _dt.datetime):
            return {"t": "datetime", "iso": obj.isoformat()}
        if isinstance(obj, _dt.date):
            return {"t": "date", "iso": obj.isoformat()}
        if isinstance(obj, Path):
            return {"t": "path", "value": str(obj)}
        if isinstance(obj, (bytes, bytearray)):
            return {"t": "bytes", "value": self.array(np.frombuffer(bytes(obj), dtype=np.uint8))}
        if isinstance(obj, dict):
            return {"t": "dict", "keys": [self.encode(k) for k in obj], "values": [self.encode(v) for v in obj.values()]}
        if isinstance(obj, (list, tuple)):
            return {"t": type(obj).__name__, "items": [self.encode(x) for x in obj]}
        if isinstance(obj, pd.DataFrame):
            index = None if (isinstance(obj.index, pd.RangeIndex) and obj.index.start == 0
                             and obj.index.step == 1) else self.column(obj.index.to_series())
            return {"t": "dataframe", "columns": [self.encode(c) for c in obj.columns],
                    "values": [self.column(obj.iloc[:, i]) for i in range(obj.shape[1])],
                    "index": index, "index_name": self.encode(obj.index.name), "attrs": self.encode(dict(obj.attrs))}
        if isinstance(obj, pd.Series):
            return {"t": "series", "name": self.encode(obj.name), "frame": self.encode(obj.to_frame(name="v"))}
        import xarray as xr

        if isinstance(obj, xr.DataArray):
            return {"t": "dataarray", "name": self.encode(obj.name), "dims": list(obj.dims),
                    "values": self.array(obj.values), "attrs": self.encode(dict(obj.attrs)),
                    "coords": {str(k): {"dims": list(c.dims), "values": self.array(c.values),
                                        "attrs": self.encode(dict(c.attrs))} for k, c in obj.coords.items()}}
        if isinstance(obj, xr.Dataset):
            return {"t": "dataset", "attrs": self.encode(dict(obj.attrs)),
                    "vars": {str(k): self.encode(v.reset_coords(drop=True)) for k, v in obj.data_vars.items()},
                    "coords": {str(k): {"dims": list(c.dims), "values": self.array(c.values),
                                        "attrs": self.encode(dict(c.attrs))} for k, c in obj.coords.items()}}
        raise TypeError(f"the reader returned a {type(obj).__name__}, which battlab cannot pass between processes")


# --- the parent's side ------------------------------------------------------------------
class _Decoder:
    def __init__(self, folder: Path):
        self.folder = folder

    def _load(self, name: str):
        path = (self.folder / name).resolve()
        if path.parent != self.folder.resolve():  # a manifest can only name files in its own folder
            raise CorruptFileError("the isolated reader returned an invalid description.")
        return np.load(path, allow_pickle=False)

    def array(self, spec):
        if spec["t"] == "objarray":
            items = [self.decode(x) for x in spec["items"]]
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
            return arr.reshape(spec["shape"])
        return self._load(spec["file"])

    def column(self, spec):
        import pandas as pd

        if spec.get("t") == "categorical":
            return pd.Categorical(self.array(spec["values"]))
        return self.array(spec)

    def decode(self, spec):  # noqa: C901  one branch per supported type
        import pandas as pd

        if not isinstance(spec, dict):
            return spec
        kind = spec["t"]
        if kind == "float":
            return float(spec["repr"])
        if kind == "scalar":
            return self.array(spec["value"])[()]
        if kind in ("ndarray", "objarray"):
            return self.array(spec)
        if kind == "timestamp":
            return pd.Timestamp(spec["iso"])
        if kind == "datetime":
            return _dt.datetime.fromisoformat(spec["iso"])
        if kind == "date":
            return _dt.date.fromisoformat(spec["iso"])
        if kind == "path":
            return Path(spec["value"])
        if kind == "bytes":
            return self.array(spec["value"]).tobytes()
        if kind == "dict":
            return {self._key(k): self.decode(v) for k, v in zip(spec["keys"], spec["values"], strict=True)}
        if kind in ("list", "tuple"):
            items = [self.decode(x) for x in spec["items"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "dataframe":
            columns = [self._key(c) for c in spec["columns"]]
            data = {i: self.column(v) for i, v in enumerate(spec["values"])}
            index = None if spec["index"] is None else pd.Index(self.column(spec["index"]),
                                                                 name=self.decode(spec["index_name"]))
            frame = pd.DataFrame(data, index=index)
            frame.columns = columns
            frame.attrs.update(self.decode(spec["attrs"]))
            return frame
        if kind == "series":
            return self.decode(spec["frame"])["v"].rename(self.decode(spec["name"]))
        import xarray as xr

        if kind == "dataarray":
            return xr.DataArray(self.array(spec["values"]), dims=spec["dims"], coords=self._coords(spec["coords"]),
                                name=self.decode(spec["name"]), attrs=self.decode(spec["attrs"]))
        if kind == "dataset":
            return xr.Dataset({k: self.decode(v) for k, v in spec["vars"].items()},
                              coords=self._coords(spec["coords"]), attrs=self.decode(spec["attrs"]))
        raise CorruptFileError("the isolated reader returned an invalid description.")

    def _key(self, spec):
        key = self.decode(spec)
        return tuple(key) if isinstance(key, list) else key

    def _coords(self, coords):
        import xarray as xr

        return {k: xr.Variable(c["dims"], self.array(c["values"]), attrs=self.decode(c["attrs"]))
                for k, c in coords.items()}


_CONTEXT = None
_PRELOAD = ("battlab.io.isolate", "pandas", "xarray", "h5py", "tifffile", "rsciio.digitalmicrograph",
            "rsciio.tia", "rsciio.emd", "rsciio.mrc", "dask.array", "distributed", "battlab.io._isolate_preload")


def warm_up() -> None:
    """Start the process that forks the reader children, so the first read does not wait for it."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _context():
    """A 'forkserver' context (cheap children, no inherited kernel state), 'spawn' elsewhere."""
    global _CONTEXT
    if _CONTEXT is None:
        import multiprocessing as mp

        if sys.platform.startswith("linux"):
            ctx = mp.get_context("forkserver")
            # The server imports these once, so each child starts with them loaded
            # (a child costs ~20 ms instead of seconds of imports). Only third-party
            # decoders: a module that fails to import is skipped by the server.
            ctx.set_forkserver_preload(list(_PRELOAD))
        else:
            ctx = mp.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def run_isolated(func, /, *args, name: str = "the file", memory_mb: float | None = None,
                 timeout_s: float | None = None, **kwargs):
    """Call ``func(*args, **kwargs)`` in a child process and return its result.

    Parameters
    ----------
    func : callable
        A module-level function (the child imports it by name).
    *args, **kwargs
        Passed to ``func``.
    name : str
        The file's display name, for messages.
    memory_mb : float, optional
        Address space the reader may add (``BATTLAB_READER_MEMORY_MB``, default 3000).
    timeout_s : float, optional
        Wall-clock limit (``BATTLAB_READER_TIMEOUT_S``, default 120); the child is killed after it.

    Returns
    -------
    object
        The reader's result rebuilt from plain files: DataFrames, xarray objects, numpy
        arrays, dicts, lists, numbers, strings and timestamps are supported.

    Raises
    ------
    CorruptFileError
        The reader crashed (segfault, abort) or failed with a non-battlab error.
    ResourceLimitError
        The reader exceeded the memory or time budget.
    BattlabError
        The reader's own battlab error, re-raised with its class and message.
    """
    memory_mb = float(memory_mb if memory_mb is not None else _env_float("BATTLAB_READER_MEMORY_MB", DEFAULT_MEMORY_MB))
    timeout_s = float(timeout_s if timeout_s is not None else _env_float("BATTLAB_READER_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    target = f"{func.__module__}:{func.__qualname__}"
    if "<" in target:
        raise TypeError("run_isolated needs a module-level function")
    shown = Path(str(name)).name or "the file"
    with tempfile.TemporaryDirectory(prefix="run-", dir=_scratch_root()) as tmp:
        proc = _context().Process(target=_child_main, args=(target, args, kwargs, tmp, int(memory_mb * 2**20)),
                                  daemon=True)
        proc.start()
        proc.join(timeout_s)
        if proc.is_alive():
            proc.kill()
            proc.join(10)
            raise ResourceLimitError(
                f"{shown} could not be read: reading took longer than {timeout_s:g} s and was stopped. "
                "The file may be damaged; if it is large and sound, open it with the battlab command line.")
        manifest_path = Path(tmp) / "manifest.json"
        code = proc.exitcode
        proc.close()
        if not manifest_path.is_file():
            how = f"crashed ({_signal_name(code)})" if code and code < 0 else f"stopped (exit code {code})"
            raise CorruptFileError(
                f"{shown} could not be read: the file reader {how}. The file is probably damaged or a variant "
                "battlab cannot decode; nothing else was affected. If it opens in the vendor software, "
                "export it again (or as TIFF/CSV).")
        manifest = json.loads(manifest_path.read_text())
        for item in manifest.get("warnings", []):
            category = getattr(_errors, str(item.get("category")), None)
            category = category if isinstance(category, type) and issubclass(category, Warning) else UserWarning
            warnings.warn(str(item.get("message")), category, stacklevel=2)
        if manifest.get("ok"):
            return _Decoder(Path(tmp)).decode(manifest["result"])
    error = manifest.get("error")
    if error == "memory":
        raise ResourceLimitError(
            f"{shown} could not be read within the {memory_mb:g} MB memory budget for one file "
            "(BATTLAB_READER_MEMORY_MB). The file may declare an absurd size; if it is sound, use the "
            "battlab command line or raise the budget.")
    if error == "battlab":
        cls = getattr(_errors, str(manifest.get("class")), None)
        cls = cls if isinstance(cls, type) and issubclass(cls, BattlabError) else CorruptFileError
        raise cls(str(manifest.get("message")))
    raise CorruptFileError(f"{shown} could not be read ({manifest.get('type')}: {manifest.get('message')}). "
                           "If it opens in the vendor software, export it again (or as TIFF/CSV).")


# --- a generic decode of native files, for callers with their own readers ---------------------
def _probe_zip_members(path) -> None:
    import io
    import zipfile

    import tifffile

    names = _native_zip_members(path)
    with zipfile.ZipFile(path) as archive:
        for name in names:
            data = archive.read(name)
            if data.startswith(_TIFF_MAGIC):
                with tifffile.TiffFile(io.BytesIO(data)) as tif:
                    for series in tif.series:
                        series.asarray()


def probe_native(path) -> None:
    """Decode every image/dataset of a native file once and discard it.

    Run through :func:`run_isolated` before an in-kernel read by a reader that cannot
    itself run isolated: a file that crashes, hangs or bursts memory in the decoder is
    caught here. Ordinary read errors are left for the real reader to report.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(8)
    try:
        if suffix in (".tif", ".tiff", ".jpk") or head.startswith(_TIFF_MAGIC):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                for series in tif.series:
                    series.asarray()
        elif head.startswith(_ZIP_MAGIC):
            _probe_zip_members(path)
        elif suffix in (".cbf", ".edf"):
            import fabio

            fabio.open(str(path)).data  # noqa: B018 - decoding is the point
        elif suffix in (".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".nx", ".emd") or head.startswith(_HDF5_MAGIC):
            import h5py

            with h5py.File(path, "r") as fh:
                def visit(_name, obj):
                    if isinstance(obj, h5py.Dataset) and obj.shape is not None:
                        obj[()]

                fh.visititems(visit)
        elif suffix in (".dm3", ".dm4", ".ser", ".emi", ".mrc"):
            from battlab.tem.io import _reader

            _reader(suffix)[0](str(path), lazy=False)
    except MemoryError:
        raise
    except Exception:  # an ordinary failure (battlab's or not): the real reader explains it in context
        return None
    return None
