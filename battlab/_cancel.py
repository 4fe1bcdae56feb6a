"""Cooperative cancellation of long analyses, for apps whose user has already moved on.

An app's message worker runs each widget message under a cancellation event; when a newer
value of the same control arrives while the analysis of the older one is still running,
the worker sets that event. Long analyses call :func:`checkpoint` between their units of
work (a frame, a window, an axis), which then raises :class:`Cancelled`, and the app drops
the stale run quietly: the newer value is analysed next.

Outside such a run (scripts, notebooks, the command line) :func:`checkpoint` never raises.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["Cancelled", "cancellable", "checkpoint"]

_event = contextvars.ContextVar("battlab_cancel_event", default=None)


class Cancelled(BaseException):  # noqa: N818 - named like asyncio.CancelledError's purpose
    """The run was superseded by newer input; not an error.

    A ``BaseException``, like :class:`asyncio.CancelledError`, so that code which turns
    ordinary failures into notes (``except Exception``) does not swallow it and carry on
    with half a result.
    """


def checkpoint() -> None:
    """Raise :class:`Cancelled` if the run this is called in was superseded; cheap otherwise."""
    event = _event.get()
    if event is not None and event.is_set():
        raise Cancelled


@contextlib.contextmanager
def cancellable(event):
    """Run the block under ``event`` (a :class:`threading.Event`): once it is set,
    :func:`checkpoint` raises :class:`Cancelled`."""
    token = _event.set(event)
    try:
        yield
    finally:
        _event.reset(token)
