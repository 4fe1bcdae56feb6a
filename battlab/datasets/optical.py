"""Synthetic side-view operando optical movie with exact ground truth.

A cross-section of an electrode beside the electrolyte, seen through a cell window: the
electrode (x < interface) is a textured band-limited pattern (a sum of random plane
waves), the electrolyte a faint smooth background. Stage drift moves the whole scene by
a known sub-pixel offset per frame; because the texture is an analytic sum of sinusoids
it is evaluated at the shifted coordinates exactly (no interpolation error), so drift
estimates can be checked to a few hundredths of a pixel. The interface can advance at a
known rate (e.g. a growing deposit) for later interface-tracking analyses.

:func:`write_movie` writes any movie array to the formats :func:`battlab.imaging.open_movie`
reads (TIFF, ImageJ/OME-TIFF with frame times, PNG/JPEG/TIFF sequences, zip, MP4/AVI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from battlab.datasets._base import Demo
from battlab.errors import InvalidParameterError
from battlab.optical.colour import GRAPHITE_RGB

__all__ = ["GRAPHITE_COLORS", "MOVIE_FORMATS", "make_electrode_movie", "make_graphite_movie", "make_plating_movie", "write_movie"]

MOVIE_FORMATS = ("tiff", "imagej-tiff", "ome-tiff", "png-folder", "tiff-folder", "jpeg-folder", "zip", "mp4",
                 "avi")


def _scene(yy, xx, waves, interface_x, edge_px):
    """Intensity 0..1 of the drift-free scene at (possibly shifted) coordinates."""
    ky, kx, phase, amp = waves
    tex = np.zeros(np.broadcast(yy, xx).shape)
    for a, b, p, m in zip(ky, kx, phase, amp, strict=True):
        tex += m * np.cos(2 * np.pi * (a * yy + b * xx) + p)
    tex /= np.sum(amp) * 0.5
    electrode = 0.55 + 0.35 * np.clip(tex, -1, 1)
    electrolyte = 0.18 + 0.02 * np.cos(2 * np.pi * yy / 97.0)
    inside = 1.0 / (1.0 + np.exp((xx - interface_x) / edge_px))  # 1 in the electrode
    return electrolyte + (electrode - electrolyte) * inside


def make_electrode_movie(*, n_frames: int = 24, shape=(128, 160), pixel_size_um: float = 0.5,
                         frame_interval_s: float = 10.0, drift_px=None, interface_x_px: float = 100.0,
                         interface_speed_px_per_frame: float = 0.0, noise: float = 0.01, rgb: bool = False,
                         dtype="uint16", seed: int = 0) -> Demo:
    """A drifting electrode cross-section movie with known drift and interface position.

    Parameters
    ----------
    n_frames, shape : int, (int, int)
        Frame count and (y, x) size in pixels.
    pixel_size_um, frame_interval_s : float
        Calibration recorded in the result (coords ``y_um``, ``x_um``, ``time_s``).
    drift_px : (n_frames, 2) array, optional
        Displacement (dy, dx) of the scene in each frame, pixels. Default: a smooth
        random walk from (0, 0) with sub-pixel steps (seeded).
    interface_x_px : float
        Electrode/electrolyte interface position in frame 0 (sample coordinates, px).
    interface_speed_px_per_frame : float
        The interface advances by this much per frame (0: static).
    noise : float
        Gaussian read noise, as a fraction of full scale.
    rgb : bool
        Three identical-but-tinted colour channels instead of one.
    dtype : "uint16" or "uint8"

    Returns
    -------
    Demo
        ``data``: in-memory ``xarray.DataArray`` (time, y, x, channel) shaped like an
        :func:`~battlab.imaging.open_movie` result. ``truth``: ``dy_px``, ``dx_px`` (drift
        per frame), ``interface_x_px`` / ``interface_x_um`` (sample coordinates, per
        frame), ``interface_image_x_px`` (where it appears in each frame), the noise-free
        ``clean`` float frames, and the calibration.
    """
    import xarray as xr

    if n_frames < 1 or len(shape) != 2 or min(shape) < 8:
        raise InvalidParameterError("need n_frames ≥ 1 and frames of at least 8×8 px.")
    if np.dtype(dtype) not in (np.uint8, np.uint16):
        raise InvalidParameterError("dtype must be 'uint8' or 'uint16'.")
    rng = np.random.default_rng(seed)
    ny, nx = shape
    if drift_px is None:
        steps = rng.normal(0.0, 0.6, size=(n_frames, 2))
        steps[0] = 0.0
        drift = np.cumsum(steps, axis=0)
    else:
        drift = np.asarray(drift_px, dtype=float).reshape(n_frames, 2)
    n_waves = 60
    k = rng.uniform(0.02, 0.22, n_waves)  # cycles per pixel: band-limited, well below Nyquist
    theta = rng.uniform(0, np.pi, n_waves)
    waves = (k * np.sin(theta), k * np.cos(theta), rng.uniform(0, 2 * np.pi, n_waves), 1.0 / k)
    yy, xx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    iface = interface_x_px + interface_speed_px_per_frame * np.arange(n_frames)
    full = np.iinfo(np.dtype(dtype)).max
    tint = np.array([1.0, 0.85, 0.7]) if rgb else np.array([1.0])
    clean = np.empty((n_frames, ny, nx), dtype=float)
    frames = np.empty((n_frames, ny, nx, tint.size), dtype=dtype)
    for i, (dy, dx) in enumerate(drift):
        clean[i] = _scene(yy - dy, xx - dx, waves, iface[i], edge_px=1.5)
        img = clean[i][..., None] * tint + rng.normal(0.0, noise, size=(ny, nx, tint.size))
        frames[i] = np.clip(np.round(img * full), 0, full).astype(dtype)
    movie = xr.DataArray(
        frames, dims=("time", "y", "x", "channel"),
        coords={"time_s": ("time", np.arange(n_frames) * float(frame_interval_s)),
                "y_um": ("y", np.arange(ny) * pixel_size_um), "x_um": ("x", np.arange(nx) * pixel_size_um),
                "frame": ("time", np.arange(n_frames)), "channel": np.arange(tint.size)},
        name="intensity",
        attrs={"units": "counts", "pixel_size_um": float(pixel_size_um), "time_known": True,
               "time_source": "synthetic", "source_format": "synthetic", "source_name": "synthetic electrode movie",
               "notes": []},
    )
    truth = {"dy_px": drift[:, 0].copy(), "dx_px": drift[:, 1].copy(), "interface_x_px": iface,
             "interface_x_um": iface * pixel_size_um, "interface_image_x_px": iface + drift[:, 1],
             "pixel_size_um": float(pixel_size_um), "frame_interval_s": float(frame_interval_s), "clean": clean}
    return Demo(data=movie, truth=truth,
                description=f"{n_frames}-frame synthetic electrode cross-section, {ny}×{nx} px, known drift")


#: Colours (8-bit sRGB) of the graphite side-view demo: the default calibration's colours.
GRAPHITE_COLORS = GRAPHITE_RGB
_ELECTRODE_ORDER = ("LiC6", "LiC12", "dilute", "pristine")


def _coverage_row(nx, boundaries, names):
    """Colour of each pixel column from region boundaries (box-filtered: exact area coverage).

    ``boundaries`` are increasing image x positions (pixel centres at integers) separating
    ``names`` (one more name than boundaries); returns (nx, 3) float RGB and per-name
    coverage (nx,) arrays.
    """
    lo = np.arange(nx) - 0.5
    hi = lo + 1.0
    edges = np.concatenate([[-np.inf], np.asarray(boundaries, float), [np.inf]])
    rgb = np.zeros((nx, 3))
    cover = {}
    for k, name in enumerate(names):
        c = np.clip(np.minimum(hi, edges[k + 1]) - np.maximum(lo, edges[k]), 0.0, 1.0)
        cover[name] = cover.get(name, 0.0) + c
        rgb += c[:, None] * np.asarray(GRAPHITE_COLORS[name], float)
    return rgb, cover


def _graphite_voltage(q):
    """Lithiation-state -> OCV of the battlab graphite model (plateaus at 0.21/0.12/0.085 V)."""
    from battlab.datasets.cycling import graphite_ocv

    x, v = graphite_ocv(n_points=20_001)
    return np.interp(np.clip(q, 0.0, 1.0), x, v)


def make_graphite_movie(*, n_frames: int = 100, lithiation_frames: int = 60, shape=(120, 240),
                        pixel_size_um: float = 0.5, frame_interval_s: float = 60.0, thickness_um: float = 70.0,
                        collector_x_px: float = 200.0, front_exponent: float = 0.5, cycle: int = 1,
                        front_depth_fraction: float = 0.75, peak_expansion: float = 0.10,
                        residual_expansion: float = 0.02, drift_amplitude_px: float = 0.8, capacity_mAh: float = 1.0,
                        noise: float = 3.0, seed: int = 0) -> Demo:
    """Side-view operando movie of a graphite electrode lithiating from the separator, with truth.

    The depth axis is image x: separator (light) on the left, the electrode, then the
    copper current collector on the right. During lithiation (the first
    ``lithiation_frames``) the lithiated region grows from the separator as
    ``x_f = k·t**n`` (t from the first frame): gold LiC6 for depth < 0.55·x_f, red LiC12 up
    to x_f, a 10 px dark-blue dilute band ahead of the front, grey pristine graphite
    beyond. During delithiation a dark-blue delithiated layer grows from the separator
    with the same law. The thickness follows the state of charge q:
    ``h = h0·(1 + ε_peak·q)`` on lithiation and ``h0·(1 + ε_res + (ε_peak − ε_res)·q)``
    on delithiation (the collector side is fixed, the separator face moves). Every region
    boundary is box-filtered into the pixels, so edges are known to sub-pixel accuracy.
    A small known drift ``dx`` moves the whole scene.

    Parameters
    ----------
    cycle : int
        Cycle number recorded in the cycling table; the front rate ``k`` falls by 3 % per
        cycle (cycle 10 lithiates visibly slower), so ``front_depth_fraction`` is reached
        only in cycle 1.
    front_depth_fraction : float
        Front depth at the end of lithiation in cycle 1, as a fraction of ``h0``.
    capacity_mAh : float
        Charge of a full lithiation in the matching cycling table.
    noise : float
        Gaussian noise, 8-bit counts.

    Returns
    -------
    Demo
        ``data``: ``{"movie": DataArray (time, y, x, channel) uint8 RGB, "echem": cycling
        table on the movie clock}``. ``truth``: per-frame arrays ``time_s``,
        ``separator_x_px``, ``collector_x_px`` (image coordinates, drift included),
        ``thickness_um``, ``expansion``, ``front_depth_px``/``front_depth_um`` (NaN after
        lithiation), ``delithiated_depth_px`` (emptied layer at the separator: 0 during
        lithiation), ``fractions`` (DataFrame of stage area fractions), ``dx_px``, and
        ``k_um_s_n``, ``n``, ``peak_expansion``, ``residual_expansion``, ``recovery_ratio``.
    """
    import pandas as pd
    import xarray as xr

    from battlab.io import schema as S

    if not (2 <= lithiation_frames < n_frames):
        raise InvalidParameterError("need 2 ≤ lithiation_frames < n_frames.")
    ny, nx = shape
    px = float(pixel_size_um)
    h0_px = thickness_um / px
    if collector_x_px - h0_px * (1 + peak_expansion) < 10 or collector_x_px > nx - 10:
        raise InvalidParameterError("the electrode does not fit in the frame; widen shape or move collector_x_px.")
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) * float(frame_interval_s)
    t_lith_end = t[lithiation_frames - 1]
    slow = 0.97 ** (cycle - 1)
    k_px = front_depth_fraction * h0_px / t_lith_end ** front_exponent * slow
    lith = np.arange(n_frames) < lithiation_frames
    # state of charge: linear in time under constant current
    t_del = t[lithiation_frames:] - t_lith_end
    q = np.where(lith, t / t_lith_end, 0.0)
    q[~lith] = 1.0 - t_del / (t[-1] - t_lith_end + frame_interval_s)
    h_px = np.where(lith, h0_px * (1 + peak_expansion * q),
                    h0_px * (1 + residual_expansion + (peak_expansion - residual_expansion) * q))
    dx = drift_amplitude_px * np.sin(2 * np.pi * np.arange(n_frames) / n_frames)
    cc = collector_x_px + dx
    sep = cc - h_px
    front = np.where(lith, k_px * t ** front_exponent, np.nan)
    x_end = k_px * t_lith_end ** front_exponent
    blue_px = 10.0
    frames = np.empty((n_frames, ny, nx, 3), dtype=np.uint8)
    fractions = []
    emptied = np.zeros(n_frames)
    for i in range(n_frames):
        if lith[i]:
            depths = [0.55 * front[i], front[i], front[i] + (blue_px if front[i] > 0 else 0.0)]
            names = ["LiC6", "LiC12", "dilute", "pristine"]
        else:
            xd = k_px * t_del[i - lithiation_frames + 0] ** front_exponent if i >= lithiation_frames else 0.0
            ends = [0.55 * x_end, x_end, x_end + blue_px]
            # delithiated dark-blue layer from the separator over the end-of-lithiation bands
            depths = [xd] + [max(d, xd) for d in ends]
            emptied[i] = xd if xd < x_end else np.nan
            names = ["dilute", "LiC6", "LiC12", "dilute", "pristine"]
        depths = np.minimum(depths, h_px[i])
        bounds = [sep[i], *(sep[i] + depths), cc[i]]
        rgb, _ = _coverage_row(nx, bounds, ["separator", *names, "collector"])
        widths = {name: 0.0 for name in _ELECTRODE_ORDER}
        for name, a, b in zip(names, [0.0, *depths], [*depths, h_px[i]], strict=True):
            widths[name] += max(b - a, 0.0)
        fractions.append({f"fraction_{n}": widths[n] / h_px[i] for n in _ELECTRODE_ORDER})
        img = rgb[None, :, :] + rng.normal(0.0, noise, size=(ny, nx, 3))
        frames[i] = np.clip(np.round(img), 0, 255).astype(np.uint8)
    movie = xr.DataArray(
        frames, dims=("time", "y", "x", "channel"),
        coords={"time_s": ("time", t), "y_um": ("y", np.arange(ny) * px), "x_um": ("x", np.arange(nx) * px),
                "frame": ("time", np.arange(n_frames)), "channel": np.arange(3)},
        name="intensity",
        attrs={"units": "counts", "pixel_size_um": px, "time_known": True, "time_source": "synthetic",
               "source_format": "synthetic", "source_name": f"synthetic graphite side view, cycle {cycle}",
               "notes": []},
    )
    # Cycling table on the movie clock: constant current, lithiation (negative) then delithiation.
    t_end = t[-1] + frame_interval_s
    current_A = capacity_mAh / 1e3 * 3600.0 / t_lith_end
    tt = np.linspace(0.0, t_end, 4 * n_frames + 1)
    q_tt = np.where(tt <= t_lith_end, tt / t_lith_end, 1.0 - (tt - t_lith_end) / (t_end - t_lith_end))
    i_tt = np.where(tt <= t_lith_end, -current_A, current_A)
    v_tt = _graphite_voltage(q_tt) + 8.0 * i_tt
    echem = pd.DataFrame({S.TEST_TIME: tt, S.VOLTAGE: v_tt, S.CURRENT: i_tt})
    meta = S.empty_metadata(format_name="battlab-demo", source_name="demo:graphite-side-view-cycling", sha256="")
    meta.update(technique="cycling", notes=["synthetic cycling matching battlab.datasets.make_graphite_movie"])
    echem.attrs["battlab"] = meta
    thickness_um = h_px * px
    expansion = h_px / h0_px - 1.0
    peak = float(expansion.max())
    resid = float(expansion[-1])
    truth = {"time_s": t, "separator_x_px": sep, "collector_x_px": cc, "thickness_um": thickness_um,
             "thickness_0_um": float(thickness_um[0]), "expansion": expansion, "front_depth_px": front,
             "front_depth_um": front * px,
             "delithiated_depth_px": emptied, "fractions": pd.DataFrame(fractions), "dx_px": dx,
             "k_um_s_n": k_px * px, "n": float(front_exponent), "lithiation_frames": int(lithiation_frames),
             "peak_expansion": peak, "residual_expansion": resid, "recovery_ratio": (peak - resid) / peak,
             "pixel_size_um": px, "frame_interval_s": float(frame_interval_s), "cycle": int(cycle),
             "lithiation_current_A": current_A, "separator": "left"}
    return Demo(data={"movie": movie, "echem": echem}, truth=truth,
                description=f"graphite side view, cycle {cycle}: √t lithiation front, colour bands, "
                            f"{peak_expansion:.0%} expansion")


def make_plating_movie(*, n_frames: int = 36, shape=(120, 200), pixel_size_um: float = 0.5,
                       frame_interval_s: float = 300.0, current_density_mA_cm2: float = 1.0, area_cm2: float = 1.0,
                       porosity: float = 0.3, onset_frame: float = 24.5, dendrite_rate_um_per_frame: float = 4.0,
                       n_dendrites: int = 3, interface_x_px: float = 170.0, noise: float = 2.0,
                       strip_frames: int = 0, dead_li_fraction: float = 0.25, short_frame: float | None = None,
                       crack_frame: int | None = None, seed: int = 0) -> Demo:
    """Side view of lithium plating on a Li electrode: dense/mossy layer, then dendrites; with truth.

    Depth is image x: electrolyte (dark) on the left towards the separator, lithium metal
    (bright) on the right from ``interface_x_px``. Plating at constant current density grows
    a uniform layer ``h = h_F / (1 − porosity)`` (h_F: Faraday thickness, 4.85 µm per
    mAh/cm²; porosity 0 = dense, > 0 = mossy); from ``onset_frame`` (may be fractional:
    an onset between frames) ``n_dendrites`` Gaussian protrusions (4 px wide) grow by
    ``dendrite_rate_um_per_frame``. The interface is box-filtered into pixels on every row.

    Options for the later life of the cell:

    * ``strip_frames`` > 0: the last ``strip_frames`` frames strip all the plated charge
      back (current reversed); the deposit shrinks linearly to ``dead_li_fraction`` of
      its largest height, which stays behind as dead lithium.
    * ``short_frame``: a soft short (the symmetric cell's voltage collapses to 8 % of its
      magnitude at ``short_frame × frame_interval_s``) and, from the next frame on, a
      3-row metal filament from the tallest dendrite tip across the electrolyte to
      x = 12 px.
    * ``crack_frame``: from this frame on, a bright 16 × 2 px line in the electrolyte
      (a crack in a solid electrolyte scatters light), far from the dendrites.

    Returns
    -------
    Demo
        ``data``: ``{"movie", "echem"}`` as :func:`make_graphite_movie`. ``truth``: per frame
        ``height_um`` (frames × rows), ``deposit_thickness_um`` (mean), ``roughness_um``,
        ``protrusion_um``, ``faraday_thickness_um``, ``charge_mAh_cm2``; ``onset_time_s``,
        ``onset_frame`` (first frame after onset), ``dendrite_y_px``, ``porosity``, ``area_cm2``;
        with stripping ``peak_deposit_um``, ``residual_um`` and ``dead_li_fraction``; and
        ``events``: a DataFrame (``kind``, ``time_s``, ``frame``, ``x_px``, ``y_px``) of the
        short and the crack (empty without them).
    """
    import pandas as pd
    import xarray as xr

    from battlab.io import schema as S
    from battlab.optical.plating import faraday_thickness_um

    ny, nx = shape
    px = float(pixel_size_um)
    n_strip = int(strip_frames)
    if not 0 <= n_strip < n_frames - 1:
        raise InvalidParameterError("strip_frames must leave at least two plating frames.")
    rng = np.random.default_rng(seed)
    dt = float(frame_interval_s)
    t = np.arange(n_frames) * dt
    n_plate = n_frames - n_strip
    q = current_density_mA_cm2 * t / 3600.0  # mAh/cm²
    y = np.arange(ny, dtype=float)
    centres = np.sort(rng.uniform(10, ny - 10, n_dendrites))
    bumps = sum(np.exp(-0.5 * ((y - c) / 4.0) ** 2) for c in centres) if n_dendrites else np.zeros(ny)
    amp = np.clip(np.arange(n_frames) - onset_frame, 0.0, None) * dendrite_rate_um_per_frame
    strip_share = np.zeros(n_frames)  # fraction of the stripping done at each frame
    if n_strip:
        q_peak = q[n_plate - 1]
        strip_share[n_plate:] = np.arange(1, n_strip + 1) / n_strip
        q = np.where(np.arange(n_frames) < n_plate, q, q_peak * (1 - strip_share))
        amp[n_plate:] = amp[n_plate - 1]
    h_f = faraday_thickness_um(np.where(np.arange(n_frames) < n_plate, q, q[min(n_plate, n_frames) - 1]))
    uniform = h_f / (1.0 - porosity)
    if n_strip:
        uniform[n_plate:] = uniform[n_plate - 1]
        h_f = faraday_thickness_um(q)
    height = uniform[:, None] + amp[:, None] * bumps[None, :]  # µm, frames × rows
    if n_strip:
        height[n_plate:] *= (1 - (1 - dead_li_fraction) * strip_share[n_plate:])[:, None]
    if interface_x_px - height.max() / px < nx * 0.1:
        raise InvalidParameterError("the deposit grows out of the frame; widen shape or shorten the movie.")
    lo = np.arange(nx) - 0.5
    frames = np.empty((n_frames, ny, nx, 3), dtype=np.uint8)
    dark, bright = 50.0, 190.0
    events = []
    short_first = None if short_frame is None else int(np.ceil(short_frame))
    fil_rows = None
    if short_frame is not None:
        if not n_dendrites:
            raise InvalidParameterError("a short needs a dendrite to grow from (n_dendrites ≥ 1).")
        tallest = int(np.argmax(amp[short_first] * bumps if short_first < n_frames else bumps))
        fil_rows = np.arange(tallest - 1, tallest + 2)
        tip = interface_x_px - height[min(short_first, n_frames - 1), tallest] / px
        events.append({"kind": "short", "time_s": float(short_frame * dt), "frame": short_first,
                       "x_px": (12.0 + tip) / 2, "y_px": float(tallest)})
    crack_rows = crack_cols = None
    if crack_frame is not None:
        # the row farthest from every dendrite, and from the filament
        far = np.min(np.abs(y[:, None] - np.append(centres, [-1e9])[None, :]), axis=1)
        far[:6] = far[-6:] = -1
        yc = int(np.argmax(far))
        crack_rows, crack_cols = slice(yc - 1, yc + 1), slice(22, 38)
        events.append({"kind": "crack", "time_s": float(crack_frame * dt), "frame": int(crack_frame),
                       "x_px": 29.5, "y_px": yc - 0.5})
    for i in range(n_frames):
        s = interface_x_px - height[i] / px  # interface per row, px
        if fil_rows is not None and i >= short_first:
            s = s.copy()
            s[fil_rows] = 12.0  # the filament: metal across the electrolyte
        cov = np.clip(lo[None, :] + 1.0 - s[:, None], 0.0, 1.0)
        img = dark + (bright - dark) * cov
        if crack_rows is not None and i >= crack_frame:
            img[crack_rows, crack_cols] += 45.0
        img = img + rng.normal(0.0, noise, size=(ny, nx))
        frames[i] = np.clip(np.round(img), 0, 255).astype(np.uint8)[..., None]
    movie = xr.DataArray(
        frames, dims=("time", "y", "x", "channel"),
        coords={"time_s": ("time", t), "y_um": ("y", y * px), "x_um": ("x", np.arange(nx) * px),
                "frame": ("time", np.arange(n_frames)), "channel": np.arange(3)},
        name="intensity",
        attrs={"units": "counts", "pixel_size_um": px, "time_known": True, "time_source": "synthetic",
               "source_format": "synthetic", "source_name": "synthetic Li plating side view", "notes": []},
    )
    tt = np.linspace(0.0, t[-1] + dt, 4 * n_frames + 1)
    i_plate = -current_density_mA_cm2 * area_cm2 / 1e3
    v = -0.03 - 0.005 * np.sqrt(tt / tt[-1])
    cur = np.full_like(tt, i_plate)
    if n_strip:
        t_peak = t[n_plate - 1]
        stripping = tt > t_peak + 1e-9
        # the plated charge comes back over the stripping frames
        cur[stripping] = -i_plate * t_peak / (t[-1] - t_peak)
        v[stripping] = -v[stripping]
    if short_frame is not None:
        v[tt >= short_frame * dt] *= 0.08
    echem = pd.DataFrame({S.TEST_TIME: tt, S.VOLTAGE: v, S.CURRENT: cur})
    meta = S.empty_metadata(format_name="battlab-demo", source_name="demo:li-plating-cycling", sha256="")
    meta.update(technique="cycling", notes=["synthetic Li plating matching battlab.datasets.make_plating_movie"])
    echem.attrs["battlab"] = meta
    med = np.median(height, axis=1)
    truth = {"time_s": t, "height_um": height, "deposit_thickness_um": height.mean(axis=1),
             "roughness_um": height.std(axis=1), "protrusion_um": height.max(axis=1) - med,
             "faraday_thickness_um": h_f, "charge_mAh_cm2": q, "onset_time_s": float(onset_frame * dt),
             "onset_frame": int(np.ceil(onset_frame)), "dendrite_y_px": centres, "porosity": float(porosity),
             "area_cm2": float(area_cm2), "pixel_size_um": px, "separator": "left",
             "current_density_mA_cm2": float(current_density_mA_cm2),
             "events": pd.DataFrame(events, columns=["kind", "time_s", "frame", "x_px", "y_px"]),
             "strip_frames": n_strip}
    if n_strip:
        peak = float(height[n_plate - 1].mean())
        truth.update(peak_deposit_um=peak, residual_um=float(height[-1].mean()), dead_li_fraction=float(dead_li_fraction))
    extra = []
    if n_strip:
        extra.append(f"stripped over {n_strip} frames leaving {dead_li_fraction:.0%} dead Li")
    if short_frame is not None:
        extra.append(f"short at frame {short_frame:g}")
    if crack_frame is not None:
        extra.append(f"crack at frame {crack_frame}")
    return Demo(data={"movie": movie, "echem": echem}, truth=truth,
                description=f"Li plating side view at {current_density_mA_cm2:g} mA/cm², porosity {porosity:.0%}, "
                            f"{n_dendrites} dendrites from frame {onset_frame:g}"
                            + ("; " + ", ".join(extra) if extra else ""))


def write_movie(frames, path, *, format: str = "tiff", frame_interval_s: float | None = None,
                pixel_size_um: float | None = None, fps: float = 10.0) -> Path:
    """Write a (time, y, x[, channel]) array or movie to disk in one of :data:`MOVIE_FORMATS`.

    ``imagej-tiff`` and ``ome-tiff`` record ``frame_interval_s`` and ``pixel_size_um``;
    folder formats write ``frame_<n>.<ext>`` without zero padding (to exercise natural
    sort); ``mp4``/``avi`` are lossy 8-bit video at ``fps``.
    """
    import tifffile

    arr = np.asarray(getattr(frames, "values", frames))
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise InvalidParameterError("frames must be (time, y, x) or (time, y, x, channel).")
    if format not in MOVIE_FORMATS:
        raise InvalidParameterError(f"format must be one of {MOVIE_FORMATS}.")
    path = Path(path)
    squeeze = arr[..., 0] if arr.shape[-1] == 1 else arr
    if format == "tiff":
        tifffile.imwrite(path, squeeze, photometric="rgb" if arr.shape[-1] == 3 else "minisblack")
    elif format == "imagej-tiff":
        meta = {"axes": "TYXS" if arr.shape[-1] == 3 else "TYX"}
        if frame_interval_s is not None:
            meta["finterval"] = float(frame_interval_s)
        kw = {}
        if pixel_size_um is not None:
            kw["resolution"] = (1.0 / pixel_size_um, 1.0 / pixel_size_um)
            meta["unit"] = "um"
        tifffile.imwrite(path, squeeze, imagej=True, metadata=meta, **kw)
    elif format == "ome-tiff":
        meta = {"axes": "TYXS" if arr.shape[-1] == 3 else "TYX"}
        if frame_interval_s is not None:
            meta["TimeIncrement"] = float(frame_interval_s)
            meta["TimeIncrementUnit"] = "s"
            meta["Plane"] = {"DeltaT": [i * float(frame_interval_s) for i in range(arr.shape[0])]}
        if pixel_size_um is not None:
            meta.update(PhysicalSizeX=pixel_size_um, PhysicalSizeY=pixel_size_um)
        tifffile.imwrite(path, squeeze, ome=True, metadata=meta,
                         photometric="rgb" if arr.shape[-1] == 3 else "minisblack")
    elif format in ("png-folder", "tiff-folder", "jpeg-folder", "zip"):
        import imageio.v3 as iio

        ext = {"png-folder": "png", "tiff-folder": "tif", "jpeg-folder": "jpg", "zip": "png"}[format]
        folder = path if format != "zip" else path.with_suffix("")
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for i, frame in enumerate(squeeze):
            name = folder / f"frame_{i}.{ext}"
            if ext == "tif":
                tifffile.imwrite(name, frame)
            else:
                data = frame if ext == "png" else (frame >> 8 if frame.dtype == np.uint16 else frame).astype(np.uint8)
                iio.imwrite(name, data)
            names.append(name)
        if format == "zip":
            import zipfile

            with zipfile.ZipFile(path, "w") as zf:
                for name in reversed(names):  # stored out of order: the reader must sort
                    zf.write(name, arcname=f"frames/{name.name}")
    else:
        import imageio.v3 as iio

        data = arr if arr.dtype == np.uint8 else (arr >> 8).astype(np.uint8)
        if data.shape[-1] == 1:
            data = np.repeat(data, 3, axis=-1)
        codec = "libx264" if format == "mp4" else "mjpeg"
        iio.imwrite(path, data, plugin="FFMPEG", fps=fps, codec=codec, macro_block_size=1,
                    output_params=["-qscale:v", "2"] if format == "avi" else ["-crf", "12"])
    return path
