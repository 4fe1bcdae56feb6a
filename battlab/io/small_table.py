"""Small CSV parameter tables (landmark pairs, layer stacks) read safely.

pandas is handed the text only after the bytes are checked: a parameter table is a few
kB of text with a handful of columns. A damaged copy can hold binary bytes, an encoding
pandas cannot decode, or one line of millions of fields; pandas' de-duplication of
repeated column names is quadratic in their number, so such a header row would keep
``read_csv`` busy for hours. Each of those ends here in a battlab error.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from battlab.errors import CorruptFileError, MissingDataError, TooLargeError

__all__ = ["check_table_lines", "read_small_csv", "MAX_TABLE_BYTES", "MAX_TABLE_FIELDS", "MAX_TABLE_LINE_CHARS"]

#: Largest parameter table read (a table of thousands of rows is far below this).
MAX_TABLE_BYTES = 16 * 1024**2
#: Most fields a row of a parameter table may have.
MAX_TABLE_FIELDS = 256
#: Longest line of a text data table (profiles, curves, exported results): wide enough for
#: hundreds of columns, far below the one-line-of-megabytes a damaged copy can hold, on
#: which pandas' delimiter sniffing and column de-duplication run for minutes.
MAX_TABLE_LINE_CHARS = 20_000


def check_table_lines(lines, *, name: str, what: str, max_chars: int = MAX_TABLE_LINE_CHARS) -> None:
    """Refuse a text table with a line too long for a row, before pandas is given it."""
    longest = max((len(line) for line in lines), default=0)
    if longest > max_chars:
        raise CorruptFileError(f"{Path(name).name}: a line of {longest:,} characters; a {what} has rows of at "
                               f"most {max_chars:,}. The file is damaged or not a {what}.")


def read_small_csv(path, *, what: str, max_fields: int = MAX_TABLE_FIELDS, max_bytes: int = MAX_TABLE_BYTES,
                   **read_csv_kwargs):
    """A DataFrame from a small comma-separated table, or a battlab error saying what is wrong.

    Parameters
    ----------
    path : path
        The CSV file (read-only).
    what : str
        What the table is, for messages ("landmark table").
    read_csv_kwargs
        Passed to :func:`pandas.read_csv` (``sep`` is ``","``).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{path}: no such {what}.")
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLargeError(f"{path.name} is {size / 1e6:.1f} MB; a {what} is a small CSV file "
                            f"(at most {max_bytes / 1e6:.0f} MB).")
    with open(path, "rb") as fh:  # raw inputs are only ever opened read-only
        data = fh.read()
    if not data.strip():
        raise MissingDataError(f"{path.name} is empty; a {what} needs a header row and one row per entry.")
    if b"\x00" in data:
        raise CorruptFileError(f"{path.name} holds binary bytes; a {what} is a text CSV file. The file may be "
                               "damaged: export it again.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CorruptFileError(f"{path.name} is not text in UTF-8 or Windows-1252; a {what} is a text CSV file.")
    widest = max(line.count(",") + 1 for line in text.splitlines() or [""])
    if widest > max_fields:
        raise CorruptFileError(f"{path.name}: a row has {widest:,} fields; a {what} has a few columns "
                               f"(at most {max_fields}). The file is damaged or not a {what}.")
    try:
        return pd.read_csv(io.StringIO(text), **read_csv_kwargs)
    except pd.errors.EmptyDataError:
        raise MissingDataError(f"{path.name} holds no table; a {what} needs a header row and one row per "
                               "entry.") from None
    except (pd.errors.ParserError, ValueError, csv.Error, OverflowError) as exc:
        raise CorruptFileError(f"{path.name} is not a readable CSV {what} ({str(exc)[:200]}).") from None
