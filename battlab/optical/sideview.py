"""Side-view (cross-section) operando optical analysis: thickness, stage fractions, front.

Each frame is cropped to a region of interest and turned so that depth runs away from
the separator (``separator=`` names the edge that faces it). Per frame:

* colour classes (:func:`battlab.optical.classify_pixels`) give, column by column, the
  share of electrode pixels; the longest run of electrode columns locates the electrode;
* both electrode edges are refined to sub-pixel accuracy on the row-averaged RGB depth
  profile: with the colours ``A`` outside and ``B`` inside, each column's projection
  ``p = (c − A)·(B − A)/|B − A|²`` is the fraction of the column covered by the electrode,
  and the edge is where those fractions add up (exact for an edge blurred by pixel
  area, whatever the colours);
* thickness h = collector edge − separator edge, expansion ε = h/h₀ − 1 (h₀: the
  reference frame); edges measured in each frame make h, ε and front depth independent
  of stage drift;
* stage area fractions inside the electrode, the lithiation index Σ fᵢ·xᵢ (x in LixC6);
* the lithiation front: the deepest column (from the separator face) whose pixels are
  mostly in ``front_stages`` (red LiC12 / gold LiC6), refined the same way;
* a kymograph column: the row-averaged colour along depth.

Frames are read one at a time from the (lazy) movie, so memory does not grow with the
movie length.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.optical.colour import (
    UNCLASSIFIED,
    classify_pixels,
    default_calibration,
    to_colour_space,
)

__all__ = [
    "SEPARATOR_SIDES",
    "PowerLawFront",
    "SideViewResult",
    "analyze_movie",
    "estimate_sideview_drift",
    "expansion_by_cycle",
    "first_lithiation_end_s",
    "fit_front_kinetics",
    "measure_frame",
    "orient",
    "provenance",
]

SEPARATOR_SIDES = ("left", "right", "top", "bottom")


def _check_side(separator):
    if separator not in SEPARATOR_SIDES:
        raise InvalidParameterError(f"separator must be one of {SEPARATOR_SIDES} (the image edge that faces "
                                    f"the separator), not {separator!r}.")


def orient(frame, separator: str = "left"):
    """View of a (y, x, ...) frame with depth along axis 1, increasing away from the separator."""
    _check_side(separator)
    f = np.asarray(frame)
    if separator in ("top", "bottom"):
        f = np.swapaxes(f, 0, 1)
    if separator in ("right", "bottom"):
        f = f[:, ::-1]
    return f


def _roi_slices(roi, shape):
    ny, nx = shape
    if roi is None:
        return slice(0, ny), slice(0, nx)
    try:
        y0, y1, x0, x1 = (round(float(v)) for v in roi)
    except (TypeError, ValueError):
        raise InvalidParameterError("roi must be (y0, y1, x0, x1) in pixels.") from None
    y0, x0 = max(y0, 0), max(x0, 0)
    y1, x1 = min(y1, ny), min(x1, nx)
    if y1 - y0 < 1 or x1 - x0 < 16:
        raise InvalidParameterError(f"roi {tuple(roi)} leaves {max(y1 - y0, 0)}×{max(x1 - x0, 0)} px of the "
                                    f"{ny}×{nx} frame; it needs ≥ 1 row and ≥ 16 px along depth.")
    return slice(y0, y1), slice(x0, x1)


def _refine_edge(profile, last_in_before: int, *, inside_left: bool, reach: int = 3):
    """Sub-pixel edge between columns ``last_in_before`` and ``+1`` of an (n, 3) profile."""
    n = len(profile)
    j = last_in_before
    lo, hi = j - reach + 1, j + reach  # window of columns around the boundary
    a_idx, b_idx = (hi + 1, lo - 1) if inside_left else (lo - 1, hi + 1)  # outside, inside references
    if lo < 0 or hi >= n or min(a_idx, b_idx) < 0 or max(a_idx, b_idx) >= n:
        return j + 0.5
    A, B = profile[a_idx], profile[b_idx]
    d = B - A
    norm = float(d @ d)
    if norm < 1e-6:
        return j + 0.5
    p = np.clip((profile[lo:hi + 1] - A) @ d / norm, 0.0, 1.0)  # fraction of each column that is "inside"
    return lo - 0.5 + (p.sum() if inside_left else (1.0 - p).sum())


def _bridge(mask, max_gap):
    mask = np.asarray(mask, bool).copy()
    idx = np.flatnonzero(mask)
    for a, b in itertools.pairwise(idx):
        if 1 < b - a <= max_gap + 1:
            mask[a:b] = True
    return mask


def _longest_run(mask):
    best, start, best_rng = 0, None, None
    for i, v in enumerate(np.append(mask, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best:
                best, best_rng = i - start, (start, i - 1)
            start = None
    return best_rng


def measure_frame(frame, *, separator: str = "left", roi=None, calibration: pd.DataFrame | None = None,
                  max_delta_e: float = 25.0, front_stages=("LiC12", "LiC6"), full_scale: float | None = None,
                  colour_space: str = "lab") -> dict:
    """Electrode edges, thickness (px), stage fractions and front of one RGB frame.

    Parameters
    ----------
    frame : (y, x, 3) array
        One RGB frame (image coordinates).
    separator : {"left", "right", "top", "bottom"}
        Image edge that faces the separator.
    roi : (y0, y1, x0, x1), optional
        Pixel box to analyse (image coordinates, half-open); the whole frame by default.
    calibration, max_delta_e
        Colour classes (:func:`battlab.optical.default_calibration`) and ΔE cutoff.
    colour_space : {"lab", "hsv"}
        Space in which pixels are compared with the calibration centroids.
    front_stages : sequence of str
        Classes that count as lithiated for the front.
    full_scale : float, optional
        White level of a float frame in counts (e.g. 255 for a drift-corrected 8-bit
        movie); float frames are otherwise taken as 0..1.

    Returns
    -------
    dict
        ``separator_edge_px`` and ``collector_edge_px`` (image coordinate along the depth
        axis, sub-pixel), ``thickness_px``, ``front_depth_px`` (from the separator face),
        ``delithiated_depth_px`` (depth of the emptied layer next to the separator: 0
        while the face is lithiated), ``fraction_<stage>`` per electrode stage plus ``fraction_unclassified``,
        ``lithiation_index``, and ``profile`` (depth, 3): the row-averaged colour of the
        oriented ROI, for the kymograph.
    """
    table = default_calibration() if calibration is None else calibration
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise InvalidParameterError("side-view colour analysis needs RGB frames (y, x, 3).")
    ys, xs = _roi_slices(roi, frame.shape[:2])
    crop = orient(frame[ys, xs], separator)
    rgb = crop.astype(np.float32)
    profile = rgb.mean(axis=0)
    classes = classify_pixels(to_colour_space(crop if full_scale is None else rgb / float(full_scale), colour_space),
                              table, max_delta_e=max_delta_e, is_lab=True, colour_space=colour_space)
    stages = list(table["stage"])
    is_el = table["electrode"].to_numpy(dtype=bool) if "electrode" in table else np.ones(len(stages), bool)
    el_idx = np.flatnonzero(is_el)
    electrode_cols = np.isin(classes, el_idx).mean(axis=0) > 0.5
    out = {"separator_edge_px": np.nan, "collector_edge_px": np.nan, "thickness_px": np.nan,
           "front_depth_px": np.nan, "delithiated_depth_px": np.nan, "lithiation_index": np.nan, "profile": profile}
    for k in el_idx:
        out[f"fraction_{stages[k]}"] = np.nan
    out[f"fraction_{UNCLASSIFIED}"] = np.nan
    # a column of mixed pixels at a band boundary can look like a neighbour (gold + red ≈ copper):
    # bridge gaps of up to max_gap_px columns before taking the longest electrode run
    run = _longest_run(_bridge(electrode_cols, 3))
    if run is None:
        return out
    a, b = run
    e_sep = _refine_edge(profile, a - 1, inside_left=False)
    e_cc = _refine_edge(profile, b, inside_left=True)
    # back to image coordinates along the depth axis
    depth_axis_start = (ys if separator in ("top", "bottom") else xs).start
    depth_axis_stop = (ys if separator in ("top", "bottom") else xs).stop
    flip = separator in ("right", "bottom")

    def to_image(pos):
        return depth_axis_stop - 1 - pos if flip else depth_axis_start + pos

    out["separator_edge_px"] = to_image(e_sep)
    out["collector_edge_px"] = to_image(e_cc)
    out["thickness_px"] = e_cc - e_sep
    inside = np.arange(crop.shape[1])
    inside = inside[(inside > e_sep) & (inside < e_cc)]
    region = classes[:, inside]
    n = region.size
    xs_li = table["lithium_x"].to_numpy(dtype=float) if "lithium_x" in table else np.full(len(stages), np.nan)
    index, counted = 0.0, 0
    for k in el_idx:
        cnt = int((region == k).sum())
        out[f"fraction_{stages[k]}"] = cnt / n if n else np.nan
        if np.isfinite(xs_li[k]):
            index += cnt * xs_li[k]
            counted += cnt
    out[f"fraction_{UNCLASSIFIED}"] = float((~np.isin(region, el_idx)).sum()) / n if n else np.nan
    out["lithiation_index"] = index / counted if counted else np.nan
    lith_idx = [stages.index(s) for s in front_stages if s in stages]
    if lith_idx and len(inside):
        lit = np.isin(region, lith_idx).mean(axis=0) >= 0.5
        if lit.any():
            cols = np.flatnonzero(lit)
            last = inside[cols[-1]]
            out["front_depth_px"] = _refine_edge(profile, int(last), inside_left=True) - e_sep
            # delithiation empties the electrode from the separator: depth of the emptied layer
            out["delithiated_depth_px"] = 0.0 if cols[0] == 0 else \
                _refine_edge(profile, int(inside[cols[0]]) - 1, inside_left=False) - e_sep
        else:
            out["front_depth_px"] = 0.0
    return out


@dataclass
class SideViewResult:
    """Per-frame metrics and the kymograph of a side-view movie.

    Attributes
    ----------
    frames : DataFrame
        One row per frame: ``frame``, ``time_s``, edges (px), ``thickness_um``,
        ``expansion``, ``front_depth_um``, stage fractions, ``lithiation_index`` and, when
        a cycling table was given, the per-frame electrochemistry of
        :func:`battlab.imaging.per_frame_echem` (``voltage_V``, ``capacity_mAh``, …).
    kymograph : xarray.DataArray
        Row-averaged colour (time, depth, channel), depth in µm from the ROI edge on the
        separator side.
    parameters : dict
        Everything needed to repeat the analysis.
    """

    frames: pd.DataFrame
    kymograph: object
    parameters: dict = field(default_factory=dict)


#: Pixel sizes of light microscopes (µm/px). Above the upper bound the likely slip is nm/px
#: typed as µm/px; below the lower one, mm/px.
PLAUSIBLE_PIXEL_SIZE_UM = (0.01, 100.0)


def _pixel_size(movie, pixel_size_um):
    px = pixel_size_um if pixel_size_um is not None else movie.attrs.get("pixel_size_um", np.nan)
    try:
        px = float(px)
    except (TypeError, ValueError):
        px = np.nan
    if not (np.isfinite(px) and px > 0):
        raise MissingDataError("the pixel size is unknown: give pixel_size_um (µm per pixel, from the "
                               "microscope calibration) so thicknesses and fronts come out in µm.")
    low, high = PLAUSIBLE_PIXEL_SIZE_UM
    if not low <= px <= high:
        import warnings

        from battlab.errors import BattlabWarning

        hint = "nm given as µm? 500 nm/px is 0.5 µm/px" if px > high else "mm given as µm? 0.0005 mm/px is 0.5 µm/px"
        # The numbers stay as asked (they are deterministic); the warning names the likely slip.
        warnings.warn(f"a pixel size of {px:g} µm/px is outside the {low:g}–{high:g} µm/px of light microscopes "
                      f"({hint}); thicknesses and fronts scale with it.", BattlabWarning, stacklevel=3)
    return px


def analyze_movie(movie, *, pixel_size_um: float | None = None, separator: str = "left", roi=None,
                  calibration: pd.DataFrame | None = None, max_delta_e: float = 25.0,
                  front_stages=("LiC12", "LiC6"), reference_frame: int = 0, echem: pd.DataFrame | None = None,
                  clock_offset_s: float = 0.0, frames=None, drift=None, colour_space: str = "lab",
                  drift_channel="luminance") -> SideViewResult:
    """Per-frame thickness, expansion, stage fractions, lithiation front and kymograph.

    Parameters
    ----------
    movie : xarray.DataArray
        (time, y, x, channel) RGB movie, e.g. :func:`battlab.imaging.open_movie` (lazy:
        frames are read one at a time).
    pixel_size_um : float, optional
        µm per pixel; required unless the movie records it.
    separator, roi, calibration, max_delta_e, front_stages, colour_space
        See :func:`measure_frame`.
    reference_frame : int
        Frame whose thickness is h₀ for the expansion.
    echem : DataFrame, optional
        Cycling table; joined per frame with :func:`battlab.imaging.per_frame_echem`.
    clock_offset_s : float
        Cycler time = frame time + offset.
    frames : sequence of int, optional
        Analyse only these frame indices (default all).
    drift : DataFrame or "auto", optional
        Stage drift per frame (``dy_px``, ``dx_px``, from
        :func:`battlab.imaging.estimate_drift`), or ``"auto"`` to measure it with
        :func:`estimate_sideview_drift` (the table and its confidence become columns
        ``drift_dy_px``, ``drift_dx_px``, ``drift_confidence``). The edges and the
        kymograph are moved back by the drift along depth, so they are in sample
        coordinates (the frames themselves are not resampled: the depth profile is shifted
        in 1-D). Thickness, expansion, fractions and front depth are measured from the
        electrode's own edges in every frame and do not need it; keep the electrode
        inside the ROI in every frame.
    drift_channel : "luminance", "mean" or int
        Image correlated for ``drift="auto"`` (see :func:`battlab.imaging.estimate_drift`).
    """
    if not hasattr(movie, "dims") or tuple(movie.dims) != ("time", "y", "x", "channel"):
        raise InvalidParameterError("movie must be a (time, y, x, channel) DataArray from battlab.imaging.open_movie.")
    _check_side(separator)
    px = _pixel_size(movie, pixel_size_um)
    measured = _measure_movie(movie, separator=separator, roi=roi, calibration=calibration, max_delta_e=max_delta_e,
                              front_stages=front_stages, reference_frame=reference_frame, frames=frames,
                              drift=drift, colour_space=colour_space, drift_channel=drift_channel)
    return _calibrate(measured, movie, pixel_size_um=px, reference_frame=reference_frame, echem=echem,
                      clock_offset_s=clock_offset_s)


@dataclass
class _Measured:
    """What :func:`analyze_movie` measures in pixels and frame numbers, before any calibration."""

    rows: pd.DataFrame  # one row per frame: edges, thickness and depths in px, fractions
    profiles: np.ndarray  # (frame, depth, channel) row-averaged colour, in sample coordinates
    drift_table: pd.DataFrame | None
    parameters: dict


def _measure_movie(movie, *, separator="left", roi=None, calibration=None, max_delta_e=25.0,
                   front_stages=("LiC12", "LiC6"), reference_frame=0, frames=None, drift=None, colour_space="lab",
                   drift_channel="luminance") -> _Measured:
    """The per-frame measurement of :func:`analyze_movie`: it depends on the pixels only.

    Kept apart from the calibration (pixel size, frame times, the cycling join) so that an
    app re-measures a movie only when something that changes the pixels' reading moves.
    """
    n = movie.sizes["time"]
    idx = np.arange(n) if frames is None else np.asarray(frames, dtype=int)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
        raise InvalidParameterError(f"frames must be indices in 0..{n - 1}.")
    ys, xs = _roi_slices(roi, (movie.sizes["y"], movie.sizes["x"]))
    table = default_calibration() if calibration is None else calibration
    drift_table = None
    skipped = None
    if isinstance(drift, str):
        if drift != "auto":
            raise InvalidParameterError("drift must be a drift table (battlab.imaging.estimate_drift), 'auto' or None.")
        try:
            drift = drift_table = estimate_sideview_drift(movie, separator=separator, roi=roi, calibration=table,
                                                          max_delta_e=max_delta_e, reference_frame=reference_frame,
                                                          channel=drift_channel, colour_space=colour_space,
                                                          whole_roi_fallback=False)
        except MissingDataError as exc:
            import warnings

            from battlab.errors import BattlabWarning

            drift = None
            skipped = str(exc)
            warnings.warn(skipped, BattlabWarning, stacklevel=3)
    elif drift is not None:
        drift_table = drift
    along = None
    if drift is not None:
        if not {"dy_px", "dx_px"} <= set(drift.columns) or len(drift) != n:
            raise InvalidParameterError(f"drift must have one row per frame ({n}) with dy_px and dx_px "
                                        "(battlab.imaging.estimate_drift).")
        shifts = drift[["dy_px", "dx_px"]].to_numpy(float)
        if not np.all(np.isfinite(shifts)):
            raise InvalidParameterError("the drift table holds non-finite shifts.")
        # Only the drift along depth moves what is measured: edges are moved back and the row-averaged
        # profile is shifted in 1-D, which is exact and far cheaper than resampling every frame.
        along = shifts[:, 0] if separator in ("top", "bottom") else shifts[:, 1]
    rows, profiles = [], []
    for i in idx:
        checkpoint()  # an app stops here when its user has already moved on
        # one frame in memory at a time; the ROI is cut before reading
        frame = np.asarray(movie.isel(time=int(i), y=ys, x=xs).values)
        m = measure_frame(frame, separator=separator, calibration=table, max_delta_e=max_delta_e,
                          front_stages=front_stages, colour_space=colour_space)
        prof = m.pop("profile")
        for key in ("separator_edge_px", "collector_edge_px"):
            m[key] += (ys if separator in ("top", "bottom") else xs).start
            if along is not None:
                m[key] -= along[i]  # image → sample coordinates
        if along is not None:
            # content moved by +along in the image: by ±along along depth (depth runs away from the separator)
            s_depth = -along[i] if separator in ("right", "bottom") else along[i]
            pos = np.arange(len(prof), dtype=float)
            prof = np.stack([np.interp(pos + s_depth, pos, prof[:, c], left=np.nan, right=np.nan)
                             for c in range(prof.shape[1])], axis=1).astype(np.float32)
        profiles.append(prof)
        rows.append({"frame": int(i), **m})
    df = pd.DataFrame(rows)
    if drift_table is not None:
        for col in ("dy_px", "dx_px", "confidence"):
            if col in drift_table:
                df[f"drift_{col}"] = drift_table[col].to_numpy(float)[idx]
    params = {"separator": separator, "roi": None if roi is None else [int(v) for v in roi],
              "max_delta_e": float(max_delta_e), "front_stages": list(front_stages),
              "calibration": table.to_dict(orient="records"), "n_frames": len(idx),
              "drift_corrected": drift is not None, "colour_space": colour_space,
              "drift": ({"skipped": skipped} if skipped else None) if drift_table is None
              else drift_table.attrs.get("battlab", {}).get("drift")}
    return _Measured(rows=df, profiles=np.asarray(profiles, dtype=np.float32), drift_table=drift_table,
                     parameters=params)


def _calibrate(measured: _Measured, movie, *, pixel_size_um, reference_frame=0, echem=None, clock_offset_s=0.0
               ) -> SideViewResult:
    """Lengths in µm, frame times, expansion against the reference frame and the cycling join."""
    import xarray as xr

    px = float(pixel_size_um)
    df = measured.rows.copy()
    n = movie.sizes["time"]
    times = movie["time_s"].to_numpy() if "time_s" in movie.coords else np.arange(n, dtype=float)
    idx = df["frame"].to_numpy(int)
    df.insert(1, "time_s", times[idx].astype(float))
    df["thickness_um"] = df["thickness_px"] * px
    ref = df.loc[df["frame"] == reference_frame, "thickness_um"]
    h0 = float(ref.iloc[0]) if len(ref) else float(df["thickness_um"].dropna().iloc[0]) \
        if df["thickness_um"].notna().any() else np.nan
    df["expansion"] = df["thickness_um"] / h0 - 1.0
    df["expansion_pct"] = 100.0 * df["expansion"]
    df["front_depth_um"] = df["front_depth_px"] * px
    df["delithiated_depth_um"] = df["delithiated_depth_px"] * px
    # the drift columns stay last, as the measurement left them
    drift_cols = [c for c in df.columns if c.startswith("drift_")]
    df = df[[c for c in df.columns if c not in drift_cols] + drift_cols]
    lead = ["frame", "time_s", "thickness_um", "expansion", "expansion_pct", "front_depth_um", "lithiation_index"]
    df = df[lead + [c for c in df.columns if c not in lead]]
    if echem is not None:
        from battlab.imaging import per_frame_echem

        sub = movie.isel(time=idx)
        ec = per_frame_echem(sub, echem, clock_offset_s=clock_offset_s)
        df = df.merge(ec.drop(columns=["time_s"]), on="frame", how="left")
    depth = measured.profiles.shape[1]
    kymo = xr.DataArray(measured.profiles, dims=("time", "depth", "channel"),
                        coords={"time_s": ("time", df["time_s"].to_numpy()), "frame": ("time", df["frame"].to_numpy()),
                                "depth_um": ("depth", np.arange(depth) * px)},
                        name="mean_colour", attrs={"pixel_size_um": px, "separator": measured.parameters["separator"]})
    m = measured.parameters
    params = {"pixel_size_um": px, "separator": m["separator"], "roi": m["roi"], "max_delta_e": m["max_delta_e"],
              "front_stages": m["front_stages"], "reference_frame": int(reference_frame),
              "clock_offset_s": float(clock_offset_s), "calibration": m["calibration"], "n_frames": m["n_frames"],
              "drift_corrected": m["drift_corrected"], "colour_space": m["colour_space"], "drift": m["drift"]}
    df.attrs["battlab"] = {"analysis": "battlab.optical.analyze_movie", **{k: v for k, v in params.items()
                                                                            if k != "calibration"}}
    return SideViewResult(frames=df, kymograph=kymo, parameters=params)


def estimate_sideview_drift(movie, *, separator: str = "left", roi=None, calibration: pd.DataFrame | None = None,
                            max_delta_e: float = 25.0, reference_frame: int = 0, channel="luminance",
                            band_px: int = 24, colour_space: str = "lab", min_confidence: float = 0.3,
                            whole_roi_fallback: bool = True) -> pd.DataFrame:
    """Stage drift of a colour side-view movie, from the region that should stand still.

    The electrode's separator face moves as it swells and its colours change as it
    lithiates, but the current collector does not: the drift is measured by sub-pixel
    phase correlation (:func:`battlab.imaging.estimate_drift`) of a band ``±band_px``
    around the collector edge of the reference frame, all along the ROI's lateral extent.
    When no collector edge is found the whole ROI is used (noted in the attrs).

    Parameters
    ----------
    movie : xarray.DataArray
        (time, y, x, channel) movie (colour or grey).
    separator, roi, calibration, max_delta_e, colour_space
        As :func:`analyze_movie`: locate the collector edge in the reference frame.
    channel : "luminance", "mean" or int
        Image that is correlated: Rec. 601 luminance of RGB (default), the channel mean,
        or one channel.
    band_px : int
        Half width of the band around the collector edge (px).
    min_confidence : float
        Frames with a lower correlation peak (0–1) are listed in a warning.
    whole_roi_fallback : bool
        Without a collector edge, correlate the whole ROI (True) or raise
        :class:`~battlab.errors.MissingDataError` (False: the scene may not be a side view).

    Returns
    -------
    DataFrame
        As :func:`battlab.imaging.estimate_drift` (``dy_px``, ``dx_px``, ``confidence``…);
        ``attrs["battlab"]["drift"]`` adds ``region`` (y0, y1, x0, x1 correlated),
        ``min_confidence`` and ``low_confidence_frames``.
    """
    import warnings

    from battlab.errors import BattlabWarning
    from battlab.imaging import estimate_drift

    _check_side(separator)
    ny, nx = movie.sizes["y"], movie.sizes["x"]
    ys, xs = _roi_slices(roi, (ny, nx))
    y0, y1, x0, x1 = ys.start, ys.stop, xs.start, xs.stop
    where = "the collector edge"
    cc = np.nan
    if movie.sizes["channel"] == 3:
        ref = np.asarray(movie.isel(time=int(reference_frame), y=ys, x=xs).values)
        m = measure_frame(ref, separator=separator, calibration=calibration, max_delta_e=max_delta_e,
                          colour_space=colour_space)
        cc = m["collector_edge_px"]
    if np.isfinite(cc):
        c = int(round(cc + (ys if separator in ("top", "bottom") else xs).start))
        if separator in ("left", "right"):
            x0, x1 = max(x0, c - band_px), min(x1, c + band_px)
        else:
            y0, y1 = max(y0, c - band_px), min(y1, c + band_px)
    elif not whole_roi_fallback:
        raise MissingDataError("drift not corrected: no current-collector edge was found in the reference frame "
                               "(the part of a side view that should stand still); check the separator side and "
                               "ROI, or pass a drift table from battlab.imaging.estimate_drift.")
    else:
        where = "the whole ROI (no collector edge found in the reference frame)"
    drift = estimate_drift(movie, reference=int(reference_frame), roi=(slice(y0, y1), slice(x0, x1)),
                           channel=channel)
    lateral = "dy_px" if separator in ("left", "right") else "dx_px"
    textured = _has_lateral_texture(np.asarray(movie.isel(time=int(reference_frame), y=slice(y0, y1),
                                                          x=slice(x0, x1)).values), separator)
    if not textured:
        # a scene uniform along the interface (a straight electrode seen edge-on) fixes nothing along it:
        # the correlation ridge is flat there, so that component is noise; keep the depth component only
        drift[lateral] = 0.0
        drift[lateral.replace("_px", "_um")] = 0.0
    conf = drift["confidence"].to_numpy(float)
    low = [int(f) for f in drift.loc[conf < min_confidence, "frame"]]
    drift.attrs["battlab"]["drift"].update(region=[int(y0), int(y1), int(x0), int(x1)], region_from=where,
                                           lateral_measured=bool(textured),
                                           min_confidence=float(np.nanmin(conf)), low_confidence_frames=low)
    if low:
        warnings.warn(f"drift correction: {len(low)} frame(s) correlate poorly with the reference (confidence < "
                      f"{min_confidence:g}, e.g. frame {low[0]}); their drift is unreliable — check for focus "
                      "changes or a blocked view.", BattlabWarning, stacklevel=2)
    return drift


def _has_lateral_texture(region, separator) -> bool:
    """True when the region varies along the interface by clearly more than its noise."""
    g = np.asarray(region, dtype=np.float32)
    g = g.mean(axis=-1) if g.ndim == 3 else g
    g = orient(g, separator)  # rows: lateral position, columns: depth
    if g.shape[0] < 4 or g.shape[1] < 4:
        return False
    lateral_sd = float(np.median(g.std(axis=0)))
    # pixel noise from neighbouring differences along depth (median |X − Y| = 0.954 σ for Gaussian noise)
    noise = float(np.median(np.abs(np.diff(g, axis=1)))) / 0.954
    return lateral_sd > 2.0 * max(noise, 1e-6)


def expansion_by_cycle(frames: pd.DataFrame) -> pd.DataFrame:
    """Peak and residual expansion and recovery ratio of every cycle.

    ``frames`` needs ``expansion`` and a ``cycle`` column (from the cycling join; without
    it the whole movie is one cycle). Residual = expansion at the cycle's last frame;
    recovery ratio = (peak − residual) / peak.
    """
    if "expansion" not in frames:
        raise InvalidParameterError("frames needs an 'expansion' column (from analyze_movie).")
    df = frames.copy()
    if "cycle" not in df or df["cycle"].isna().all():
        df["cycle"] = 1
    rows = []
    for cyc, g in df.dropna(subset=["expansion", "cycle"]).groupby("cycle"):
        if int(cyc) < 1:
            continue
        peak = float(g["expansion"].max())
        resid = float(g["expansion"].iloc[-1])
        rows.append({"cycle": int(cyc), "frames": len(g), "peak_expansion_pct": 100 * peak,
                     "peak_time_s": float(g["time_s"].iloc[int(np.argmax(g["expansion"].to_numpy()))]),
                     "residual_expansion_pct": 100 * resid,
                     "recovery_ratio": (peak - resid) / peak if peak > 0 else np.nan})
    return pd.DataFrame(rows, columns=["cycle", "frames", "peak_expansion_pct", "peak_time_s",
                                       "residual_expansion_pct", "recovery_ratio"])


class PowerLawFront:
    """Front kinetics ``x = k·(t − t0)ⁿ`` (n = 0.5: diffusion-limited), fitted by least squares.

    Attributes after :meth:`fit`: ``k``, ``n``, ``k_stderr``, ``n_stderr`` (from the
    covariance of the fit), ``r2``, ``t0_s``, ``n_points``.
    """

    def __init__(self, *, t0_s: float = 0.0):
        self.t0_s = float(t0_s)
        self.k = self.n = self.k_stderr = self.n_stderr = self.r2 = np.nan
        self.n_points = 0

    def fit(self, time_s, front_um):
        from scipy.optimize import curve_fit

        t = np.asarray(time_s, dtype=float) - self.t0_s
        x = np.asarray(front_um, dtype=float)
        ok = np.isfinite(t) & np.isfinite(x) & (t > 0) & (x > 0)
        if ok.sum() < 3:
            raise MissingDataError("fewer than 3 frames with a lithiation front after t0; the front kinetics "
                                   "need the front visible in more frames (check the colour classes/ROI).")
        t, x = t[ok], x[ok]
        slope, icpt = np.polyfit(np.log(t), np.log(x), 1)  # start from the log-log line
        try:
            (k, n), cov = curve_fit(lambda tt, k, n: k * tt ** n, t, x, p0=(np.exp(icpt), slope), maxfev=5000)
        except RuntimeError:
            raise MissingDataError("the front kinetics fit x = k·tⁿ did not converge; check that the front "
                                   "grows with time in the frames used.") from None
        resid = x - k * t ** n
        self.k, self.n = float(k), float(n)
        err = np.sqrt(np.diag(cov)) if np.all(np.isfinite(cov)) else (np.nan, np.nan)
        self.k_stderr, self.n_stderr = float(err[0]), float(err[1])
        self.r2 = float(1 - resid @ resid / np.sum((x - x.mean()) ** 2)) if len(x) > 1 else np.nan
        self.n_points = len(x)
        return self

    def predict(self, time_s):
        t = np.clip(np.asarray(time_s, dtype=float) - self.t0_s, 0.0, None)
        return self.k * t ** self.n

    def as_dict(self) -> dict:
        return {"k_um_per_s_n": self.k, "k_stderr": self.k_stderr, "n": self.n, "n_stderr": self.n_stderr,
                "r2": self.r2, "t0_s": self.t0_s, "n_points": self.n_points}


def fit_front_kinetics(frames: pd.DataFrame, *, t0_s: float | None = None, until_s: float | None = None) -> PowerLawFront:
    """Fit x_f = k·(t − t0)ⁿ to ``front_depth_um`` vs ``time_s`` of an :func:`analyze_movie` table.

    ``t0_s`` defaults to the first frame; ``until_s`` limits the fit to the lithiation
    (e.g. the end of the first lithiation half cycle).
    """
    if not {"time_s", "front_depth_um"} <= set(frames.columns):
        raise InvalidParameterError("frames needs time_s and front_depth_um (from analyze_movie).")
    df = frames
    if until_s is not None:
        df = df[df["time_s"] <= until_s]
    t0 = float(frames["time_s"].iloc[0]) if t0_s is None else float(t0_s)
    return PowerLawFront(t0_s=t0).fit(df["time_s"], df["front_depth_um"])


def provenance(result: SideViewResult, movie, echem=None, *, analysis: str = "battlab.optical.analyze_movie",
               extra: dict | None = None, command: str | None = None):
    """A :class:`battlab.provenance.Provenance` for a side-view analysis (movie + cycling inputs)."""
    from battlab.provenance import Provenance, data_input

    inputs = [{"name": movie.attrs.get("source_name"), "sha256": movie.attrs.get("source_sha256"),
               "format": movie.attrs.get("source_format")}]
    meta = getattr(echem, "attrs", {}).get("battlab", {}) if echem is not None else {}
    if meta:
        inputs.append(data_input(meta))
    params = {**result.parameters, **(extra or {})}
    return Provenance(analysis=analysis, parameters=params, inputs=inputs, command=command)


def first_lithiation_end_s(frames: pd.DataFrame):
    """Time (s) of the last frame of the first run of negative-current frames, or None.

    Used to limit the front-kinetics fit to the first lithiation (graphite half cell:
    lithiation is negative current); None without per-frame current.
    """
    if "current_A" not in frames or frames["current_A"].isna().all():
        return None
    neg = (frames["current_A"].to_numpy(float) < 0)
    if not neg.any():
        return None
    start = int(np.argmax(neg))
    stop = start
    while stop + 1 < len(neg) and neg[stop + 1]:
        stop += 1
    return float(frames["time_s"].iloc[stop])


def relative_depth_of_charge(frames: pd.DataFrame, *, lithiation_current_sign: int = -1) -> pd.DataFrame:
    """Relative depth of charge d* vs relative time τ for every half cycle.

    On lithiation d* = front depth / thickness; on delithiation d* = depth of the emptied
    layer next to the separator / thickness; τ runs from 0 to 1 over the frames of each
    half cycle (``half_cycle`` from the cycling join). ``lithiation_current_sign``: the
    sign of the current while the observed electrode lithiates (−1 in a graphite ‖ Li
    half cell).

    Returns
    -------
    DataFrame
        ``cycle``, ``half_cycle``, ``process`` ("lithiation"/"delithiation"), ``frame``,
        ``time_s``, ``tau``, ``relative_depth``.
    """
    need = {"half_cycle", "current_A", "time_s", "front_depth_um", "delithiated_depth_um", "thickness_um"}
    if not need <= set(frames.columns):
        raise MissingDataError("relative depth of charge needs the per-frame cycling join (analyze_movie with "
                               "echem=) so that half cycles are known.")
    rows = []
    for (cyc, half), g in frames.dropna(subset=["half_cycle"]).groupby(["cycle", "half_cycle"]):
        if int(half) < 1 or len(g) < 2:
            continue
        lith = np.sign(np.nanmedian(g["current_A"])) == np.sign(lithiation_current_sign)
        depth = g["front_depth_um"] if lith else g["delithiated_depth_um"]
        t = g["time_s"].to_numpy(float)
        tau = (t - t[0]) / (t[-1] - t[0])
        rows.append(pd.DataFrame({"cycle": int(cyc), "half_cycle": int(half),
                                  "process": "lithiation" if lith else "delithiation", "frame": g["frame"].to_numpy(),
                                  "time_s": t, "tau": tau,
                                  "relative_depth": (depth / g["thickness_um"]).to_numpy(float)}))
    if not rows:
        raise MissingDataError("no half cycle with at least two frames; check clock_offset_s.")
    return pd.concat(rows, ignore_index=True)


def depth_hysteresis(rel: pd.DataFrame, *, n_points: int = 101) -> pd.DataFrame:
    """Gap between the lithiation and delithiation d*(τ) curves of each cycle.

    Both curves are interpolated onto a common τ grid; ``max_gap`` is the largest
    |d*_lith − d*_delith| and ``area`` the mean gap (the area between the curves over τ ∈ [0, 1]).
    """
    grid = np.linspace(0.0, 1.0, n_points)
    rows = []
    for cyc, g in rel.groupby("cycle"):
        curves = {}
        for proc, h in g.groupby("process"):
            ok = h["relative_depth"].notna()
            if ok.sum() >= 2:
                curves[proc] = np.interp(grid, h.loc[ok, "tau"], h.loc[ok, "relative_depth"])
        if len(curves) == 2:
            gap = np.abs(curves["lithiation"] - curves["delithiation"])
            rows.append({"cycle": int(cyc), "max_gap": float(gap.max()), "area": float(np.trapezoid(gap, grid))})
    return pd.DataFrame(rows, columns=["cycle", "max_gap", "area"])


def compare_cycles(frames_by_cycle, *, lithiation_current_sign: int = -1, n_points: int = 101):
    """Relative depth of charge, hysteresis and front kinetics of several cycles side by side.

    Parameters
    ----------
    frames_by_cycle : DataFrame or dict
        One :func:`analyze_movie` frames table (with the cycling join) whose ``cycle``
        column holds several cycles, or ``{label: frames}`` for cycles recorded as
        separate movies (e.g. ``{"cycle 1": ..., "cycle 10": ...}``).
    lithiation_current_sign : int
        See :func:`relative_depth_of_charge`.
    n_points : int
        τ grid of the hysteresis (:func:`depth_hysteresis`).

    Returns
    -------
    curves : DataFrame
        ``label``, ``process``, ``tau``, ``relative_depth`` (and ``time_s``, ``frame``):
        d*(τ) of every cycle and process, ready to overlay.
    summary : DataFrame
        One row per label: ``lithiation_s`` and ``delithiation_s`` (half-cycle
        durations), ``final_lithiation_depth`` (d* at the end of lithiation),
        ``front_k_um_per_s_n``, ``front_n`` (x = k·tⁿ over that lithiation),
        ``k_ratio_to_first`` (front rate relative to the first label: < 1 is slower),
        ``max_gap`` and ``area`` (lithiation/delithiation hysteresis).
    """
    if isinstance(frames_by_cycle, pd.DataFrame):
        if "cycle" not in frames_by_cycle:
            raise MissingDataError("the frames table has no cycle column: analyse the movie with echem= first.")
        items = [(f"cycle {int(c)}", g) for c, g in frames_by_cycle.dropna(subset=["cycle"]).groupby("cycle")
                 if int(c) >= 1]
    elif isinstance(frames_by_cycle, dict) and frames_by_cycle:
        items = list(frames_by_cycle.items())
    else:
        raise InvalidParameterError("give a frames table with a cycle column or a {label: frames} dict.")
    curves, rows = [], []
    for label, frames in items:
        rel = relative_depth_of_charge(frames, lithiation_current_sign=lithiation_current_sign)
        rel = rel.assign(cycle=1)  # one cycle per label for the hysteresis
        hyst = depth_hysteresis(rel, n_points=n_points)
        curves.append(rel.assign(label=str(label))[["label", "process", "tau", "relative_depth", "time_s", "frame"]])
        row = {"label": str(label)}
        for proc in ("lithiation", "delithiation"):
            g = rel[rel["process"] == proc]
            row[f"{proc}_s"] = float(g["time_s"].iloc[-1] - g["time_s"].iloc[0]) if len(g) else np.nan
        lith = rel[rel["process"] == "lithiation"]
        row["final_lithiation_depth"] = float(lith["relative_depth"].iloc[-1]) if len(lith) else np.nan
        row["front_k_um_per_s_n"] = row["front_n"] = np.nan
        if len(lith) >= 3:
            sub = frames[frames["frame"].isin(lith["frame"])]
            try:
                fit = fit_front_kinetics(sub, t0_s=float(lith["time_s"].iloc[0]))
                row["front_k_um_per_s_n"], row["front_n"] = fit.k, fit.n
            except MissingDataError:
                pass
        row["max_gap"] = float(hyst["max_gap"].iloc[0]) if len(hyst) else np.nan
        row["area"] = float(hyst["area"].iloc[0]) if len(hyst) else np.nan
        rows.append(row)
    summary = pd.DataFrame(rows)
    summary["k_ratio_to_first"] = summary["front_k_um_per_s_n"] / summary["front_k_um_per_s_n"].iloc[0]
    return pd.concat(curves, ignore_index=True), summary
