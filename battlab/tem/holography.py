"""Off-axis electron holography: phase reconstruction, phase profiles, projected potential.

An off-axis hologram is an interference pattern I = A_r² + A² + 2μ·A_r·A·cos(2π q_c·r + φ)
between a vacuum reference wave and the wave through the specimen; the specimen's phase φ
rides on the carrier fringes of spatial frequency q_c. In the Fourier transform the cosine
term becomes two sidebands at ±q_c: cutting one out with a round aperture, transforming
back and removing the carrier leaves the complex image wave A·exp(iφ). Dividing by the
wave of a vacuum reference hologram recorded with the same fringes removes the
distortions of the biprism, lenses and camera, which are common to both.

In the absence of magnetic fields the phase is the electrostatic potential projected along
the beam: φ(x, y) = C_E ∫ V(x, y, z) dz, with the interaction constant
C_E(E) = (2π/λ)(E + E₀)/(E(E + 2E₀)) (≈ 0.00729 rad V⁻¹ nm⁻¹ at 200 kV, 0.00652 at 300 kV;
:func:`battlab.tem.physics.interaction_constant_rad_per_V_nm`). For a uniform specimen of
thickness t that is φ = C_E·V₀·t (V₀ the mean inner potential); a potential step ΔV across
an interface (a charged layer, a Li-ion gradient) is a phase step Δφ = C_E·ΔV·t.

Phase images are ``(y, x)`` DataArrays in rad with ``x_nm``/``y_nm`` coordinates and
``pixel_size_nm`` in attrs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError
from battlab.tem.physics import interaction_constant_rad_per_V_nm

__all__ = ["as_phase_image", "find_sideband", "looks_like_hologram", "phase_profile", "potential_step",
           "projected_potential", "reconstruct_phase", "mean_inner_potential"]


def _image2d(image, what="image"):
    arr = np.asarray(getattr(image, "values", image), float)
    if arr.ndim != 2:
        raise InvalidParameterError(f"the {what} must be one 2-D image (y, x); got shape {arr.shape}. "
                                    "Pick one frame of a movie first.")
    if min(arr.shape) < 16:
        raise InvalidParameterError(f"the {what} is {arr.shape[0]}×{arr.shape[1]} px; at least 16×16 px are needed.")
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError(f"the {what} holds NaN or infinite pixels; crop or fill them first.")
    return arr


def _pixel_size(image, pixel_size_nm):
    px = pixel_size_nm if pixel_size_nm is not None else getattr(image, "attrs", {}).get("pixel_size_nm")
    if px is not None and not (np.isfinite(px) and px > 0):
        raise InvalidParameterError(f"pixel_size_nm must be positive, got {px!r}.")
    return None if px is None else float(px)


def as_phase_image(image, *, pixel_size_nm: float | None = None, name: str = "phase"):
    """Wrap a 2-D phase array (rad) as a calibrated ``(y, x)`` DataArray.

    Parameters
    ----------
    image : array or DataArray
        Phase in radians (a reconstructed phase image from the microscope software).
    pixel_size_nm : float, optional
        Pixel size at the specimen; default the DataArray's ``pixel_size_nm``. Without it,
        positions stay in px.
    """
    import xarray as xr

    arr = _image2d(image, "phase image")
    px = _pixel_size(image, pixel_size_nm)
    ny, nx = arr.shape
    coords = {}
    if px:
        coords = {"y_nm": ("y", np.arange(ny) * px), "x_nm": ("x", np.arange(nx) * px)}
    attrs = {k: v for k, v in getattr(image, "attrs", {}).items() if k in ("source_name", "source_sha256",
                                                                         "source_format", "voltage_kV")}
    attrs.update(units="rad", pixel_size_nm=px, kind="image", technique="electron holography phase")
    return xr.DataArray(arr, dims=("y", "x"), coords=coords, name=name, attrs=attrs)


def _spectrum(arr):
    return np.fft.fftshift(np.fft.fft2(arr - arr.mean()))


def _peak(arr, exclude_radius_px, half):
    """Strongest spectrum pixel outside the centre band, and how isolated it is."""
    mag = np.abs(_spectrum(arr))
    ny, nx = mag.shape
    ky, kx = np.meshgrid(np.arange(ny) - ny // 2, np.arange(nx) - nx // 2, indexing="ij")
    r0 = min(ny, nx) / 16 if exclude_radius_px is None else float(exclude_radius_px)
    keep = np.hypot(ky, kx) > r0
    if half == "upper":
        keep &= (ky < 0) | ((ky == 0) & (kx > 0))
    elif half == "lower":
        keep &= (ky > 0) | ((ky == 0) & (kx < 0))
    elif half != "any":
        raise InvalidParameterError(f"half must be 'upper' or 'lower', got {half!r}.")
    masked = np.where(keep, mag, 0.0)
    iy, ix = np.unravel_index(np.argmax(masked), mag.shape)
    # a sideband is a sharp peak: far above the spectrum 3–6 px away from it; the streak
    # of an edge or the 1/k fall-off of an ordinary image is not
    d = np.hypot(ky - ky[iy, ix], kx - kx[iy, ix])
    around = mag[(d >= 3) & (d <= 6)]
    isolation = float(masked[iy, ix] / around.max()) if around.size and around.max() > 0 else 0.0
    return mag, int(iy), int(ix), isolation


def find_sideband(hologram, *, exclude_radius_px: float | None = None, half: str = "upper"):
    """Position of a hologram sideband in the centred FFT, (ky, kx) in px from the centre (sub-pixel).

    Parameters
    ----------
    hologram : 2-D array or DataArray
    exclude_radius_px : float, optional
        The centre band (the autocorrelation of both waves) is ignored within this radius;
        default 1/16 of the smaller image side.
    half : {"upper", "lower"}
        Which of the two conjugate sidebands: ``upper`` has ky < 0 (or ky = 0, kx > 0),
        the usual choice; the other gives the conjugate phase (−φ).
    """
    arr = _image2d(hologram, "hologram")
    mag, iy, ix, isolation = _peak(arr, exclude_radius_px, half)
    if isolation < 4:
        raise MissingDataError("no sideband stands out of the hologram's spectrum: is this a hologram (fringes "
                               "visible)? For a phase image use as_phase_image; otherwise give sideband=(ky, kx).")
    ny, nx = mag.shape

    def vertex(a, b, c):
        # parabola through three log-magnitudes: sub-pixel peak position
        den = a - 2 * b + c
        return 0.0 if den == 0 else 0.5 * (a - c) / den

    lg = np.log(mag + 1e-300)
    dy = vertex(lg[iy - 1, ix], lg[iy, ix], lg[(iy + 1) % ny, ix])
    dx = vertex(lg[iy, ix - 1], lg[iy, ix], lg[iy, (ix + 1) % nx])
    return float(iy - ny // 2 + dy), float(ix - nx // 2 + dx)


def looks_like_hologram(image, *, min_isolation: float = 4.0) -> bool:
    """True when the image's spectrum holds an isolated sideband peak (carrier fringes).

    The peak must stand ``min_isolation`` times above the spectrum 3–6 FFT px around it;
    measured: synthetic holograms 15–60, phase images, TEM frames and edges < 1.
    """
    arr = _image2d(image)
    return _peak(arr, None, "any")[3] > min_isolation


def _wave(arr, sideband, aperture_px, smooth_px):
    ny, nx = arr.shape
    ky, kx = np.meshgrid(np.arange(ny) - ny // 2, np.arange(nx) - nx // 2, indexing="ij")
    r = np.hypot(ky - sideband[0], kx - sideband[1])
    # a soft (cosine) edge: a sharp aperture rings around every phase edge
    edge = max(float(smooth_px), 1e-9)
    mask = np.clip((aperture_px + edge / 2 - r) / edge, 0, 1)
    mask = 0.5 - 0.5 * np.cos(np.pi * mask)
    wave = np.fft.ifft2(np.fft.ifftshift(_spectrum(arr) * mask))
    yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    # remove the carrier at its sub-pixel frequency (a whole-pixel roll would leave a ramp)
    return wave * np.exp(-2j * np.pi * (sideband[0] * yy / ny + sideband[1] * xx / nx))


def reconstruct_phase(hologram, *, reference=None, sideband=None, aperture_px: float | None = None,
                      smooth_px: float = 2.0, unwrap: bool = True, pixel_size_nm: float | None = None,
                      voltage_kV: float | None = None):
    """Phase (and amplitude) of the image wave from an off-axis hologram by sideband filtering.

    Parameters
    ----------
    hologram : 2-D array or DataArray
        The specimen hologram (counts).
    reference : 2-D array or DataArray, optional
        A vacuum (object-free) hologram with the same fringes: its wave divides the
        specimen wave, removing the phase ramps and distortions common to both.
    sideband : (float, float), optional
        Sideband position (ky, kx) in px from the centre of the FFT; default found with
        :func:`find_sideband` (upper half).
    aperture_px : float, optional
        Radius of the round aperture around the sideband, FFT px; default a third of the
        sideband's distance from the centre (the largest that keeps the centre band out).
        It sets the resolution: ≈ image side / aperture_px pixels.
    smooth_px : float
        Width of the aperture's soft edge.
    unwrap : bool
        Unwrap the 2π jumps (:func:`skimage.restoration.unwrap_phase`).
    pixel_size_nm, voltage_kV : float, optional
        Stored with the result (``pixel_size_nm`` default: the DataArray's).

    Returns
    -------
    xarray.DataArray
        Phase in rad, dims ``(y, x)``, with the ``amplitude`` image as a coordinate
        (relative to the reference when one is given) and
        ``sideband_px``, ``aperture_px``, ``resolution_nm`` in attrs. The phase's offset is
        arbitrary (set a vacuum region to zero with ``phase - phase.where(vacuum).mean()``).
    """
    arr = _image2d(hologram, "hologram")
    sb = find_sideband(arr) if sideband is None else tuple(float(v) for v in sideband)
    if len(sb) != 2:
        raise InvalidParameterError("sideband must be (ky, kx) in FFT px from the centre.")
    dist = float(np.hypot(*sb))
    if dist < 2:
        raise InvalidParameterError(f"the sideband at {sb} px is on the centre band; give its position (ky, kx).")
    ap = dist / 3 if aperture_px is None else float(aperture_px)
    if not 0 < ap < dist:
        raise InvalidParameterError(f"aperture_px must be between 0 and the sideband distance ({dist:.1f} px), "
                                    f"got {aperture_px!r}: a larger aperture lets the centre band in.")
    wave = _wave(arr, sb, ap, smooth_px)
    if reference is not None:
        ref = _image2d(reference, "reference hologram")
        if ref.shape != arr.shape:
            raise InvalidParameterError(f"the reference hologram is {ref.shape}, the hologram {arr.shape}: they must "
                                        "be recorded with the same camera area.")
        ref_wave = _wave(ref, sb, ap, smooth_px)
        if np.any(np.abs(ref_wave) < 1e-12 * np.abs(ref_wave).max()):
            raise MissingDataError("the reference hologram has no fringes where the hologram has; check the file.")
        wave = wave / ref_wave
    phase = np.angle(wave)
    if unwrap:
        from skimage.restoration import unwrap_phase

        phase = unwrap_phase(phase)
    px = _pixel_size(hologram, pixel_size_nm)
    out = as_phase_image(phase, pixel_size_nm=px)
    out.attrs.update({k: v for k, v in getattr(hologram, "attrs", {}).items()
                      if k in ("source_name", "source_sha256", "source_format")})
    ny, nx = arr.shape
    out.attrs.update(sideband_px=sb, aperture_px=ap, reference_corrected=reference is not None, unwrapped=unwrap,
                     fringe_spacing_px=float(1 / np.hypot(sb[0] / ny, sb[1] / nx)),
                     resolution_nm=float(min(ny, nx) / ap * px) if px else None,
                     voltage_kV=voltage_kV if voltage_kV is not None else
                     getattr(hologram, "attrs", {}).get("voltage_kV"))
    return out.assign_coords(amplitude=(("y", "x"), np.abs(wave)))


def phase_profile(phase, start, end, *, width_px: int = 1, step_px: float = 1.0,
                  pixel_size_nm: float | None = None) -> pd.DataFrame:
    """Phase along a line, averaged over ``width_px`` parallel lines, with its standard error.

    Parameters
    ----------
    phase : 2-D array or DataArray (rad)
    start, end : (float, float)
        End points ``(y, x)`` in px (the kymograph convention).
    width_px : int
        Parallel lines averaged (noise falls as 1/√width for uncorrelated noise).
    pixel_size_nm : float, optional
        Default the DataArray's ``pixel_size_nm``.

    Returns
    -------
    DataFrame
        ``s_px``, ``s_nm`` (with a pixel size), ``phase_rad`` and ``phase_sem_rad`` (the
        spread across the parallel lines / √width; NaN for a 1-px line).
    """
    from scipy.ndimage import map_coordinates

    from battlab.imaging.kymograph import _line_points

    arr = _image2d(phase, "phase image")
    s, yy, xx = _line_points(start, end, step_px=step_px, width_px=width_px)
    ny, nx = arr.shape
    if yy.min() < -0.5 or xx.min() < -0.5 or yy.max() > ny - 0.5 or xx.max() > nx - 0.5:
        raise InvalidParameterError(f"the line {tuple(start)} → {tuple(end)} (width {width_px} px) leaves the "
                                    f"{ny}×{nx} image; give end points (row, column) inside it.")
    vals = map_coordinates(arr, [yy.ravel(), xx.ravel()], order=1, mode="nearest").reshape(yy.shape)
    n = vals.shape[0]
    out = pd.DataFrame({"s_px": s})
    px = _pixel_size(phase, pixel_size_nm)
    if px:
        out["s_nm"] = s * px
    out["phase_rad"] = vals.mean(axis=0)
    out["phase_sem_rad"] = vals.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.nan
    out.attrs["battlab"] = {"analysis": "battlab.tem.holography.phase_profile", "start_px": tuple(map(float, start)),
                            "end_px": tuple(map(float, end)), "width_px": int(width_px), "pixel_size_nm": px}
    return out


def projected_potential(phase, *, voltage_kV: float):
    """Projected electrostatic potential ∫V dz = φ / C_E in V·nm (array, DataArray or profile column)."""
    c_e = interaction_constant_rad_per_V_nm(voltage_kV)
    out = phase / c_e
    if hasattr(out, "dims"):  # a DataArray keeps its coordinates and says what it now holds
        out = out.rename("projected_potential")
        out.attrs.update(units="V nm", voltage_kV=float(voltage_kV), interaction_constant_rad_per_V_nm=float(c_e))
    return out


def mean_inner_potential(phase, *, voltage_kV: float, thickness_nm):
    """Mean inner potential V₀ = φ / (C_E · t) in V, for a specimen of known thickness.

    ``phase`` must be referred to vacuum (zero outside the specimen); ``thickness_nm`` is a
    number or a thickness map of the same shape (e.g. from EELS t/λ).
    """
    t = np.asarray(thickness_nm, float)
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise InvalidParameterError("thickness_nm must be positive (nm) everywhere it is used.")
    out = projected_potential(phase, voltage_kV=voltage_kV) / t
    if hasattr(out, "attrs"):
        out.attrs["units"] = "V"
    return out


def _window(profile, window, col):
    s = profile[col].to_numpy(float)
    lo, hi = sorted(float(v) for v in window)
    sel = (s >= lo) & (s <= hi)
    if sel.sum() < 3:
        raise MissingDataError(f"the window {lo:g}–{hi:g} ({col}) holds {int(sel.sum())} profile points; widen it.")
    return sel


def potential_step(profile: pd.DataFrame, *, voltage_kV: float, thickness_nm: float | None = None,
                   left=None, right=None) -> dict:
    """Phase and potential step across an interface from a phase profile (left → right).

    Parameters
    ----------
    profile : DataFrame
        From :func:`phase_profile`.
    voltage_kV : float
        Accelerating voltage (sets C_E).
    thickness_nm : float, optional
        Specimen thickness; with it the step is a potential in V, otherwise only the
        projected potential (V·nm).
    left, right : (float, float), optional
        Plateau windows on each side, in ``s_nm`` when the profile has it (else ``s_px``);
        default the first and last quarter of the line.

    Returns
    -------
    dict
        ``delta_phase_rad`` (right − left) and its standard error ``delta_phase_err_rad``
        (the scatter of each plateau about its mean, / √points, added in quadrature:
        this is the phase noise), ``delta_projected_potential_V_nm`` (± err), and with a
        thickness ``delta_potential_V`` (± err), plus ``interaction_constant_rad_per_V_nm``.

    Notes
    -----
    The standard error assumes independent pixels. A phase reconstructed through a
    sideband aperture is correlated over its resolution (≈ image side / aperture radius
    px), so there the error is a lower bound: sample the profile at that step
    (``step_px``) for an honest one.
    """
    col = "s_nm" if "s_nm" in profile else "s_px"
    s = profile[col].to_numpy(float)
    span = s[-1] - s[0]
    left = (s[0], s[0] + span / 4) if left is None else left
    right = (s[-1] - span / 4, s[-1]) if right is None else right
    y = profile["phase_rad"].to_numpy(float)
    vals = []
    for win in (left, right):
        sel = _window(profile, win, col)
        seg = y[sel]
        # scatter of the plateau about a straight line: a residual ramp is not noise
        x = s[sel]
        resid = seg - np.polyval(np.polyfit(x, seg, 1), x)
        vals.append((seg.mean(), resid.std(ddof=2) / np.sqrt(seg.size)))
    dphi = vals[1][0] - vals[0][0]
    err = float(np.hypot(vals[0][1], vals[1][1]))
    c_e = float(interaction_constant_rad_per_V_nm(voltage_kV))
    out = {"delta_phase_rad": float(dphi), "delta_phase_err_rad": err,
           "phase_left_rad": float(vals[0][0]), "phase_right_rad": float(vals[1][0]),
           "interaction_constant_rad_per_V_nm": c_e, "voltage_kV": float(voltage_kV),
           "delta_projected_potential_V_nm": float(dphi / c_e), "delta_projected_potential_err_V_nm": err / c_e,
           "window_unit": col.removeprefix("s_"), "left": tuple(map(float, left)), "right": tuple(map(float, right))}
    if thickness_nm is not None:
        t = float(thickness_nm)
        if not (np.isfinite(t) and t > 0):
            raise InvalidParameterError(f"thickness_nm must be positive, got {thickness_nm!r}.")
        out.update(thickness_nm=t, delta_potential_V=float(dphi / (c_e * t)), delta_potential_err_V=err / (c_e * t))
    return out
