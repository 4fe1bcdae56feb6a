"""Readers and writers. ``battlab.load`` detects the format and returns canonical data."""

from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, detect, formats, load
from battlab.io.schema import BDF_LABELS

__all__ = ["load", "detect", "formats", "Format", "Source", "DEFAULT_MAX_BYTES", "BDF_LABELS",
           "write_bdf_csv", "read_bdf_csv"]


def write_bdf_csv(df, path, **kwargs):
    """Write a canonical table as Battery Data Format CSV (atomically)."""
    from battlab.io.bdf import write_bdf_csv as _w

    return _w(df, path, **kwargs)


def read_bdf_csv(source, **kwargs):
    """Read a Battery Data Format CSV into the canonical schema."""
    from battlab.io.bdf import read_bdf_csv as _r

    return _r(source, **kwargs)
