"""Readers that misbehave on purpose, for the isolation tests (imported by the child by name)."""

import os
import signal
import time

import numpy as np

from battlab.errors import BattlabWarning, CorruptFileError


def segfault(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGSEGV)


def null_pointer(*_args, **_kwargs):
    import ctypes

    return ctypes.string_at(0)


def allocate_gb(gigabytes, *_args, **_kwargs):
    block = np.ones(int(gigabytes * 2**30), dtype=np.uint8)  # touched, so really allocated
    return int(block[-1])


def sleep(seconds, *_args, **_kwargs):
    time.sleep(seconds)


def battlab_error(*_args, **_kwargs):
    raise CorruptFileError("the header says 7 frames but holds 3.")


def library_error(*_args, **_kwargs):
    raise KeyError("Root")


def warn_and_return(value):
    import warnings

    warnings.warn("two frames were dropped", BattlabWarning, stacklevel=1)
    return value


def echo(value):
    return value


class Opaque:
    """Something only a pickle could carry."""


def opaque(*_args, **_kwargs):
    return {"fine": 1.0, "opaque": Opaque()}


def crash_on_named_task(task):
    """A campaign task runner whose worker dies on files named ``crash*`` (as a native decoder can)."""
    from pathlib import Path

    if Path(task.path).name.startswith("crash"):
        segfault()
    return {"file": task.path, "result_dir": task.result_dir, "status": "done", "seconds": 0.0, "message": "ok"}
