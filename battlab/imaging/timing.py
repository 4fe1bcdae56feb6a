"""Put movie frames on the cycler's timeline.

Each frame gets the cell's potential, current, cycle labels and the charge passed up to
the frame's instant. The join itself is :func:`battlab.correlate.align_to_cycling`
(one implementation for every time series recorded beside a cycler): cumulative charge
is the cycler's own row increments (:mod:`battlab.echem.cycling`), interpolated at the
frame time; labels and current come from the cycler interval that contains the frame.

Clocks: frame time ``t`` (``time_s`` of the movie) is matched to the cycler at
``test_time_s = t + clock_offset_s``. With ``time_basis="unix"`` the movie's absolute
start (``movie_start_unix_s``) is added first and matched to ``unix_time_s``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import MissingDataError

__all__ = ["per_frame_echem", "FRAME_ECHEM_COLUMNS"]

FRAME_ECHEM_COLUMNS = ("frame", "time_s", "test_time_s", "voltage_V", "current_A", "cycle", "half_cycle",
                       "direction", "charge_mAh", "capacity_mAh", "charge_C", "soc")


def _frame_times(movie_or_times):
    if hasattr(movie_or_times, "coords") and "time_s" in getattr(movie_or_times, "coords", {}):
        movie = movie_or_times
        if movie.attrs.get("time_known") is False:
            raise MissingDataError(
                f"{movie.attrs.get('source_name', 'the movie')} has no frame times (time_s is the frame index): "
                "reopen it with frame_rate_fps= or timestamps= before syncing it with the cycler.")
        t = np.asarray(movie["time_s"].to_numpy(), dtype=float)
        frames = movie["frame"].to_numpy() if "frame" in movie.coords else np.arange(len(t))
        return frames, t, movie.attrs.get("source_name", "movie")
    t = np.asarray(movie_or_times, dtype=float).ravel()
    return np.arange(len(t)), t, "frame times"


def per_frame_echem(movie_or_times, echem_df: pd.DataFrame, *, clock_offset_s: float = 0.0,
                    time_basis: str = "test", movie_start_unix_s: float | None = None, cell_type: str = "auto",
                    rest_current_A: float | None = None) -> pd.DataFrame:
    """Electrochemistry at every frame: an as-of join of frame times onto a cycling table.

    Parameters
    ----------
    movie_or_times : xarray.DataArray or array-like
        A movie from :func:`battlab.imaging.open_movie` (its ``time_s``) or frame times
        in seconds.
    echem_df : DataFrame
        Canonical cycling table (``test_time_s``, ``voltage_V``, ``current_A``; optional
        ``unix_time_s``), e.g. from :func:`battlab.load`.
    clock_offset_s : float
        Cycler time = frame time + offset (s): the cycler's test time when the first
        frame was taken, if the two were not started together.
    time_basis : {"test", "unix"}
        Match to ``test_time_s`` (default) or to ``unix_time_s`` using
        ``movie_start_unix_s`` (the wall-clock time of frame 0).
    cell_type, rest_current_A
        Passed to :func:`battlab.echem.cycling.label_cycles`.

    Returns
    -------
    DataFrame
        One row per frame, in frame order: ``frame``, ``time_s`` (movie clock),
        ``test_time_s``, ``voltage_V`` (interpolated), ``current_A``, ``cycle``,
        ``half_cycle``, ``direction``, ``charge_mAh`` (net charge passed since the start
        of the cycling record, ∫I dt, positive for charge current), ``capacity_mAh``
        (the same charge counted from the first frame), ``charge_C`` and ``soc``. Frames
        outside the cycling record keep their row with NaN electrochemistry (a
        :class:`~battlab.errors.BattlabWarning` says how many).
    """
    from battlab.correlate.timeline import echem_at

    frames, t, name = _frame_times(movie_or_times)
    if len(t) == 0:
        raise MissingDataError("no frames to sync.")
    if time_basis == "unix" and movie_start_unix_s is None:
        raise MissingDataError("time_basis='unix' needs movie_start_unix_s (the wall-clock time of frame 0, "
                               "in Unix seconds); or use the default test-time basis with clock_offset_s.")
    out = echem_at(t, echem_df, clock_offset_s=clock_offset_s, time_basis=time_basis,
                   start_unix_s=movie_start_unix_s, cell_type=cell_type, rest_current_A=rest_current_A,
                   label=f"frames of {name}")
    out.insert(0, "frame", frames)
    out.attrs["battlab"]["movie"] = name
    return out
