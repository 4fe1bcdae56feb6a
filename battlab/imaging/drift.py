"""Stage-drift estimation and correction by sub-pixel phase correlation.

Each frame is compared with a reference (the first frame, a chosen frame, or the previous
frame). The whitened cross-power spectrum of the two frames has an inverse transform that
peaks at their relative displacement (phase correlation); the peak is located to a
fraction of a pixel by evaluating the inverse transform on a finer grid around the
integer peak with a matrix-multiply DFT (Guizar-Sicairos, Thurman & Fienup, Opt. Lett.
33, 156, 2008). The peak height, between 0 and 1, is the confidence: 1 for a pure
translation, close to 0 when the frames share no texture (a blank or noise frame).

Sign convention: ``dy_px, dx_px`` is where the frame's content has moved to relative to
the reference, i.e. ``frame(y, x) ≈ reference(y - dy, x - dx)``.
:func:`apply_drift` shifts each frame by ``(-dy, -dx)`` to undo it.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["estimate_drift", "apply_drift", "phase_shift"]

DRIFT_COLUMNS = ("frame", "time_s", "dy_px", "dx_px", "dy_um", "dx_um", "confidence")


#: Rec. 601 luma weights: what the eye (and a colour camera's green-heavy sensor) sees as brightness.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _gray(frame, channel="mean"):
    """One 2-D float32 image from a (y, x) or (y, x, c) frame: channel mean, luminance or one channel."""
    frame = np.asarray(frame)
    if frame.ndim != 3:
        return frame.astype(np.float32)
    if channel == "mean":
        return frame.mean(axis=-1, dtype=np.float32)
    if channel == "luminance":
        if frame.shape[-1] != 3:
            return frame.mean(axis=-1, dtype=np.float32)
        return frame.astype(np.float32) @ _LUMA
    return frame[..., int(channel)].astype(np.float32)


def _check_channel(channel, n_channels):
    if channel in ("mean", "luminance"):
        return channel
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool) and 0 <= channel < n_channels:
        return int(channel)
    raise InvalidParameterError(f"channel must be 'mean', 'luminance' or a channel index 0..{n_channels - 1}, "
                                f"got {channel!r}.")


def _hann(n, shift=0.0):
    # np.hanning, optionally displaced by ``shift`` px (zero outside the field of view).
    i = np.arange(n) - shift
    w = 0.5 - 0.5 * np.cos(2 * np.pi * i / (n - 1))
    w[(i < 0) | (i > n - 1)] = 0.0
    return w


def _window(shape, shift=(0.0, 0.0)):
    # A Hann taper stops the image borders (which do not move with the content) from
    # dominating the correlation. A window displaced with the content keeps the two
    # tapered images exact shifted copies, which removes the taper's pull towards zero.
    return np.outer(_hann(shape[0], shift[0]), _hann(shape[1], shift[1]))


def _prepare(frame, channel="mean"):
    f = _gray(frame, channel)
    return f - f.mean()


def _fft2(image):
    from scipy import fft

    return fft.fft2(image.astype(np.float32, copy=False))


def _upsampled_idft(spec, size, factor, offsets):
    """Inverse DFT of ``spec`` on a ``size``×``size`` grid spaced 1/factor px, starting at ``offsets``."""
    ny, nx = spec.shape
    ky = np.fft.ifftshift(np.arange(ny) - ny // 2)
    kx = np.fft.ifftshift(np.arange(nx) - nx // 2)
    gy = (np.arange(size) - offsets[0]) / factor
    gx = (np.arange(size) - offsets[1]) / factor
    ey = np.exp(2j * np.pi * np.outer(gy, ky) / ny).astype(spec.dtype)
    ex = np.exp(2j * np.pi * np.outer(kx, gx) / nx).astype(spec.dtype)
    # einsum's own loops, not BLAS: these products are small, and a multithreaded BLAS spends more
    # time waking its threads (and spinning on a busy machine) than multiplying
    if spec.size > 1 << 16:
        return (ey @ spec) @ ex
    return np.einsum("ik,kl->il", np.einsum("ij,jk->ik", ey, spec), ex)


def _integer_peak(cross):
    from scipy import fft

    corr = fft.ifft2(cross)
    ny, nx = corr.shape
    peak = np.unravel_index(np.argmax(np.abs(corr)), corr.shape)
    shift = np.array([p - n if p > n // 2 else p for p, n in zip(peak, (ny, nx), strict=True)], dtype=float)
    return shift, float(np.abs(corr[peak])) * ny * nx


def _fine_peak(cross, guess, factor, half_width_px):
    """Peak of the inverse DFT on a grid spaced 1/factor px within ±half_width_px of ``guess``."""
    half = int(np.ceil(half_width_px * factor))
    size = 2 * half + 1
    centre = np.round(np.asarray(guess) * factor) / factor
    fine = _upsampled_idft(cross, size, factor, half - centre * factor)
    fy, fx = np.unravel_index(np.argmax(np.abs(fine)), fine.shape)
    return centre + (np.array([fy, fx]) - half) / factor, float(np.abs(fine[fy, fx]))


def _register(ref_spec, ref_energy, moving, upsample, taper=True):
    """(dy, dx, confidence) of a mean-subtracted frame relative to the reference spectrum.

    Plain (energy-weighted) cross-correlation, not whitened: whitening gives the empty,
    noise-only frequencies of a smooth optical image the same weight as the texture.
    Integer peak first, then two sub-pixel passes, each with the taper moved with the
    content found so far (±0.6 px, then ±0.1 px around the previous answer). The
    confidence is the normalised cross-correlation coefficient at the peak (Parseval).
    Without ``taper`` the frames are correlated whole (see :func:`phase_shift`).
    """
    shape = moving.shape
    window = _window if taper else (lambda shape, shift=(0.0, 0.0): 1.0)
    conj_ref = np.conj(ref_spec)
    shift, height = _integer_peak(_fft2(moving * window(shape)) * conj_ref)
    energy = None
    if upsample > 1:
        for half_width in (0.6, 0.1):
            tapered = moving * window(shape, shift)
            shift, height = _fine_peak(_fft2(tapered) * conj_ref, shift, upsample, half_width)
            energy = float(np.sum(tapered.astype(np.float64) ** 2)) * tapered.size
    if energy is None:
        tapered = moving * window(shape)
        energy = float(np.sum(tapered ** 2)) * tapered.size
    denom = np.sqrt(ref_energy * energy)
    conf = height / denom if denom > 0 else 0.0
    return shift[0], shift[1], float(min(conf, 1.0))


def _reference(frame, taper=True, channel="mean"):
    f = _prepare(frame, channel)
    if taper:
        f = f * _window(np.shape(frame)[:2])
    return _fft2(f), float(np.sum(f ** 2)) * f.size


def phase_shift(reference, frame, *, upsample_factor: int = 50, window: bool = True):
    """Sub-pixel displacement of ``frame`` relative to ``reference`` (2-D or (y, x, c)).

    Parameters
    ----------
    reference, frame : array_like
        Two frames of the same size.
    upsample_factor : int
        Resolution of the shift: 1/upsample_factor px.
    window : bool
        Hann-taper both frames (default), which suits drift: small shifts of frames
        whose borders do not move with the content. ``window=False`` correlates the
        frames whole, so that content shared only near opposite borders (a shift of
        more than about a third of the frame) still gives the peak, at its position
        modulo the frame size.

    Returns
    -------
    (dy_px, dx_px, confidence)
        Displacement in pixels (``frame(y, x) ≈ reference(y - dy, x - dx)``), resolved
        to 1/upsample_factor px, and the normalised phase-correlation peak height (0–1).
    """
    reference, frame = np.asarray(reference), np.asarray(frame)
    if reference.shape[:2] != frame.shape[:2]:
        raise InvalidParameterError(f"the frames differ in size: {reference.shape} vs {frame.shape}.")
    up = _check_upsample(upsample_factor)
    taper = bool(window)
    return _register(*_reference(reference, taper), _prepare(frame), up, taper)


def _check_upsample(upsample_factor):
    if int(upsample_factor) != upsample_factor or upsample_factor < 1:
        raise InvalidParameterError(f"upsample_factor must be a positive integer, got {upsample_factor!r}.")
    return int(upsample_factor)


def _frames(movie):
    if not hasattr(movie, "dims") or tuple(movie.dims) != ("time", "y", "x", "channel"):
        raise InvalidParameterError("expected a movie from battlab.imaging.open_movie with dims "
                                    "(time, y, x, channel).")
    return movie


def estimate_drift(movie, *, reference="first", upsample_factor: int = 50, roi=None,
                   scheduler: str = "threads", channel="mean") -> pd.DataFrame:
    """Per-frame stage drift of a movie, streamed frame by frame.

    Parameters
    ----------
    movie : xarray.DataArray
        From :func:`battlab.imaging.open_movie`, dims ``(time, y, x, channel)``; colour
        frames are reduced to one image per frame (see ``channel``).
    reference : "first", "previous", int or array
        Compare every frame with the first frame, a given frame index or image, or with
        the previous frame ("previous": the frame-to-frame shifts are summed, which
        follows large slow drift but accumulates error).
    upsample_factor : int
        Resolution of the shift: 1/upsample_factor px (50 → 0.02 px).
    roi : (slice, slice), optional
        Only this (y, x) region is correlated, e.g. a textured area free of the moving
        interface.
    scheduler : str
        Dask scheduler for the "first"/index/array modes (frames in parallel, never all
        in memory): "threads" or "synchronous".
    channel : "mean", "luminance" or int
        How colour frames become the image that is correlated: the channel mean
        (default), Rec. 601 luminance (0.299 R + 0.587 G + 0.114 B, for RGB), or one
        channel index (e.g. the channel with the most texture).

    Returns
    -------
    DataFrame
        frame, time_s, dy_px, dx_px, dy_um, dx_um (cumulative displacement relative to
        the reference) and confidence (phase-correlation peak height, 0–1; low values
        flag frames whose shift is unreliable).
    """
    import dask.array as da

    movie = _frames(movie)
    up = _check_upsample(upsample_factor)
    if roi is not None:
        if len(roi) != 2:
            raise InvalidParameterError("roi must be (y_slice, x_slice).")
        movie = movie.isel(y=roi[0], x=roi[1])
    n, ny, nx = movie.sizes["time"], movie.sizes["y"], movie.sizes["x"]
    if n == 0:
        raise MissingDataError("the movie has no frames.")
    if min(ny, nx) < 8:
        raise InvalidParameterError(f"frames of {ny}×{nx} px are too small for drift estimation (need ≥ 8×8).")
    ch = _check_channel(channel, movie.sizes["channel"])
    data = movie.data if hasattr(movie.data, "dask") else da.from_array(np.asarray(movie.data),
                                                                         chunks=(1, ny, nx, movie.sizes["channel"]))
    if isinstance(reference, str) and reference == "previous":
        rows = np.zeros((n, 3))
        rows[0, 2] = 1.0
        prev = _reference(np.asarray(data[0].compute(scheduler="synchronous")), channel=ch)
        for i in range(1, n):
            cur = np.asarray(data[i].compute(scheduler="synchronous"))
            dy, dx, conf = _register(*prev, _prepare(cur, ch), up)
            rows[i] = (rows[i - 1, 0] + dy, rows[i - 1, 1] + dx, conf)
            prev = _reference(cur, channel=ch)
    else:
        if isinstance(reference, str):
            if reference != "first":
                raise InvalidParameterError("reference must be 'first', 'previous', a frame index or an image.")
            ref_img = data[0].compute()
        elif np.isscalar(reference):
            k = int(reference)
            if not -n <= k < n:
                raise InvalidParameterError(f"reference frame {k} is outside the movie (0–{n - 1}).")
            ref_img = data[k].compute()
        else:
            ref_img = np.asarray(reference)
            if ref_img.shape[:2] != (ny, nx):
                raise InvalidParameterError(f"the reference image is {ref_img.shape[:2]}, frames are {(ny, nx)}.")
        ref = _reference(np.asarray(ref_img), channel=ch)

        def block(frame):
            dy, dx, conf = _register(*ref, _prepare(frame[0], ch), up)
            return np.array([[dy, dx, conf]])

        rows = da.map_blocks(block, data, dtype=float, chunks=((1,) * n, (3,)), drop_axis=[2, 3],
                             new_axis=None).compute(scheduler=scheduler)
    px = float(movie.attrs.get("pixel_size_um", np.nan))
    out = pd.DataFrame({
        "frame": movie["frame"].to_numpy() if "frame" in movie.coords else np.arange(n),
        "time_s": movie["time_s"].to_numpy() if "time_s" in movie.coords else np.arange(n, dtype=float),
        "dy_px": rows[:, 0], "dx_px": rows[:, 1],
        "dy_um": rows[:, 0] * px, "dx_um": rows[:, 1] * px,
        "confidence": rows[:, 2],
    })
    out.attrs["battlab"] = {"drift": {"reference": reference if isinstance(reference, (str, int)) else "image",
                                      "upsample_factor": up, "pixel_size_um": px, "channel": ch,
                                      "source_name": movie.attrs.get("source_name")}}
    return out


def _fourier_shift(frame, dy, dx):
    """Shift a 2-D/3-D frame by (dy, dx) px with a Fourier phase ramp (exact for band-limited images)."""
    ny, nx = frame.shape[:2]
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.fftfreq(nx)[None, :]
    ramp = np.exp(-2j * np.pi * (ky * dy + kx * dx))
    spec = np.fft.fft2(frame, axes=(0, 1))
    if frame.ndim == 3:
        ramp = ramp[..., None]
    return np.fft.ifft2(spec * ramp, axes=(0, 1)).real


def apply_drift(movie, drift: pd.DataFrame, *, method: str = "linear", fill_value: float = np.nan):
    """Undo measured drift; returns a lazily shifted float32 movie (same dims, coords, attrs).

    Parameters
    ----------
    movie : xarray.DataArray
        From :func:`battlab.imaging.open_movie`.
    drift : DataFrame
        From :func:`estimate_drift` (one row per frame: ``dy_px``, ``dx_px``).
    method : {"linear", "fourier"}
        "linear": bilinear interpolation, pixels moved in from outside the field of view
        get ``fill_value``. "fourier": phase-ramp shift (exact for smooth images, wraps
        content around the edges).
    fill_value : float
        Value for pixels with no data after the shift ("linear" only).
    """
    import dask.array as da
    from scipy import ndimage

    movie = _frames(movie)
    n = movie.sizes["time"]
    for col in ("dy_px", "dx_px"):
        if col not in drift:
            raise MissingDataError(f"the drift table has no {col!r} column; pass the result of estimate_drift.")
    if len(drift) != n:
        raise InvalidParameterError(f"the drift table has {len(drift)} rows for a movie of {n} frames.")
    if method not in ("linear", "fourier"):
        raise InvalidParameterError("method must be 'linear' or 'fourier'.")
    shifts = drift[["dy_px", "dx_px"]].to_numpy(dtype=float)
    if not np.all(np.isfinite(shifts)):
        raise InvalidParameterError("the drift table holds non-finite shifts.")

    def block(frame, block_info=None):
        i = block_info[0]["chunk-location"][0]
        dy, dx = -shifts[i]
        img = frame[0].astype(np.float64)
        if method == "fourier":
            out = _fourier_shift(img, dy, dx)
        else:
            out = ndimage.shift(img, (dy, dx, 0), order=1, mode="constant", cval=fill_value)
        return out[None].astype(np.float32)

    data = movie.data if hasattr(movie.data, "dask") else da.from_array(
        np.asarray(movie.data), chunks=(1,) + movie.shape[1:])
    if data.chunks[0] != (1,) * n:
        data = data.rechunk((1,) + data.shape[1:])
    shifted = da.map_blocks(block, data, dtype=np.float32, name=f"battlab-dedrift-{uuid.uuid4().hex}")
    out = movie.copy(data=shifted)
    out.attrs = dict(movie.attrs)
    out.attrs["notes"] = list(movie.attrs.get("notes", [])) + [f"drift-corrected ({method} interpolation)."]
    out.attrs["units"] = movie.attrs.get("units", "counts")
    return out
