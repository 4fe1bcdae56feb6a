"""AFM demo data with known answers: rough and particle surfaces, force curves, a two-phase
force-volume map, an EC-AFM series with a growing SEI, and C-AFM/KPFM maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from battlab.datasets._base import Demo

__all__ = ["make_rough_surface", "make_particle_surface", "make_force_curve", "make_force_map",
           "make_layered_curve", "make_ecafm_series", "make_conductive_map", "make_kpfm_map", "make_iv_sweep"]


def _height_map(z, pixel_size_um, name, channel="height", units="nm"):
    from battlab.afm.io import height_map

    return height_map(z, pixel_size_um=pixel_size_um, units=units, channel=channel,
                      source_name=f"demo:{name}", meta={"source_name": f"demo:{name}", "format": "battlab-demo"})


def _fractal(shape, hurst, rng, cutoff_px=2.0):
    ny, nx = shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.fftfreq(nx)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    # Self-affine power law (PSD ∝ f^-(2+2H)) rolled off below a correlation length.
    amp = (f ** 2 + (1.0 / (cutoff_px * 16)) ** 2) ** (-(1 + hurst) / 2)
    amp[0, 0] = 0.0
    phase = np.fft.fft2(rng.standard_normal(shape))
    return np.fft.ifft2(phase * amp).real


def make_rough_surface(*, size_px: int = 512, pixel_size_um: float = 0.01, sq_nm: float = 3.0, hurst: float = 0.8,
                       tilt_nm_per_um: tuple = (40.0, -25.0), offset_nm: float = 120.0, seed: int = 4) -> Demo:
    """A self-affine rough surface with exact Sq on a tilted plane.

    The roughness is a Gaussian random field rescaled to RMS ``sq_nm`` after removing its
    own least-squares plane, so after plane levelling Sq is exact and Sa is the Gaussian
    value √(2/π)·Sq (within sampling error, ~0.5 % at 512²).
    """
    rng = np.random.default_rng(seed)
    r = _fractal((size_px, size_px), hurst, rng)
    yy, xx = np.meshgrid(np.arange(size_px), np.arange(size_px), indexing="ij")
    a = np.stack([np.ones(r.size), xx.ravel(), yy.ravel()], 1)
    coef, *_ = np.linalg.lstsq(a, r.ravel(), rcond=None)
    r = r - (a @ coef).reshape(r.shape)
    r *= sq_nm / np.sqrt(np.mean(r ** 2))
    x_um, y_um = (xx + 0.5) * pixel_size_um, (yy + 0.5) * pixel_size_um
    z = offset_nm + tilt_nm_per_um[0] * x_um + tilt_nm_per_um[1] * y_um + r
    truth = {"Sq_nm": sq_nm, "Sa_nm": sq_nm * np.sqrt(2 / np.pi), "Sa_realised_nm": float(np.mean(np.abs(r))),
             "tilt_nm_per_um": tilt_nm_per_um, "hurst": hurst, "roughness_nm": r}
    return Demo({"height": _height_map(z, pixel_size_um, "rough surface")}, truth,
                f"Self-affine surface, Sq = {sq_nm} nm on a tilted plane ({size_px}² px, "
                f"{pixel_size_um * 1e3:g} nm px)")


def make_particle_surface(*, size_px: int = 256, pixel_size_um: float = 0.02, n_particles: int = 25,
                          radius_nm: float = 80.0, seed: int = 7, noise_nm: float = 0.3,
                          tilt_nm_per_um: tuple = (8.0, 5.0)) -> Demo:
    """Hemispherical-cap particles of known radius and count on a tilted flat substrate (with
    one scan-line scar), e.g. cathode particles or SEI islands."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid((np.arange(size_px) + 0.5) * pixel_size_um * 1e3,
                         (np.arange(size_px) + 0.5) * pixel_size_um * 1e3, indexing="ij")
    z = np.zeros((size_px, size_px))
    centres = []
    span = size_px * pixel_size_um * 1e3
    while len(centres) < n_particles:
        c = rng.uniform(1.5 * radius_nm, span - 1.5 * radius_nm, 2)
        if all(np.hypot(*(c - p)) > 2.6 * radius_nm for p in centres):
            centres.append(c)
    for cy, cx in centres:
        rr2 = (yy - cy) ** 2 + (xx - cx) ** 2
        z = np.maximum(z, np.sqrt(np.clip(radius_nm ** 2 - rr2, 0, None)))
    flat = z.copy()
    z = z + rng.normal(0, noise_nm, z.shape) + tilt_nm_per_um[0] * xx / 1e3 + tilt_nm_per_um[1] * yy / 1e3
    scar_row = size_px // 3
    z[scar_row, size_px // 4: size_px // 2] += 25.0
    truth = {"n_particles": n_particles, "radius_nm": radius_nm, "area_um2": np.pi * (radius_nm / 1e3) ** 2,
             "volume_nm_um2": 2 / 3 * np.pi * radius_nm ** 3 / 1e6, "scar_row": scar_row, "clean_nm": flat}
    return Demo({"height": _height_map(z, pixel_size_um, "particles")}, truth,
                f"{n_particles} particles of radius {radius_nm:g} nm on a tilted substrate, one scan-line scar")


def _curve_table(delta_app, f_app, delta_ret, f_ret, contact_nm, k_N_per_m, noise_nN, rng, curve=0):
    rows = []
    for seg, d, f in (("approach", delta_app, f_app), ("retract", delta_ret, f_ret)):
        f = f + rng.normal(0, noise_nN, f.size)
        tip = contact_nm - d  # heights fall towards the sample, as in JPK files
        segment = pd.Categorical([seg] * f.size, categories=["approach", "retract"])
        rows.append(pd.DataFrame({"curve": curve, "segment": segment, "piezo_height_nm": tip - f / k_N_per_m,
                                  "tip_height_nm": tip, "force_nN": f}))
    return pd.concat(rows, ignore_index=True)


def make_force_curve(*, model: str = "hertz", modulus_GPa: float = 1.5, tip_radius_nm: float = 20.0,
                     half_angle_deg: float = 20.0, poisson: float = 0.3, contact_nm: float = 250.0,
                     max_indentation_nm: float = 6.0, adhesion_nN: float = 2.0, noise_nN: float = 0.2,
                     k_N_per_m: float = 40.0, n_points: int = 800, seed: int = 1) -> Demo:
    """One approach/retract curve of a known model, modulus, contact point and adhesion."""
    from battlab.afm.force import model_force

    rng = np.random.default_rng(seed)
    d = np.linspace(-60.0, max_indentation_nm, n_points)
    common = dict(modulus_GPa=modulus_GPa, poisson=poisson, tip_radius_nm=tip_radius_nm,
                  half_angle_deg=half_angle_deg)
    approach_model = "hertz" if model in ("dmt", "jkr") else model
    f_app = model_force(d, model=approach_model, **common)
    if model in ("dmt", "jkr"):
        f_ret = model_force(d, model=model, adhesion_nN=adhesion_nN, **common)
    else:
        f_ret = f_app.copy()
        # A pull-off dip after contact is lost, as measured on retract.
        f_ret = f_ret - adhesion_nN * np.exp(-((d + 2.0) / 1.5) ** 2)
    data = _curve_table(d, f_app, d[::-1], f_ret[::-1], contact_nm, k_N_per_m, noise_nN, rng)
    data.attrs["battlab"] = {"source_name": f"demo:{model} curve", "format": "battlab-demo",
                             "curves": [{"curve": 0, "spring_constant_N_per_m": k_N_per_m}]}
    truth = {"model": model, "modulus_GPa": modulus_GPa, "contact_point_nm": contact_nm, "poisson": poisson,
             "tip_radius_nm": tip_radius_nm, "half_angle_deg": half_angle_deg, "adhesion_nN": adhesion_nN,
             "indentation_nm": max_indentation_nm}
    return Demo(data, truth, f"{model} curve, E = {modulus_GPa} GPa, contact at {contact_nm} nm")


def make_layered_curve(*, top_modulus_GPa: float = 30.0, bottom_modulus_GPa: float = 2.0,
                       thickness_nm: float = 3.0, tip_radius_nm: float = 20.0, poisson: float = 0.3,
                       max_indentation_nm: float = 8.0, noise_nN: float = 0.2, seed: int = 3) -> Demo:
    """A curve whose local stiffness changes at ``thickness_nm`` (a stiff inner SEI layer
    over a soft one, or the reverse): dF = E(δ)/(1−ν²)·d(4/3·√R·δ^1.5)."""
    rng = np.random.default_rng(seed)
    d = np.linspace(-40.0, max_indentation_nm, 1200)
    x = 4.0 / 3.0 * np.sqrt(tip_radius_nm) * np.clip(d, 0, None) ** 1.5
    e = np.where(d < thickness_nm, top_modulus_GPa, bottom_modulus_GPa) / (1 - poisson ** 2)
    f = np.concatenate([[0.0], np.cumsum(e[1:] * np.diff(x))])
    data = _curve_table(d, f, d[::-1], f[::-1], 100.0, 40.0, noise_nN, rng)
    data.attrs["battlab"] = {"source_name": "demo:layered SEI curve", "format": "battlab-demo"}
    truth = {"top_modulus_GPa": top_modulus_GPa, "bottom_modulus_GPa": bottom_modulus_GPa,
             "thickness_nm": thickness_nm, "tip_radius_nm": tip_radius_nm, "poisson": poisson,
             "contact_point_nm": 100.0}
    return Demo(data, truth, f"Layered SEI: {top_modulus_GPa} GPa over {bottom_modulus_GPa} GPa at {thickness_nm} nm")


def make_force_map(*, shape: tuple = (16, 16), moduli_GPa: tuple = (1.5, 20.0), adhesion_nN: tuple = (4.0, 1.0),
                   tip_radius_nm: float = 20.0, poisson: float = 0.3, noise_nN: float = 0.3, n_points: int = 300,
                   seed: int = 5) -> Demo:
    """Two-phase force-volume map: a stiff disc (phase 1) in a soft matrix (phase 0), each
    pixel one Hertz curve with its own contact height (topography) and adhesion."""
    from battlab.afm.force import model_force

    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    phase = (np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) < 0.3 * min(shape)).astype(int)
    contact = 200.0 + 3.0 * np.sin(xx / 3.0) + 2.0 * yy / ny
    d = np.linspace(-40.0, 6.0, n_points)
    frames = []
    for iy in range(ny):
        for ix in range(nx):
            p = phase[iy, ix]
            f_app = model_force(d, model="hertz", modulus_GPa=moduli_GPa[p], poisson=poisson,
                                tip_radius_nm=tip_radius_nm)
            f_ret = f_app - adhesion_nN[p] * np.exp(-((d + 2.0) / 1.5) ** 2)
            # Stiffer phase is indented less at the same trigger force in reality; the depth
            # is kept equal here so both phases carry enough contact points to fit.
            one = _curve_table(d, f_app, d[::-1], f_ret[::-1], contact[iy, ix], 40.0, noise_nN, rng,
                               curve=iy * nx + ix)
            one["grid_x"], one["grid_y"] = ix, iy
            frames.append(one)
    data = pd.concat(frames, ignore_index=True)
    data.attrs["battlab"] = {"source_name": "demo:two-phase force map", "format": "battlab-demo"}
    truth = {"phase": phase, "moduli_GPa": moduli_GPa, "adhesion_nN": adhesion_nN, "contact_point_nm": contact,
             "tip_radius_nm": tip_radius_nm, "poisson": poisson}
    return Demo(data, truth, f"Two-phase force map {ny}×{nx}: {moduli_GPa[0]} GPa matrix, {moduli_GPa[1]} GPa disc")


def make_ecafm_series(*, n_frames: int = 12, size_px: int = 128, pixel_size_um: float = 0.04,
                      sei_max_nm: float = 5.0, step_nm: float = 3.35, swelling_max_pct: float = 17.0,
                      drift_px_per_frame: tuple = (0.6, -0.9), noise_nm: float = 0.15, seed: int = 11) -> Demo:
    """EC-AFM series on HOPG during a cathodic sweep: an SEI grows below 0.8 V everywhere
    except a bare reference strip, a graphite step swells with lithiation, and the stage
    drifts by a known amount per frame.

    Returns a (time, y, x) DataArray with per-frame ``time_s`` and ``potential_V``; truth
    holds the SEI thickness and step height per frame and the region masks (in the
    coordinates of frame 0).
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    n = size_px
    pad = 16
    big = n + 2 * pad
    texture = ndimage.gaussian_filter(rng.standard_normal((big, big)), 4.0)
    texture *= 0.5 / texture.std()
    blobs = ndimage.gaussian_filter((rng.random((big, big)) > 0.997).astype(float), 4.0)
    texture += 3.0 * blobs / blobs.max()
    yy, xx = np.meshgrid(np.arange(big) - pad, np.arange(big) - pad, indexing="ij")
    upper = yy < n // 2
    strip = (xx >= int(0.42 * n)) & (xx < int(0.58 * n))
    edge = np.abs(yy - n // 2) < 4
    strip_core = (xx >= int(0.42 * n) + 3) & (xx < int(0.58 * n) - 3)
    film_core = ~((xx >= int(0.42 * n) - 3) & (xx < int(0.58 * n) + 3))
    inside = (yy >= 0) & (yy < n) & (xx >= 0) & (xx < n)
    # The texture has no mean or tilt of its own on any analysis region, so a region's
    # fitted offset carries only the step and the film: the truth is exact, not texture-biased.
    for region in (upper & strip_core, ~upper & strip_core, upper & film_core, ~upper & film_core):
        sel = region & ~edge & inside
        design = np.stack([np.ones(sel.sum()), xx[sel], yy[sel]], axis=1)
        texture[sel] -= design @ np.linalg.lstsq(design, texture[sel], rcond=None)[0]
    potential = np.linspace(1.6, 0.05, n_frames)
    progress = np.clip((0.8 - potential) / 0.75, 0, 1)
    thickness = sei_max_nm * progress
    step = step_nm * (1 + swelling_max_pct / 100 * progress)
    frames = []
    for i in range(n_frames):
        z = texture + np.where(upper, step[i], 0.0) + np.where(strip, 0.0, thickness[i])
        z = z + 0.02 * xx + 0.01 * yy + rng.normal(0, 0.2)  # fixed tilt, piezo z offset per frame
        dy, dx = drift_px_per_frame[0] * i, drift_px_per_frame[1] * i
        moved = ndimage.shift(z, (dy, dx), order=3, mode="nearest")
        frames.append(moved[pad:pad + n, pad:pad + n] + rng.normal(0, noise_nm, (n, n)))
    c = (np.arange(n) + 0.5) * pixel_size_um
    series = xr.DataArray(np.stack(frames), dims=("time", "y", "x"),
                          coords={"time_s": ("time", np.arange(n_frames) * 60.0), "potential_V": ("time", potential),
                                  "y_um": ("y", c), "x_um": ("x", c)}, name="height")
    series.attrs.update({"units": "nm", "channel": "height", "pixel_size_um": pixel_size_um,
                         "pixel_size_y_um": pixel_size_um, "scan_size_um": [n * pixel_size_um] * 2,
                         "source_name": "demo:EC-AFM SEI series"})
    series.attrs["battlab"] = {"source_name": "demo:EC-AFM SEI series", "format": "battlab-demo"}
    inner = (slice(pad, pad + n), slice(pad, pad + n))
    truth = {"sei_thickness_nm": thickness, "step_height_nm": step, "potential_V": potential,
             "swelling_pct": (step / step[0] - 1) * 100,
             "drift_px": np.array([[drift_px_per_frame[0] * i, drift_px_per_frame[1] * i] for i in range(n_frames)]),
             "film_mask": (film_core & ~edge)[inner], "reference_mask": (strip_core & ~edge)[inner],
             "upper_mask": (upper & (strip_core | film_core) & ~edge)[inner],
             "lower_mask": (~upper & (strip_core | film_core) & ~edge)[inner]}
    return Demo(series, truth, f"EC-AFM, {n_frames} frames: SEI to {sei_max_nm} nm, step swelling "
                               f"{swelling_max_pct} %, drift")


def make_conductive_map(*, size_px: int = 128, pixel_size_um: float = 0.05, conductive_fraction: float = 0.2,
                        on_nA: float = 2.0, off_nA: float = 0.002, seed: int = 13) -> Demo:
    """C-AFM current map: conductive grains (log-normal current) in an insulating SEI-like film."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal((size_px, size_px)), 3.0)
    cut = np.quantile(field, 1 - conductive_fraction)
    on = field > cut
    current = np.where(on, on_nA, off_nA) * np.exp(rng.normal(0, 0.3, field.shape))
    truth = {"conductive_fraction": float(on.mean()), "on_nA": on_nA, "off_nA": off_nA, "mask": on}
    return Demo({"current": _height_map(current, pixel_size_um, "C-AFM", channel="current", units="nA")}, truth,
                "C-AFM current map: conductive grains in an insulating film")


def make_kpfm_map(*, size_px: int = 128, pixel_size_um: float = 0.05, cpd_sample_V: float = 0.35,
                  cpd_reference_V: float = -0.10, reference_work_function_eV: float = 4.6, pad_height_nm: float = 30.0,
                  seed: int = 17) -> Demo:
    """KPFM contact-potential map: a reference Au pad (left quarter) beside the sample.

    With V_CPD = (φ_tip − φ_sample)/e, the sample's work function is
    φ_ref + e·(V_ref − V_sample).
    """
    rng = np.random.default_rng(seed)
    v = np.full((size_px, size_px), cpd_sample_V)
    ref = np.zeros_like(v, bool)
    ref[:, : size_px // 4] = True
    v[ref] = cpd_reference_V
    v = v + rng.normal(0, 0.01, v.shape)
    # The topography recorded with it: the pad stands pad_height_nm proud of the sample, so a
    # height threshold finds the reference region.
    z = np.where(ref, pad_height_nm, 0.0) + rng.normal(0, 0.5, v.shape)
    truth = {"reference_mask": ref, "sample_mask": ~ref, "reference_work_function_eV": reference_work_function_eV,
             "work_function_eV": reference_work_function_eV + (cpd_reference_V - cpd_sample_V),
             "work_function_difference_eV": cpd_reference_V - cpd_sample_V, "pad_height_nm": pad_height_nm,
             "reference_rectangle_um": ((0.0, size_px // 4 * pixel_size_um), (0.0, size_px * pixel_size_um)),
             "kpfm_channel": "potential"}
    return Demo({"potential": _height_map(v, pixel_size_um, "KPFM", channel="potential", units="V"),
                 "height": _height_map(z, pixel_size_um, "KPFM", channel="height", units="nm")}, truth,
                "KPFM surface potential with an Au reference pad")


def make_iv_sweep(*, resistance_MOhm: float = 50.0, hysteresis_nA: float = 0.5, v_max: float = 2.0,
                  n_points: int = 201, seed: int = 19) -> Demo:
    """A C-AFM I–V loop: ohmic current plus a hysteretic (ionic) term between the sweeps."""
    rng = np.random.default_rng(seed)
    up = np.linspace(-v_max, v_max, n_points)
    v = np.concatenate([up, up[::-1]])
    branch = np.concatenate([np.ones(n_points), -np.ones(n_points)])
    i = v / resistance_MOhm * 1e3 + branch * hysteresis_nA * (1 - (v / v_max) ** 2)
    i = i + rng.normal(0, 0.01, i.size)
    table = pd.DataFrame({"voltage_V": v, "current_nA": i})
    loop_area = 2 * hysteresis_nA * 4 / 3 * v_max  # ∫ 2h(1 − v²/V²) dv over [−V, V]
    return Demo(table, {"resistance_MOhm": resistance_MOhm, "hysteresis_area_nA_V": loop_area},
                f"I–V loop, {resistance_MOhm:g} MΩ with hysteresis")
