"""battlab's private working folders (uploads, isolated-reader scratch)."""

import os
from pathlib import Path


def private_folder(env_var: str, name: str) -> Path:
    """``$env_var`` if set, else ``~/.cache/battlab/<name>`` (or under ``$XDG_CACHE_HOME``).

    Created on first use, readable by the user only.
    """
    configured = os.environ.get(env_var)
    if configured:
        root = Path(configured)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "battlab" / name
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root
