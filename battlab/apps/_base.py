"""The layout every battlab app shares.

Data source (demo picker, upload with a visible size limit, files on the server),
parameter controls, plots, a results table, export (CSV + provenance JSON + figures as
HTML), a status line and an error banner. Callbacks never let a traceback reach the
page: battlab errors become a plain message, anything else is logged on the server
and reported as an unexpected problem, and the app keeps working.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import logging
import os
import threading
import time
import zipfile
from pathlib import Path

import ipywidgets as w

from battlab._cancel import Cancelled, checkpoint
from battlab._limits import default_upload_limit_mb
from battlab.apps._uploads import (
    check_numeric_widget,
    new_error_id,
    safe_display_name,
    store_upload,
)
from battlab.errors import BattlabError, BattlabWarning

__all__ = ["BaseApp", "PlotPane", "load_browser_resources", "html_table", "DEFAULT_UPLOAD_LIMIT_MB"]

log = logging.getLogger("battlab.apps")

#: Uploads larger than this are refused with a message (env BATTLAB_UPLOAD_LIMIT_MB).
DEFAULT_UPLOAD_LIMIT_MB = default_upload_limit_mb()
_BUSY_HTML = "<span style='color:#555'><i class='fa fa-spinner fa-spin'></i> updating…</span>"
_LARGE_FILE_HINT = "Use a server-side file or the battlab command line for large files."

_RESOURCES_LOADED = False


def load_browser_resources():
    """Put BokehJS and Panel's JS inline into the page (once per kernel).

    Loading them inline rather than from a CDN is what lets Voila pages render offline.
    """
    global _RESOURCES_LOADED
    if _RESOURCES_LOADED:
        return
    import panel as pn

    pn.extension(inline=True)
    _RESOURCES_LOADED = True


class PlotPane:
    """An ipywidget that shows a HoloViews object and can be swapped for a new one.

    A figure identical to the one on show (same :func:`~battlab.plot._core.figure_fingerprint`)
    is not rendered and sent again: after a control moves, most of an app's figures are
    unchanged, and redrawing them was most of a callback's time. A figure that differs
    only in its data, ranges, colours, title or the quantities on its axes (same
    :func:`~battlab.plot._core.figure_layout_key`) updates the Bokeh models on show in
    place; the page then receives a patch, not a new figure.
    """

    def __init__(self, *, min_height_px: int = 340):
        self.widget = w.Box(layout=w.Layout(min_height=f"{min_height_px}px", overflow="auto"))
        self.widget.add_class("battlab-plot")
        self.object = None
        self.revision = 0  # counts figures actually drawn (in place or anew)
        self.patched = 0  # of those, drawn by updating the figure on show
        self._fingerprint = None
        self._element_digests = {}  # id -> digest of each element on show (kept alive by the pipes)
        self._shown = None
        self._layout_key = None
        self._pipes = []  # one per panel of the figure on show, when it can be updated in place
        self._on_draw = None  # what decorated the figure on show

    def update(self, obj, *, on_draw=None):
        """Show ``obj``: unchanged, patched in place or drawn anew (see the class notes).

        ``on_draw(model)`` is called with the Bokeh model each time the figure is drawn anew,
        before it goes to the page: the place to add glyphs and click handlers that HoloViews
        does not make (a profile line, a polygon, a tap callback). A patched figure keeps them.
        """
        from battlab.plot._core import _fingerprints, figure_layout_key

        checkpoint()  # a superseded run draws nothing more
        shown = self.widget.children[0] if self.widget.children else None
        if obj is self.object and obj is not None and shown is self._shown and on_draw == self._on_draw:
            return  # the very object on show (an app step reused it)
        # Compared while the figure on show is still referenced (see figure_fingerprint).
        fingerprint, elements = _fingerprints(obj)
        if fingerprint is not None and fingerprint == self._fingerprint and shown is self._shown:
            self.object = obj
            return
        self.object = obj
        self.revision += 1
        self._fingerprint = fingerprint
        shown_elements, self._element_digests = self._element_digests, elements
        layout_key = figure_layout_key(obj)
        if (layout_key is not None and layout_key == self._layout_key and shown is self._shown
                and on_draw == self._on_draw and self._update_in_place(obj, shown_elements)):
            self.patched += 1
            return
        self._draw(obj, layout_key, on_draw)

    @property
    def model(self):
        """The Bokeh model on show (None before the first figure)."""
        return None if self._shown is None else self._shown._model

    def _update_in_place(self, obj, shown_elements) -> bool:
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a frame HoloViews cannot match is drawn anew
                for pipe, panel in zip(self._pipes, _panels(obj), strict=True):
                    _keep_unchanged_data(pipe.data, panel, shown_elements, self._element_digests)
                    pipe.send(panel)
        except Exception:  # noqa: BLE001 - any failure falls back to drawing the figure anew
            log.debug("in-place figure update failed; drawing anew", exc_info=True)
            return False
        return True

    def _draw(self, obj, layout_key, on_draw=None):
        import holoviews as hv
        from bokeh.model import Model

        self._pipes = []
        if isinstance(obj, Model):  # e.g. a linked-brushing grid, shown as it is
            model, layout_key = obj, None
        elif layout_key is None:
            model = hv.render(obj, backend="bokeh")
        else:
            # Each panel is drawn through a DynamicMap fed by a pipe, so that later figures
            # with the same layout key update it in place; framewise, so that ranges follow
            # each new figure as a fresh drawing would.
            self._pipes = [hv.streams.Pipe(data=panel) for panel in _panels(obj)]
            dmaps = [hv.DynamicMap(_framewise, streams=[pipe]) for pipe in self._pipes]
            if isinstance(obj, hv.Layout):
                drawn = hv.Layout(dmaps).opts(**obj.opts.get("plot").kwargs)
                drawn = drawn.cols(obj._max_cols) if getattr(obj, "_max_cols", None) else drawn
            else:
                drawn = dmaps[0]
            model = hv.renderer("bokeh").get_plot(drawn).state
        if on_draw is not None:
            on_draw(model)
        self._on_draw = on_draw
        self._shown = _one_way_bokeh_model()(model)
        self._layout_key = layout_key
        self.widget.children = [self._shown]


@functools.cache
def _one_way_bokeh_model():
    """``jupyter_bokeh.BokehModel`` that ignores model changes coming back from the page.

    The page echoes every change a patch made (jupyter_bokeh 4 re-sends them), and an echo
    of an older update can arrive after a newer one was sent: taken in, it would put the
    older data back on the kernel's side, and the next update that equals it would then
    send nothing and leave the page stale. battlab's figures need nothing from the page
    (zoom and hover stay in the browser), so those messages are dropped.
    """
    from jupyter_bokeh import BokehModel

    class OneWayBokehModel(BokehModel):
        def _sync_model(self, model, content, buffers):
            if content.get("event") == "jsevent" and content.get("kind") == "ModelChanged":
                return
            super()._sync_model(model, content, buffers)

    return OneWayBokehModel


def _same_key(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_key(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (str, bytes, int, float, complex, type(None))):
        return type(a) is type(b) and a == b
    return a is b


def _keep_unchanged_data(old, new, old_digests, new_digests) -> None:
    """Mark each element of ``new`` equal to its counterpart in ``old`` as the same plot item.

    HoloViews leaves the data source of an element whose plot id is unchanged as it is, so
    a move that only shifts a marker over a map patches the marker and does not send the
    whole image again (the counterpart is the element at the same place in the figure).
    The digests (by element ``id``) are those ``_fingerprints`` gave for each figure.
    """
    import holoviews as hv

    if old is None or old is new:
        return
    olds = old.traverse(lambda x: x, [hv.Element])
    news = new.traverse(lambda x: x, [hv.Element])
    if len(olds) != len(news):
        return
    for before, after in zip(olds, news, strict=True):
        if type(before) is type(after) and before is not after:
            digest = new_digests.get(id(after))
            if digest is not None and digest == old_digests.get(id(before)):
                after._plot_id = before._plot_id


def _panels(obj):
    import holoviews as hv

    return list(obj.values()) if isinstance(obj, hv.Layout) else [obj]


def _framewise(data):
    import holoviews as hv

    # HoloViews fits a figure's ranges to each new frame when any element on show asks for it
    # (ElementPlot.framewise); marking one element per panel is as good as marking all and
    # spares cloning every element of a many-line overlay on every update.
    if isinstance(data, hv.Element):
        return data.opts(framewise=True, clone=True)
    first = data.traverse(lambda x: x, [hv.Element])[:1]
    if not first:
        return data
    marked = first[0].opts(framewise=True, clone=True)
    return data.map(lambda element: marked if element is first[0] else element, hv.Element)


def html_table(frame, columns, *, scale=None) -> str:
    """A results table as HTML for the app page.

    ``columns`` lists ``(column, label, fmt)``: ``fmt`` is a format string, ``"{:d}"`` for
    integers or ``"{}"`` for text. Columns missing from ``frame`` or holding only NaN are
    left out; NaN cells show a dash. ``scale`` maps a column to a factor applied before
    formatting (e.g. A -> mA when the label says mA).
    """
    import numpy as np

    scale = scale or {}
    cols = [c for c in columns if c[0] in frame
            and not (frame[c[0]].dtype.kind == "f" and frame[c[0]].isna().all())]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in cols)
    body = []
    for row in frame[[c[0] for c in cols]].itertuples(index=False):
        cells = []
        for value, (col, _, fmt) in zip(row, cols, strict=True):
            if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
                cells.append("<td>–</td>")
            elif fmt == "{:d}":
                cells.append(f"<td>{int(value)}</td>")
            elif fmt == "{}":
                cells.append(f"<td>{html.escape(str(value))}</td>")
            else:
                cells.append(f"<td>{html.escape(fmt.format(value * scale.get(col, 1.0)))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ("<table class='battlab-results' style='border-collapse:collapse;font-size:12px'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _format_bytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


class BaseApp:
    """Base class: subclasses set ``title``/``demos`` and implement the hooks.

    Hooks
    -----
    ``_build_controls()`` -> list of widgets; ``_set_data(data, label)`` after a
    successful load; ``_results()`` -> dict of tables; ``_figures()`` -> dict of
    HoloViews objects; ``_provenance()`` -> Provenance.
    """

    title = "battlab app"
    intro = ""
    accept = ""  # upload file extensions, e.g. ".mpt,.mpr,.csv"
    #: The kind of data the analysis needs (``battlab.load(kind=...)``): a file of
    #: another kind gets a message naming what it holds instead of a failed parse.
    data_kind = "echem"
    #: True when the app's own readers already run isolated (``_read_isolated``), so an
    #: upload of a native format needs no separate decode in a child process first.
    isolates_own_reads = False

    def __init__(self, data=None, *, upload_limit_mb: float | None = None, data_dirs=None):
        from battlab.io.isolate import default_policy

        load_browser_resources()
        #: Which reads run in a child process with memory/time limits ("native", "all", "off";
        #: env BATTLAB_ISOLATE_READERS): a crashing or exploding file costs the child, not the kernel.
        self.isolate_readers = default_policy()
        if self.isolate_readers != "off":
            _warm_isolation()
        self.upload_limit_mb = float(upload_limit_mb or DEFAULT_UPLOAD_LIMIT_MB)
        self.data_dirs = [Path(p) for p in (data_dirs if data_dirs is not None else _env_data_dirs())]
        self.source_label = ""
        #: sha256 -> path of every upload kept in the upload store (see ``store_upload``)
        self.stored_uploads: dict[str, Path] = {}
        self._build_layout()
        if data is None:
            self._load_demo(self.demo_picker.value)
        else:
            self._guard("loading the data", self._accept_data, data, getattr(data, "attrs", {})
                        .get("battlab", {}).get("source_name", "data given in code"))

    # --- layout --------------------------------------------------------------------
    def _build_layout(self):
        self.banner = w.HTML(layout=w.Layout(display="none"))
        self.banner.add_class("battlab-error")
        self.status = w.HTML()
        self.status.add_class("battlab-status")
        # battlab's warnings about the data (repairs, unit mix-ups, samples left out): the
        # kernel's stderr is invisible in a Voila page, so they are shown here.
        self.notices = w.HTML(layout=w.Layout(display="none"))
        self.notices.add_class("battlab-notices")
        self._notice_messages: list[str] = []
        self._data_accepted = False
        # Shown while a callback runs: the message leaves the kernel before the work starts,
        # so a slow recomputation is visibly under way within one round trip.
        self.busy = w.HTML(_BUSY_HTML, layout=w.Layout(display="none"))
        self.busy.add_class("battlab-busy")
        self._busy_depth = 0
        self._busy_lock = threading.RLock()  # the kernel's thread and the message worker both count
        self._guard_nesting = threading.local()
        self.demo_picker = w.Dropdown(options=list(self.demos()), description="Demo",
                                      style={"description_width": "initial"}, layout=w.Layout(width="360px"))
        self.demo_button = w.Button(description="Load demo", icon="flask")
        self.demo_button.on_click(lambda _: self._load_demo(self.demo_picker.value))
        self.upload = self._upload_button(accept=self.accept, description="Upload file")
        self.upload.observe(self._on_upload, "value")
        limit = w.HTML(f"<small>max {self.upload_limit_mb:g} MB per file; larger files: use "
                       "<i>Server file</i> or the <code>battlab</code> command line</small>")
        rows = [w.HBox([self.demo_picker, self.demo_button]), w.HBox([self.upload, limit])]
        self.server_picker = w.Dropdown(options=self._server_files(), description="Server file",
                                        layout=w.Layout(width="460px"))
        self.server_button = w.Button(description="Load", icon="folder-open")
        self.server_button.on_click(lambda _: self._load_server_file(self.server_picker.value))
        if self.server_picker.options:
            rows.append(w.HBox([self.server_picker, self.server_button]))
        source = w.VBox(rows)
        self.controls = w.VBox(self._build_controls())
        self.export_button = w.Button(description="Prepare download", icon="download",
                                      tooltip="CSV tables + provenance.json + figures (HTML) in one zip")
        self.export_button.on_click(lambda _: self._guard("preparing the download", self._prepare_download))
        self.download_link = w.HTML()
        self.table = w.HTML(layout=w.Layout(max_height="320px", overflow="auto"))
        self.table.add_class("battlab-table")
        # The notebook carries the title; the app opens with its one-line purpose.
        header = w.HTML(f"<p><b>{html.escape(self.title)}.</b> {self.intro}</p>")
        self.widget = w.VBox([
            header, source, self.banner, w.HBox([self.busy, self.status]), self.notices,
            w.HTML("<b>Parameters</b>"), self.controls,
            self._plot_area(),
            w.HTML("<b>Results</b>"), self.table,
            w.HBox([self.export_button, self.download_link]),
        ])
        self.widget.add_class("battlab-app")

    def _ipython_display_(self):
        from IPython.display import display

        from battlab.apps._worker import MessageWorker, worker_enabled

        display(self.widget)
        if worker_enabled() and self.__dict__.get("worker") is None:
            #: Handles the page's messages off the kernel's thread (see battlab.apps._worker).
            self.worker = MessageWorker(self.widget, self._set_busy)
            self.worker.attach(self.widget)

    # --- error handling --------------------------------------------------------------
    def _guard(self, what, func, *args, **kwargs):
        """Run a callback; show any failure as a message instead of a traceback.

        Control values are re-checked first: the browser can send any value for a
        synced widget, so numbers outside a control's range are clamped and non-finite
        ones refused before an analysis sees them.
        """
        import warnings

        # Per thread: the worker's busy count also holds the messages still waiting for it.
        nesting = self.__dict__.get("_guard_nesting") or self.__dict__.setdefault("_guard_nesting", threading.local())
        outermost = getattr(nesting, "depth", 0) == 0
        nesting.depth = getattr(nesting, "depth", 0) + 1
        self._set_busy(+1)
        caught = []
        try:
            if not self._validate_controls():
                return None
            if outermost:
                self._data_accepted = False
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", BattlabWarning)
                    result = func(*args, **kwargs)
            else:
                result = func(*args, **kwargs)
            refused = self.__dict__.get("_control_refused")
            if refused is not None and self.banner.layout.display == "none":
                # Other observers of the refused change run after the refusal; an analysis that
                # clears the banner must not hide what was refused before the user re-enters it.
                self.show_error(refused[2])
        except Cancelled:
            if not outermost:
                raise
            # A newer value of the same control arrived while this ran (see battlab._cancel):
            # nothing to show, the newer one is analysed next.
            log.debug("battlab app: %s superseded by a newer value", what)
            return None
        except BattlabError as exc:
            self.show_error(str(exc))
            return None
        except Exception:  # the page must never see a traceback
            error_id = new_error_id()
            log.exception("battlab app: unexpected error while %s [error id %s]", what, error_id)
            self.show_error(f"Something unexpected went wrong while {what} (error id {error_id}). The app is "
                            "still usable; the details were written to the server log under that id. "
                            "Try another file or setting.")
            return None
        finally:
            nesting.depth -= 1
            if outermost:
                self._show_notices(caught)
            self._set_busy(-1)
        return result

    def _memo(self, name, key, compute):
        """``compute()``, or the value it gave at the last call under ``name`` with the same ``key``.

        Apps re-run their analysis after every control move; a step whose inputs the move did
        not touch is taken from here instead of recomputed. ``key`` is a tuple of the step's
        inputs: numbers, strings and tuples compare by value, anything else (a movie, a
        table) by identity, and the entry keeps those objects alive so that an identity is
        never mistaken for a new object's. Warnings the step raised are raised again when its
        value is reused, so the notes and banners that come from them stay on the page.
        """
        import warnings

        cache = self.__dict__.setdefault("_memo_cache", {})
        entry = cache.get(name)
        if entry is not None and _same_key(entry[0], key):
            for caught in entry[2]:
                warnings.warn_explicit(caught.message, caught.category, caught.filename, caught.lineno)
            return entry[1]
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            value = compute()
        for caught in raised:  # on to the caller's own handling, as if no cache were here
            warnings.warn_explicit(caught.message, caught.category, caught.filename, caught.lineno)
        cache[name] = (key, value, raised)
        return value

    #: At most this many notices are listed (the newest), so a noisy file cannot fill the page.
    MAX_NOTICES = 6

    def _show_notices(self, caught):
        """List battlab's warnings about the data on show; new data starts a new list."""
        notices = getattr(self, "notices", None)
        if notices is None:
            return
        messages = [] if self._data_accepted else list(self._notice_messages)
        for warning in caught:
            if issubclass(warning.category, BattlabWarning):
                message = str(warning.message)
                if message in messages:
                    messages.remove(message)
                messages.append(message)
            else:
                log.debug("battlab app: %s", warning.message)
        messages = messages[-self.MAX_NOTICES:]
        if messages == self._notice_messages:
            return
        self._notice_messages = messages
        notices.value = ("<div style='color:#7a5a00;font-size:12px'><b>Notes on this data:</b><ul style='margin:2px 0'>"
                         + "".join(f"<li>{html.escape(m)}</li>" for m in messages) + "</ul></div>")
        notices.layout.display = "block" if messages else "none"

    def _set_busy(self, step: int):
        busy = getattr(self, "busy", None)  # absent while the layout is being built
        if busy is None:
            return
        with self._busy_lock:
            self._busy_depth = max(0, self._busy_depth + step)
            display = "flex" if self._busy_depth else "none"
            if busy.layout.display != display:
                busy.layout.display = display

    def _numeric_controls(self):
        # The whole page, not only the parameter panel: plot areas hold frame sliders,
        # line coordinates and cursors, and a crafted message can reach any of them.
        stack = [getattr(self, "widget", None) or getattr(self, "controls", None)]
        while stack:
            widget = stack.pop()
            if widget is None:
                continue
            stack.extend(getattr(widget, "children", ()) or ())
            if isinstance(widget, w.ValueWidget) and not isinstance(widget, (w.HTML, w.Label)):
                yield widget

    def _validate_controls(self) -> bool:
        """Clamp out-of-range control values; refuse (and restore) non-finite ones."""
        good = self.__dict__.setdefault("_last_good_values", {})
        for widget in list(self._numeric_controls()):
            ok, replacement, reason = check_numeric_widget(widget)
            if ok:
                good[widget.model_id] = widget.value
                continue
            label = getattr(widget, "description", "") or "a control"
            restore = replacement if replacement is not None else good.get(widget.model_id)
            log.warning("battlab app: %s value %r %s; reset to %r", label, widget.value, reason, restore)
            if restore is not None:
                widget.value = restore  # observers re-run the analysis with the safe value
            message = (f"{label} {reason}; it was reset to {restore!r}." if restore is not None
                       else f"{label} {reason}; please enter a number.")
            self.show_error(message)
            self._control_refused = (widget, restore, message)
            return False
        refused = self.__dict__.get("_control_refused")
        # Cleared once the user has entered a new value in the refused control; until then the
        # message stays true (other observers of the same crafted change still run after it).
        if refused is not None and refused[0].value != refused[1]:
            del self._control_refused
            self.clear_error()
        return True

    def show_error(self, message: str):
        self.banner.value = (f"<div style='background:#fde2e1;border:1px solid #d9534f;padding:6px 10px;"
                             f"border-radius:4px'>⚠ {html.escape(message)}</div>")
        self.banner.layout.display = "block"

    def clear_error(self):
        self.banner.value = ""
        self.banner.layout.display = "none"

    def set_status(self, message: str):
        self.status.value = f"<span style='color:#555'>{html.escape(message)}</span>"

    # --- data sources ----------------------------------------------------------------
    def demos(self) -> dict:
        """Demo name -> zero-argument callable returning a battlab Demo."""
        raise NotImplementedError

    def _load_demo(self, name):
        demo = self._guard("building the demo data", lambda: self.demos()[name]())
        if demo is not None:
            self._guard("analysing the demo data", self._accept_data, demo.data, f"demo: {name}",
                        truth=demo.truth)

    def _on_upload(self, change):
        files = change["new"]
        if not files:
            return
        try:
            self._guard("receiving the upload", self._handle_upload, files[0])
        finally:
            # Clear the widget so that choosing the same file again is a new upload,
            # not an unchanged value that would be silently ignored.
            self.upload.value = ()

    def _upload_button(self, *, accept: str, description: str, multiple: bool = False, large_hint: str = ""):
        """An upload button with this app's size limit: a larger file is refused in the browser,
        before any byte is sent, and the refusal is shown in the banner too."""
        from battlab.apps._upload_button import UploadButton

        button = UploadButton(accept=accept, multiple=multiple, description=description,
                              max_bytes=max(1, int(self.upload_limit_mb * 1e6)),
                              large_hint=large_hint or _LARGE_FILE_HINT)
        button.observe(lambda change: self._on_upload_refused(change["new"], button.large_hint), "refused")
        return button

    def _on_upload_refused(self, item, hint: str):
        if not item:
            return
        name = safe_display_name(item.get("name"), default="the file")
        size = item.get("size") if isinstance(item.get("size"), int) and item.get("size") > 0 else 0
        reason = str(item.get("reason") or "")
        if "limit" in reason:
            self.show_error(f"{name}{f' is {_format_bytes(size)},' if size else ' is'} above the "
                            f"{self.upload_limit_mb:g} MB upload limit; it was not sent. {hint}")
        else:
            self.show_error(f"{name or 'The upload'}: {reason or 'the upload failed'}.")

    def _handle_upload(self, item):
        received = self._receive_upload(item)
        if received is not None:
            name, data = received
            self._guard(f"reading {name}", self._read_upload, self._load_bytes, data, name)

    def _observe_upload(self, widget, loader, *, default_name: str = "upload"):
        """Wire a further upload button (cycling file, map …): checked, kept, then ``loader(bytes, name)``."""

        def on_value(change):
            files = change["new"]
            if not files:
                return
            try:
                received = self._receive_upload(files[0], default_name=default_name)
                if received is not None:
                    name, data = received
                    self._guard(f"reading {name}", self._read_upload, loader, data, name)
            finally:
                widget.value = ()  # the same file chosen again is a new upload

        widget.observe(on_value, "value")

    def _receive_upload(self, item, *, default_name: str = "upload", large_hint: str = ""):
        """Check one uploaded item (FileUpload format) and keep it in the upload store.

        Returns ``(display name, bytes)``, or None after showing why the upload cannot be
        used (did not arrive, empty, above the size limit). Every upload-taking widget of
        every app goes through here, so none is silently ignored or lost.
        """
        # The browser's name is only for display; it never becomes a path.
        name = safe_display_name(item.get("name"), default=default_name)
        content = item.get("content")
        if content is not None and not isinstance(content, (bytes, bytearray, memoryview)):
            self.show_error(f"{name} did not arrive intact; please upload it again.")
            return None
        size = len(content) if content is not None else 0
        try:
            declared = int(item.get("size") or 0)
        except (TypeError, ValueError):  # the browser's claim is only used for the message
            declared = 0
        if size == 0:
            if declared > 0:
                self.show_error(f"{name} ({_format_bytes(declared)}) did not arrive: the browser connection "
                                f"limits uploads. Files up to {self.upload_limit_mb:g} MB are accepted.")
            else:
                self.show_error(f"{name} is empty.")
            return None
        if size > self.upload_limit_mb * 1e6:
            self.show_error(f"{name} is {_format_bytes(size)}, above the {self.upload_limit_mb:g} MB upload "
                            "limit. " + (large_hint or _LARGE_FILE_HINT))
            return None
        data = bytes(content)
        self._keep_upload(data, name)
        return name, data

    def _read_upload(self, loader, data: bytes, name: str):
        """``loader(data, name)``, after a trial decode in a child process when it is needed.

        Registry reads (the base ``_load_bytes``) run isolated themselves. An app's own
        reader of a native format (HDF5, TIFF, DM …) runs in this kernel, so the file is
        first decoded once by :func:`battlab.io.isolate.probe_native` in a child with the
        memory and time budget: a file that crashes, hangs or bursts memory there is
        refused with a message before the kernel touches it.
        """
        import hashlib

        own_reader = getattr(loader, "__func__", None) is not BaseApp._load_bytes
        path = self.stored_uploads.get(hashlib.sha256(data).hexdigest()) if own_reader else None
        if own_reader and self._needs_trial_decode(name, head=bytes(data[:8]), path=path):
            if path is None:
                log.warning("battlab app: %s is not in the upload store; read without a trial decode", name)
            else:
                self._trial_decode(path, name)
        return loader(data, name)

    def _needs_trial_decode(self, name, *, head: bytes = b"", path=None) -> bool:
        """True for a native file (by name, or by content when ``head``/``path`` are given)."""
        from battlab.io.isolate import is_native

        return (self.isolate_readers != "off" and not self.isolates_own_reads
                and is_native(name, head=head, path=path))

    def _trial_decode(self, path, name) -> bool:
        """Decode ``path`` once in a child with the memory/time budget; raises battlab's error if it fails."""
        from battlab.io.isolate import probe_native, run_isolated

        self.set_status(f"Checking {name}…")
        run_isolated(probe_native, str(path), name=name)
        return True

    def _read_isolated(self, func, /, *args, name: str = "the file", **kwargs):
        """``func(*args, **kwargs)`` in a child process with memory/time limits (unless switched off).

        For apps whose readers are their own (not ``battlab.load``): set
        ``isolates_own_reads = True`` and read through this. ``func`` must be a module-level function.
        """
        from battlab.io.isolate import is_native, run_isolated

        if self.isolate_readers == "off" or (self.isolate_readers == "native" and not is_native(name)):
            return func(*args, **kwargs)

        return run_isolated(func, *args, name=name, **kwargs)

    def _keep_upload(self, data: bytes, name: str):
        """Store an upload before anything parses it, so none is lost, even one that fails."""
        try:
            stored = store_upload(data, name)
        except OSError:
            log.exception("battlab app: could not keep a copy of %s in the upload store", name)
            return None
        self.stored_uploads[stored.parent.name] = stored
        return stored

    def _load_bytes(self, data: bytes, name: str):
        import battlab

        self.set_status(f"Reading {name} ({_format_bytes(len(data))})…")
        loaded = battlab.load(data, name=name, max_bytes=int(self.upload_limit_mb * 1e6) + 1,
                              kind=self.data_kind, isolate=self.isolate_readers)
        self._accept_data(loaded, name)

    def _server_files(self):
        from battlab.io.registry import formats

        try:
            exts = {e for f in formats() for e in f.extensions}
        except Exception:
            log.exception("could not list readable formats")
            return []
        found = []
        for root in self.data_dirs:
            if not root.is_dir():
                continue
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix.lower() in exts and self._accepts_name(path.name):
                    found.append((str(path.relative_to(root)), str(path)))
        return found

    def _accepts_name(self, name: str) -> bool:
        return not self.accept or Path(name).suffix.lower() in self.accept.split(",")

    def _confined_path(self, path, *, trial_decode: bool = True):
        """``path`` resolved, or None (with a message) when it lies outside ``data_dirs``.

        A native file (HDF5, TIFF, DM …) that the app will read in this kernel is first
        decoded once in a child process (``trial_decode``): one that crashes, hangs or
        bursts memory there also gives None, with the message. Files above the upload
        limit are not trial-decoded: they come from the lab's own folders and may be
        volumes larger than memory that the app reads lazily.
        """
        if not path:
            return None
        resolved = Path(path).resolve()
        # Only files inside the configured folders can be opened from the page.
        if not any(resolved.is_relative_to(root.resolve()) for root in self.data_dirs):
            self.show_error("That file is outside the folders this app may read.")
            return None
        if (trial_decode and resolved.is_file() and resolved.stat().st_size <= self.upload_limit_mb * 1e6
                and self._needs_trial_decode(resolved.name, head=_head(resolved), path=resolved)
                and self._guard(f"checking {resolved.name}", self._trial_decode, resolved, resolved.name) is None):
            return None
        return resolved

    def _load_server_file(self, path):
        # battlab.load runs native readers isolated itself: no separate trial decode
        resolved = self._confined_path(path, trial_decode=False)
        if resolved is None:
            return

        def _read():
            import battlab

            self.set_status(f"Reading {resolved.name}…")
            # Server files above the upload limit come from the lab's own folders and may be
            # larger than memory (read lazily): they are read here, not copied out of a child.
            small = resolved.stat().st_size <= self.upload_limit_mb * 1e6
            self._accept_data(battlab.load(resolved, kind=self.data_kind,
                                           isolate=self.isolate_readers if small else False), resolved.name)

        self._guard(f"reading {resolved.name}", _read)

    def _accept_data(self, data, label, truth=None):
        started = time.perf_counter()
        self._data_accepted = True  # the notices list starts again with this data
        self._set_data(data, label, truth=truth)
        self.source_label = label
        self.clear_error()
        self.download_link.value = ""
        self.set_status(f"{label} — {self.describe_data()} (analysed in {time.perf_counter() - started:.2f} s)")

    # --- export ----------------------------------------------------------------------
    def export(self, out_dir) -> list:
        """Write results (CSV), figures (HTML) and provenance.json into ``out_dir``."""
        from battlab.plot import to_html
        from battlab.provenance import write_results

        figures = {name: to_html(obj, title=f"{self.title}: {name}") for name, obj in self._figures().items()}
        results = self._results()
        provenance = self._provenance()
        for record in provenance.inputs:  # where the raw upload is kept, to re-run from it
            if isinstance(record, dict) and record.get("sha256") in self.stored_uploads:
                record["stored_at"] = str(self.stored_uploads[record["sha256"]])
        return write_results(out_dir, results, provenance, figures=figures)

    def export_zip(self) -> bytes:
        import tempfile

        buf = io.BytesIO()
        with tempfile.TemporaryDirectory(prefix="battlab-export-") as tmp:
            paths = self.export(tmp)
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in paths:
                    zf.write(p, arcname=p.name)
        return buf.getvalue()

    def _prepare_download(self):
        self.set_status("Preparing the download…")
        payload = base64.b64encode(self.export_zip()).decode("ascii")
        stem = Path(self.source_label.replace("demo: ", "demo-")).stem.replace(" ", "_") or "results"
        self.download_link.value = (f"<a download='battlab_{html.escape(stem)}.zip' "
                                    f"href='data:application/zip;base64,{payload}' "
                                    "class='battlab-download'>⬇ Download results (zip)</a>")
        self.set_status("Download ready: tables as CSV, provenance.json and figures as HTML.")

    # --- hooks -----------------------------------------------------------------------
    def _build_controls(self):
        return []

    def _plot_area(self):
        return w.VBox()

    def describe_data(self) -> str:
        return ""

    def _set_data(self, data, label, truth=None):
        raise NotImplementedError

    def _results(self) -> dict:
        raise NotImplementedError

    def _figures(self) -> dict:
        return {}

    def _provenance(self):
        raise NotImplementedError


_WARMING = None


def _head(path, n: int = 8) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _warm_isolation():
    """Start the isolated-reader server in the background once per kernel (it takes seconds)."""
    global _WARMING
    if _WARMING is None:
        import threading

        from battlab.io.isolate import warm_up

        def run():
            try:
                warm_up()
            except Exception:  # isolation then starts on the first read instead
                log.exception("battlab app: could not start the isolated-reader process")

        _WARMING = threading.Thread(target=run, name="battlab-isolation-warm-up", daemon=True)
        _WARMING.start()


def _env_data_dirs():
    raw = os.environ.get("BATTLAB_DATA_DIRS", "")
    return [p for p in raw.split(os.pathsep) if p]
