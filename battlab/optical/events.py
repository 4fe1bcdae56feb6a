"""Rare events in operando movies and cycler logs: sudden shorts and crack onset, as (x, y, t).

Two detectors, one table:

* **Voltage collapse** (a soft short in a symmetric Li‖Li cell): the cell voltage drops
  to a small fraction of its recent magnitude from one cycler row to the next while the
  current keeps its sign and size (so a current step or a rest is not mistaken for a
  short). :func:`voltage_collapse_events`.
* **Sudden local change** in the movie (crack onset in a solid electrolyte, a filament
  bridging the gap): the frame-to-frame difference, thresholded at ``threshold_sigma``
  times its robust noise level (median absolute deviation), minus what merely continues
  a change of the previous frame (a front or a growing deposit advancing steadily), and
  without the changes that run along the whole interface (uniform growth, drift):
  each remaining connected patch is an event at its contrast-weighted centroid.
  :func:`local_change_events`.

:func:`find_events` runs both and gives a short the position of the movie change seen
within ``match_frames`` of it, so every event carries (x, y, t) when the movie shows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["EVENT_COLUMNS", "find_events", "local_change_events", "voltage_collapse_events"]

EVENT_COLUMNS = ("event", "kind", "frame", "time_s", "test_time_s", "x_px", "y_px", "x_um", "y_um", "area_px",
                 "contrast", "elongation", "voltage_before_V", "voltage_after_V")


def voltage_collapse_events(echem: pd.DataFrame, *, min_drop_fraction: float = 0.6, n_before: int = 3,
                            n_after: int = 2, min_voltage_V: float = 0.002) -> pd.DataFrame:
    """Sudden collapses of the cell voltage magnitude at unchanged current (soft shorts).

    A collapse is abrupt (the row before is still at the earlier level, so a voltage
    that slides down a plateau's end over several rows is not one) and it lasts (the
    ``n_after`` following rows at the same current stay collapsed).

    Parameters
    ----------
    echem : DataFrame
        Cycling table with ``test_time_s``, ``voltage_V`` and ``current_A``.
    min_drop_fraction : float
        A row whose |V| is below ``(1 − min_drop_fraction)`` × the median |V| of the
        ``n_before`` preceding rows is a collapse (0.6: it lost 60 % of its magnitude).
    n_before : int
        Rows that set the level before the collapse.
    n_after : int
        Rows after the collapse, at the same current, that must stay collapsed.
    min_voltage_V : float
        The level before must exceed this (a cell already at ~0 V cannot collapse).

    Returns
    -------
    DataFrame
        ``test_time_s`` (cycler clock), ``voltage_before_V``, ``voltage_after_V``,
        ``drop_fraction``; one row per collapse (the first row of each).
    """
    need = {"test_time_s", "voltage_V", "current_A"}
    if echem is None or not need <= set(echem.columns):
        raise MissingDataError("voltage-collapse detection needs a cycling table with test_time_s, voltage_V "
                               "and current_A (battlab.load of the cycler file).")
    if not 0 < min_drop_fraction < 1:
        raise InvalidParameterError("min_drop_fraction must be between 0 and 1, e.g. 0.6.")
    t = echem["test_time_s"].to_numpy(float)
    v = echem["voltage_V"].to_numpy(float)
    i = echem["current_A"].to_numpy(float)
    rows = []
    k, m = int(n_before), int(n_after)

    def same_current(a, b):  # not a current step, a rest or a reversal between rows a and b
        return np.sign(i[a]) == np.sign(i[b]) and i[b] != 0 and abs(i[a]) > 0.5 * abs(i[b])

    low = 1 - min_drop_fraction
    for j in range(k, len(v) - m):
        level = float(np.median(np.abs(v[j - k:j])))
        if not (np.isfinite(level) and level > min_voltage_V) or abs(v[j]) >= low * level:
            continue
        abrupt = abs(v[j - 1]) > (1 - min_drop_fraction / 3) * level
        lasts = all(same_current(j + a, j) and abs(v[j + a]) < low * level for a in range(1, m + 1))
        if abrupt and lasts and same_current(j, j - 1):
            rows.append({"test_time_s": float(t[j]), "voltage_before_V": float(np.median(v[j - k:j])),
                         "voltage_after_V": float(v[j]), "drop_fraction": 1 - abs(v[j]) / level})
    return pd.DataFrame(rows, columns=["test_time_s", "voltage_before_V", "voltage_after_V", "drop_fraction"])


def _grey(frame):
    f = np.asarray(frame, dtype=np.float32)
    return f.mean(axis=-1) if f.ndim == 3 else f


def local_change_events(movie, *, separator: str = "left", roi=None, threshold_sigma: float = 6.0,
                        min_area_px: int = 8, max_lateral_fraction: float = 0.25, continuation_px: int = 2,
                        max_step_area_px: int = 200, smooth_px: float = 1.0,
                        pixel_size_um: float | None = None) -> pd.DataFrame:
    """Sudden, localised intensity changes between consecutive frames (crack onset, new edges).

    Parameters
    ----------
    movie : xarray.DataArray
        (time, y, x, channel) movie (read two frames at a time).
    separator : {"left", "right", "top", "bottom"}
        Image edge facing the separator: the lateral axis (along the interface) is y for
        left/right, x for top/bottom.
    roi : (y0, y1, x0, x1), optional
        Pixel box searched (image coordinates, half-open).
    threshold_sigma : float
        A pixel changed when |ΔI| exceeds this many robust standard deviations of ΔI.
    min_area_px : int
        Smallest patch that counts as an event.
    max_lateral_fraction : float
        Patches longer than this fraction of the field along the interface are the
        interface itself moving (uniform growth, drift), not a local event.
    continuation_px : int
        Changes within this distance of the previous frame's changes continue a moving
        feature (front, growing dendrite) and are not new events.
    max_step_area_px : int
        A new patch that touches the previous frame's changes and is no larger than
        this is the next step of a steadily advancing feature (a dendrite tip); larger
        ones are sudden jumps (a filament bridging the gap) and count as events.
    smooth_px : float
        Gaussian smoothing (px) before differencing, against pixel noise.
    pixel_size_um : float, optional
        Adds ``x_um``/``y_um``; default the movie's ``pixel_size_um``.

    Returns
    -------
    DataFrame
        :data:`EVENT_COLUMNS` with ``kind`` "local change" (a patch that brightened or
        darkened, e.g. a crack) and x/y in image coordinates of the whole frame.
    """
    from scipy import ndimage

    from battlab.optical.sideview import _check_side, _roi_slices

    _check_side(separator)
    if threshold_sigma <= 0 or min_area_px < 1 or not 0 < max_lateral_fraction <= 1:
        raise InvalidParameterError("threshold_sigma > 0, min_area_px ≥ 1 and 0 < max_lateral_fraction ≤ 1 "
                                    "are needed.")
    n = movie.sizes["time"]
    ys, xs = _roi_slices(roi, (movie.sizes["y"], movie.sizes["x"]))
    px = pixel_size_um if pixel_size_um is not None else movie.attrs.get("pixel_size_um", np.nan)
    px = float(px) if px is not None else np.nan
    times = movie["time_s"].to_numpy() if "time_s" in movie.coords else np.arange(n, dtype=float)
    lateral_axis = 0 if separator in ("left", "right") else 1

    def frame(i):
        g = _grey(movie.isel(time=i, y=ys, x=xs).values)
        return ndimage.gaussian_filter(g, smooth_px) if smooth_px > 0 else g

    rows = []
    prev = frame(0) if n else None
    prev_mask = None
    grow = np.ones((2 * continuation_px + 1,) * 2, bool) if continuation_px > 0 else None
    for i in range(1, n):
        cur = frame(i)
        diff = cur - prev
        mad = float(np.median(np.abs(diff - np.median(diff))))
        sigma = max(1.4826 * mad, 1e-3 * max(float(np.abs(cur).max()), 1.0))
        mask = np.abs(diff) > threshold_sigma * sigma
        new = mask.copy()
        near_prev = None
        if prev_mask is not None and grow is not None:
            near_prev = ndimage.binary_dilation(prev_mask, structure=grow)
            new &= ~near_prev
            near_prev = ndimage.binary_dilation(near_prev)  # touching = one pixel beyond
        labels, count = ndimage.label(new)
        if count:
            objects = ndimage.find_objects(labels)
            for lab, sl in enumerate(objects, start=1):
                patch = labels[sl] == lab
                area = int(patch.sum())
                extent = sl[lateral_axis].stop - sl[lateral_axis].start
                if area < min_area_px or extent > max_lateral_fraction * labels.shape[lateral_axis]:
                    continue
                if near_prev is not None and area <= max_step_area_px and (near_prev[sl] & patch).any():
                    continue  # the next step of something already moving
                if np.abs(diff[sl][patch]).mean() < 1.5 * threshold_sigma * sigma:
                    continue  # barely above the threshold on average: noise along a slowly changing band
                w = np.abs(diff[sl]) * patch
                yy, xx = np.nonzero(patch)
                wt = w[yy, xx]
                cy = float((yy * wt).sum() / wt.sum()) + sl[0].start + ys.start
                cx = float((xx * wt).sum() / wt.sum()) + sl[1].start + xs.start
                cov = np.cov(np.vstack([yy, xx])) if area > 2 else np.eye(2)
                ev = np.sort(np.linalg.eigvalsh(np.atleast_2d(cov)))
                elong = float(np.sqrt(ev[-1] / max(ev[0], 1e-3))) if ev[-1] > 0 else 1.0
                rows.append({"kind": "local change", "frame": i, "time_s": float(times[i]), "test_time_s": np.nan,
                             "x_px": cx, "y_px": cy, "x_um": cx * px, "y_um": cy * px, "area_px": area,
                             "contrast": float((diff[sl] * patch).sum() / area), "elongation": elong,
                             "voltage_before_V": np.nan, "voltage_after_V": np.nan})
        prev, prev_mask = cur, mask
    out = pd.DataFrame(rows, columns=[c for c in EVENT_COLUMNS if c != "event"])
    out.insert(0, "event", np.arange(1, len(out) + 1))
    return out


def find_events(movie=None, echem: pd.DataFrame | None = None, *, clock_offset_s: float = 0.0,
                match_frames: int = 1, separator: str = "left", roi=None, min_drop_fraction: float = 0.6,
                threshold_sigma: float = 6.0, min_area_px: int = 8,
                max_lateral_fraction: float = 0.25, local_events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Shorts from the cycler log and sudden local changes from the movie, as one (x, y, t) table.

    Parameters
    ----------
    movie : xarray.DataArray, optional
        (time, y, x, channel) movie; searched with :func:`local_change_events`.
    echem : DataFrame, optional
        Cycling table; searched with :func:`voltage_collapse_events`.
    clock_offset_s : float
        Cycler time = frame time + offset (s).
    match_frames : int
        A short takes the position of a movie change seen within this many frames of
        it (that change is then not listed again).
    separator, roi, threshold_sigma, min_area_px, max_lateral_fraction
        See :func:`local_change_events`.
    min_drop_fraction : float
        See :func:`voltage_collapse_events`.
    local_events : DataFrame, optional
        The :func:`local_change_events` table of this movie, from an earlier call with the
        same search options, to use instead of searching the movie again (their times are
        read from ``movie``'s frame times, which may have been set since).

    Returns
    -------
    DataFrame
        :data:`EVENT_COLUMNS`, sorted by time: ``kind`` is "short (voltage collapse)" or
        "local change"; ``frame`` is the first frame at or after the event; ``time_s``
        is on the movie clock and ``test_time_s`` on the cycler's. A short with no
        matching movie change has NaN x/y.
    """
    if movie is None and echem is None:
        raise MissingDataError("give a movie, a cycling table or both to look for events.")
    if local_events is not None and movie is not None:
        n = movie.sizes["time"]
        frame_times = (movie["time_s"].to_numpy().astype(float) if "time_s" in movie.coords
                       else np.arange(n, dtype=float))
        frames = local_events["frame"].to_numpy(int)
        if len(frames) and (frames.min() < 0 or frames.max() >= n):
            raise InvalidParameterError("local_events lists frames this movie does not have.")
        local = local_events.assign(time_s=frame_times[frames])
    elif movie is not None and movie.sizes["time"] > 1:
        local = local_change_events(movie, separator=separator, roi=roi, threshold_sigma=threshold_sigma,
                                    min_area_px=min_area_px, max_lateral_fraction=max_lateral_fraction)
    else:
        local = pd.DataFrame(columns=list(EVENT_COLUMNS))
    rows = []
    used = set()
    if echem is not None:
        shorts = voltage_collapse_events(echem, min_drop_fraction=min_drop_fraction)
        times = movie["time_s"].to_numpy().astype(float) if movie is not None and "time_s" in movie.coords else None
        for _, s in shorts.iterrows():
            t_movie = s["test_time_s"] - clock_offset_s
            row = {"kind": "short (voltage collapse)", "frame": np.nan, "time_s": t_movie,
                   "test_time_s": s["test_time_s"], "x_px": np.nan, "y_px": np.nan, "x_um": np.nan,
                   "y_um": np.nan, "area_px": np.nan, "contrast": np.nan, "elongation": np.nan,
                   "voltage_before_V": s["voltage_before_V"], "voltage_after_V": s["voltage_after_V"]}
            if times is not None:
                after = np.flatnonzero(times >= t_movie - 1e-9)
                if after.size:
                    f = int(after[0])
                    row["frame"] = f
                    near = local[(np.abs(local["frame"].astype(float) - f) <= match_frames)
                                 & ~local.index.isin(used)]
                    if len(near):
                        best = near.loc[near["area_px"].astype(float).idxmax()]
                        used.add(best.name)
                        for key in ("x_px", "y_px", "x_um", "y_um", "area_px", "contrast", "elongation"):
                            row[key] = best[key]
            rows.append(row)
    rest = local[~local.index.isin(used)].drop(columns=["event"])
    if len(rest) and movie is not None:
        rest = rest.assign(test_time_s=rest["time_s"].astype(float) + clock_offset_s if echem is not None
                           else np.nan)
    frames = [f for f in (pd.DataFrame(rows), rest) if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EVENT_COLUMNS[1:]))
    out = out.sort_values("time_s", kind="stable").reset_index(drop=True)
    out.insert(0, "event", np.arange(1, len(out) + 1))
    out = out[list(EVENT_COLUMNS)]
    out.attrs["battlab"] = {"analysis": "battlab.optical.find_events", "clock_offset_s": float(clock_offset_s),
                            "threshold_sigma": float(threshold_sigma), "min_drop_fraction": float(min_drop_fraction),
                            "min_area_px": int(min_area_px), "max_lateral_fraction": float(max_lateral_fraction)}
    return out
