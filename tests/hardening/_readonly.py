"""A read-only copy of input files, and the sha256 snapshot that proves they stay unchanged."""

import hashlib
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, keyed by relative path (new files show up too)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def readonly_copy(sources, folder: Path):
    """Copy ``sources`` (folders' contents or single files) into ``folder`` and make it read-only.

    Yields the folder; afterwards makes it writable again so pytest can clean up. Root
    ignores the permission bits, so callers prove safety with :func:`snapshot`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        source = Path(source)
        if source.is_dir():
            shutil.copytree(source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.md"))
        else:
            shutil.copy(source, folder)
    for p in sorted(folder.rglob("*"), reverse=True):
        p.chmod(stat.S_IRUSR | stat.S_IXUSR if p.is_dir() else stat.S_IRUSR)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        yield folder
    finally:
        for p in [folder, *folder.rglob("*")]:
            if p.is_dir():
                p.chmod(stat.S_IRWXU)
