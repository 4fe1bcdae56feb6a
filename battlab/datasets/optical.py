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

__all__ = ["make_electrode_movie", "write_movie", "MOVIE_FORMATS"]

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
