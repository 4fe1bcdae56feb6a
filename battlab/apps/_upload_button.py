"""The apps' upload button: size checked in the browser, file sent in acknowledged chunks.

``ipywidgets.FileUpload`` reads a whole file in the browser and sends it as one message
before the kernel can look at it, so an oversized file costs the full transfer and then
an error. :class:`UploadButton` refuses such a file in the browser at once (nothing is
read or sent) and streams an accepted one in chunks with a progress line. Its ``value``
has FileUpload's shape (a tuple of dicts with ``name``, ``type``, ``size``,
``last_modified``, ``content``), so the apps' upload check handles both.

The browser is not trusted: sizes, offsets and counts are re-checked here, and a
sender that breaks them loses its upload with a message.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anywidget
import traitlets

__all__ = ["UploadButton"]

log = logging.getLogger("battlab.apps")

_STATIC = Path(__file__).with_name("static")

#: Most files one multiple-file upload may carry.
MAX_FILES = 500

#: Bytes per websocket message of an upload (``BATTLAB_UPLOAD_CHUNK_KB``, default 1024).
CHUNK_BYTES = max(64, int(float(os.environ.get("BATTLAB_UPLOAD_CHUNK_KB", "1024")))) * 1024


class UploadButton(anywidget.AnyWidget):
    """An upload button with a browser-side size limit and a chunked transfer.

    Parameters
    ----------
    accept : str
        File types offered by the browser's file dialog (``".csv,.mpr"``).
    multiple : bool
        Allow several files at once.
    description : str
        Button text.
    max_bytes : int
        Largest file accepted; larger ones are refused in the browser before transfer.
    large_hint : str
        What to do with a larger file (shown with the refusal).

    Attributes
    ----------
    value : tuple of dict
        The last complete upload, in ``ipywidgets.FileUpload``'s format.
    refused : dict
        ``{"name", "size", "reason"}`` of the last file refused (in the browser or here).
    """

    _esm = _STATIC / "upload_button.js"
    _css = _STATIC / "upload_button.css"

    accept = traitlets.Unicode("").tag(sync=True)
    multiple = traitlets.Bool(False).tag(sync=True)
    description = traitlets.Unicode("Upload file").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    max_bytes = traitlets.Int(100_000_000, min=1).tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES, min=1 << 16).tag(sync=True)
    large_hint = traitlets.Unicode("")  # for the kernel-side message
    # Kernel-side only: the content never travels back to the browser.
    value = traitlets.Tuple()
    refused = traitlets.Dict()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._files: dict[int, dict] = {}
        self.on_msg(self._on_message)

    # --- the transfer protocol (see static/upload_button.js) -----------------------------
    def _reply(self, ok: bool, message: str = ""):
        self.send({"event": "ack"} if ok else {"event": "error", "message": message})

    def _note_refusal(self, name, size, reason: str):
        self.refused = {}  # the same file refused twice is still reported twice
        self.refused = {"name": str(name or ""), "size": max(size, 0) if isinstance(size, int) else 0,
                        "reason": reason}

    def _refuse(self, name, size, reason: str):
        self._files.clear()
        self._note_refusal(name, size, reason)
        self._reply(False, reason)

    def _on_message(self, _widget, content, buffers):
        if not isinstance(content, dict):
            return
        event = content.get("event")
        try:
            if event == "refused":
                self._note_refusal(content.get("name"), _as_int(content.get("size")),
                                   "above the upload limit (refused in the browser)")
            elif event == "begin":
                self._begin(content)
            elif event == "chunk":
                self._chunk(content, buffers)
            elif event == "end":
                self._end(content)
            elif event == "finish":
                self._finish(content)
        except Exception:  # a malformed message must not kill the widget's comm
            log.exception("battlab upload: malformed message %r", {k: content.get(k) for k in ("event", "index")})
            self._refuse(content.get("name"), 0, "the upload arrived damaged; please try again")

    def _begin(self, content):
        index, size = _as_int(content.get("index")), _as_int(content.get("size"))
        name = str(content.get("name") or "")
        if index < 0 or index >= MAX_FILES or (index > 0 and not self.multiple):
            return self._refuse(name, size, "too many files in one upload")
        if index == 0:
            self._files.clear()
        if size < 0 or size > self.max_bytes:
            return self._refuse(name, size, "above the upload limit")
        self._files[index] = {"name": name, "type": str(content.get("type") or ""), "size": size,
                              "last_modified": _as_int(content.get("last_modified")), "data": bytearray(),
                              "complete": False}
        self._reply(True)

    def _chunk(self, content, buffers):
        item = self._files.get(_as_int(content.get("index")))
        if item is None or item["complete"] or len(buffers or []) != 1:
            return self._refuse(content.get("name"), 0, "the upload arrived out of order; please try again")
        part = memoryview(buffers[0]).cast("B")
        if _as_int(content.get("offset")) != len(item["data"]) or len(item["data"]) + len(part) > item["size"]:
            return self._refuse(item["name"], item["size"], "the upload arrived damaged; please try again")
        item["data"] += part
        self._reply(True)

    def _end(self, content):
        item = self._files.get(_as_int(content.get("index")))
        if item is None or len(item["data"]) != item["size"]:
            name = item["name"] if item else ""
            return self._refuse(name, item["size"] if item else 0, "the upload is incomplete; please try again")
        item["complete"] = True
        self._reply(True)

    def _finish(self, content):
        count = _as_int(content.get("count"))
        if count != len(self._files) or not all(f["complete"] for f in self._files.values()):
            return self._refuse("", 0, "the upload is incomplete; please try again")
        items = tuple({"name": f["name"], "type": f["type"], "size": f["size"], "last_modified": f["last_modified"],
                       "content": memoryview(bytes(f["data"]))} for _, f in sorted(self._files.items()))
        self._files.clear()
        self._reply(True)
        self.value = ()  # the same file chosen twice is still a new upload
        self.value = items


def _as_int(value) -> int:
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return -1
