"""The page's widget messages, handled on a thread of the app's own instead of the kernel's.

In a kernel, a widget message is handled on the thread that reads the kernel's sockets, and
a slow analysis holds that thread: later slider moves wait unread, each is analysed in turn
although only the last one counts, and nothing else the page asks for is answered. Once an
app is on show in a kernel (Voila, JupyterLab), the messages of its widgets are instead
queued here and handled in arrival order on one worker thread, exactly as the kernel would
have handled them:

- the kernel stays free to read new messages while an analysis runs;
- the busy indicator is raised the moment a message arrives, whatever is running;
- a value update that a newer update of the same widget supersedes while it still waits is
  dropped: stale work is never started;
- an analysis already running for such an update is stopped at its next
  :func:`battlab._cancel.checkpoint` (between frames, windows, axes, figures), and the newest
  value runs next.

Each message is handled with its own request as the kernel's parent, so the replies the
page matches to its requests (ipywidgets' echo updates) still match. Code run in a cell
keeps running on the kernel's thread, as before. ``BATTLAB_APP_WORKER=0`` turns this off.
"""

from __future__ import annotations

import collections
import logging
import os
import threading

from battlab._cancel import Cancelled, cancellable

log = logging.getLogger("battlab.apps")

__all__ = ["MessageWorker", "worker_enabled"]


def _kernel():
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:  # pragma: no cover - ipykernel comes with the apps' stack
        return None
    return Kernel.instance() if Kernel.initialized() else None


def worker_enabled() -> bool:
    """True in a running kernel, unless ``BATTLAB_APP_WORKER`` is ``0``/``off``/``false``."""
    if os.environ.get("BATTLAB_APP_WORKER", "1").strip().lower() in ("0", "off", "false", "no"):
        return False
    return _kernel() is not None


def _widgets(root):
    """Every widget under ``root`` (boxes' and tabs' children, depth first)."""
    stack, seen = [root], set()
    while stack:
        widget = stack.pop()
        if widget is None or id(widget) in seen:
            continue
        seen.add(id(widget))
        yield widget
        stack.extend(getattr(widget, "children", ()) or ())


def _is_echo(msg) -> bool:
    """A Bokeh model change the page echoes back (battlab's figures take nothing from the page)."""
    content = msg.get("content", {}).get("data", {}).get("content")
    return isinstance(content, dict) and content.get("event") == "jsevent" and content.get("kind") == "ModelChanged"


class MessageWorker:
    """Queue and handle the messages of one app's widgets on a worker thread.

    Parameters
    ----------
    root : ipywidgets.Widget
        The app's page; widgets added to it later are routed after the next message.
    set_busy : callable
        ``set_busy(+1)`` when a message is queued, ``set_busy(-1)`` when it was handled or
        dropped: the app's busy indicator.
    """

    def __init__(self, root, set_busy):
        self._root = root
        self._set_busy = set_busy
        self._jobs: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._attached: set[str] = set()
        self._running = False
        self._current = None  # (widget, keys, cancel event) of the message being handled
        #: Messages handled, updates dropped because a newer one superseded them while they
        #: waited, and runs stopped because one did while they ran.
        self.handled = 0
        self.dropped = 0
        self.cancelled = 0

    # --- routing ----------------------------------------------------------------------
    def attach(self, root) -> None:
        """Route the messages of every widget under ``root`` through the worker (idempotent).

        Called on the kernel's thread when the app is shown, then on the worker after each
        message; the kernel's thread only reads the comms' handlers, which are set before
        any message for them can arrive.
        """
        for widget in _widgets(root):
            comm = getattr(widget, "comm", None)
            comm_id = getattr(comm, "comm_id", None)
            if comm_id is None or comm_id in self._attached or not hasattr(comm, "on_msg"):
                continue
            handler = getattr(comm, "_msg_callback", None) or getattr(widget, "_handle_msg", None)
            if handler is None:
                continue
            comm.on_msg(lambda msg, widget=widget, handler=handler: self._enqueue(widget, handler, msg))
            self._attached.add(comm_id)

    def _enqueue(self, widget, handler, msg) -> None:
        if _is_echo(msg):
            return  # dropped here as in the figure's own handler, without raising the busy indicator
        kernel = _kernel()
        parent = kernel.get_parent() if kernel is not None else msg
        data = msg.get("content", {}).get("data", {})
        keys = frozenset(data.get("state") or ()) if data.get("method") == "update" else None
        self._set_busy(+1)  # before the job can run: its -1 must never come first
        with self._cond:
            stale = [job for job in self._jobs
                     if keys and job[0] is widget and job[3] is not None and job[3] <= keys]
            for job in stale:
                self._jobs.remove(job)
            self.dropped += len(stale)
            current = self._current
            if keys and current is not None and current[0] is widget and current[1] is not None \
                    and current[1] <= keys and not current[2].is_set():
                current[2].set()  # the running analysis of an older value stops at its next checkpoint
                self.cancelled += 1
            self._jobs.append((widget, handler, msg, keys, parent))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="battlab-app-worker", daemon=True)
                self._thread.start()
            self._cond.notify()
        if stale:  # they were counted when they arrived and will never run
            self._set_busy(-len(stale))

    # --- the worker thread ------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._running = False
                    self._cond.notify_all()
                    self._cond.wait()
                widget, handler, msg, keys, parent = self._jobs.popleft()
                self._running = True
                cancel = threading.Event()
                self._current = (widget, keys, cancel)
            kernel = _kernel()
            try:
                if kernel is not None and parent:
                    kernel.set_parent(None, parent, "shell")  # replies go out as answers to this request
                with cancellable(cancel):
                    handler(msg)
            except Cancelled:  # superseded outside an app callback's own guard
                pass
            except Exception:  # as the kernel's own comm handler: logged, the app goes on
                log.exception("battlab app: a widget message could not be handled")
            finally:
                with self._cond:
                    self._current = None
                self.handled += 1
                self._set_busy(-1)
            try:
                self.attach(self._root)  # e.g. a figure drawn anew is a new widget
            except Exception:  # noqa: BLE001 - never let the worker die
                log.exception("battlab app: could not route new widgets' messages")

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Block until every queued message was handled (for tests and scripted use)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._running, timeout=timeout_s)
