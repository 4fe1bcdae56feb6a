"""Imported once by the isolated-reader fork server (see :mod:`battlab.io.isolate`).

Readers imported here are already loaded in every child, so an isolated read does not
pay their import time again. The fork server only skips modules that raise ImportError;
anything else would stop it, so this module never raises.
"""

try:
    from battlab.io.registry import _import_readers

    _import_readers()
    import battlab.tem.io  # noqa: F401  DM/TIA/EMD readers of the TEM app
except Exception:  # noqa: BLE001  a reader that fails to import is imported (and reported) in the child
    pass
