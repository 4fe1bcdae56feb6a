"""SECM demo data with known answers: approach curves over a conductor, an insulator and a
substrate of known κ (each with an unknown contact offset and noise), and a feedback map of
a surface with active spots of known rate constant."""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo

__all__ = ["make_approach_curves", "make_approach_curve", "make_secm_map", "make_sicm_maps", "make_esm_maps"]


def make_approach_curve(*, kind: str = "kinetic", kappa: float = 1.0, radius_um: float = 5.0, rg: float = 10.0,
                        contact_um: float = 3.2, bulk_current_nA: float = 1.8, noise: float = 0.004,
                        L_min: float = 0.1, L_max: float = 12.0, n_points: int = 240, seed: int = 3,
                        diffusion_cm2_s: float = 7.8e-6) -> Demo:
    """One approach curve in the instrument's frame: distance readings ``d = d0 + L·a``.

    ``noise`` is the relative Gaussian noise on the current (fraction of I_T,∞). The
    readings run from far to near, as an approach does.
    """
    from battlab.probes.secm import feedback_conductor, feedback_insulator, feedback_kinetic

    rng = np.random.default_rng(seed)
    L = np.linspace(L_max, L_min, n_points)
    if kind == "conductor":
        ni, k_true = feedback_conductor(L, rg=rg), np.inf
    elif kind == "insulator":
        ni, k_true = feedback_insulator(L, rg=rg), 0.0
    else:
        ni, k_true = feedback_kinetic(L, kappa, rg=rg), kappa
    current = bulk_current_nA * (ni + noise * rng.standard_normal(L.size))
    frame = pd.DataFrame({"distance_um": contact_um + L * radius_um, "current_nA": current})
    frame.attrs["battlab"] = {"source_name": f"demo:approach {kind}", "format": "battlab-demo"}
    frame.attrs["name"] = f"{kind}" + (f" κ={kappa:g}" if kind == "kinetic" else "")
    truth = {"kind": kind, "kappa": k_true, "radius_um": radius_um, "rg": rg, "d0_um": contact_um,
             "bulk_current_nA": bulk_current_nA, "diffusion_cm2_s": diffusion_cm2_s,
             "k_cm_s": k_true * diffusion_cm2_s / (radius_um * 1e-4), "noise": noise}
    return Demo(frame, truth, f"SECM approach curve ({kind}), a = {radius_um} µm, RG = {rg}")


def make_approach_curves(*, radius_um: float = 5.0, rg: float = 10.0, kappas=(0.3, 1.0, 3.0),
                         diffusion_cm2_s: float = 7.8e-6, noise: float = 0.004, seed: int = 11) -> Demo:
    """Approach curves over a conductor, an insulator and substrates of known κ.

    Every curve has its own contact offset (2–6 µm, unknown to the analysis) and bulk
    current; ``truth["curves"]`` lists them. ``data`` is a dict name → DataFrame.
    """
    rng = np.random.default_rng(seed)
    specs = [("conductor", None), ("insulator", None)] + [("kinetic", k) for k in kappas]
    data, truths = {}, {}
    for j, (kind, k) in enumerate(specs):
        d = make_approach_curve(kind=kind, kappa=k if k is not None else 1.0, radius_um=radius_um, rg=rg,
                                contact_um=float(np.round(rng.uniform(2.0, 6.0), 3)),
                                bulk_current_nA=float(np.round(rng.uniform(1.2, 2.4), 3)), noise=noise,
                                seed=seed + j, diffusion_cm2_s=diffusion_cm2_s)
        name = kind if k is None else f"kinetic κ={k:g}"
        d.data.attrs["name"] = name
        data[name] = d.data
        truths[name] = d.truth
    truth = {"curves": truths, "radius_um": radius_um, "rg": rg, "diffusion_cm2_s": diffusion_cm2_s}
    return Demo(data, truth, f"{len(data)} SECM approach curves (conductor, insulator, κ = "
                             f"{', '.join(f'{k:g}' for k in kappas)}), a = {radius_um} µm, RG = {rg}")


def make_secm_map(*, size_px: int = 96, pixel_size_um: float = 1.0, radius_um: float = 2.5, rg: float = 10.0,
                  working_distance_um: float = 2.5, diffusion_cm2_s: float = 7.8e-6,
                  spot_k_cm_s=(0.05, 0.02, 0.008), background_kappa: float = 0.0, spot_radius_um: float = 9.0,
                  bulk_current_nA: float = 2.0, noise: float = 0.003, seed: int = 5) -> Demo:
    """SECM feedback map of an insulating surface (e.g. an SEI-covered electrode) with
    round active spots of known rate constant.

    Each spot has a flat top of uniform k; the tip current follows the Cornut–Lefrou
    kinetic curve at ``L = working_distance / radius``. Lateral blurring by the tip is
    ignored, so the pixels well inside a spot carry exactly its κ (the answer a κ map must
    recover). ``truth["k_map_cm_s"]`` holds the k of every pixel and ``truth["spots"]``
    the centres, radii and k.
    """
    from battlab.probes.io import probe_map
    from battlab.probes.secm import feedback_kinetic

    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size_px, 0:size_px] + 0.5) * pixel_size_um
    kappa_of = lambda k: k * (radius_um * 1e-4) / diffusion_cm2_s  # noqa: E731
    kappa = np.full((size_px, size_px), float(background_kappa))
    span = size_px * pixel_size_um
    centres = [(0.27 * span, 0.30 * span), (0.70 * span, 0.35 * span), (0.45 * span, 0.74 * span)]
    spots = []
    for (cx, cy), k in zip(centres, spot_k_cm_s, strict=False):
        inside = np.hypot(xx - cx, yy - cy) <= spot_radius_um
        kappa[inside] = kappa_of(k)
        spots.append({"x_um": cx, "y_um": cy, "radius_um": spot_radius_um, "k_cm_s": k, "kappa": kappa_of(k)})
    L = working_distance_um / radius_um
    ni = feedback_kinetic(L, kappa, rg=rg)
    current = bulk_current_nA * (ni + noise * rng.standard_normal(ni.shape))
    da = probe_map(current, pixel_size_um=pixel_size_um, kind="secm", source_name="demo:secm map",
                   meta={"source_name": "demo:secm map", "format": "battlab-demo"})
    k_map = kappa * diffusion_cm2_s / (radius_um * 1e-4)
    truth = {"spots": spots, "k_map_cm_s": k_map, "kappa_map": kappa, "radius_um": radius_um, "rg": rg,
             "working_distance_um": working_distance_um, "diffusion_cm2_s": diffusion_cm2_s,
             "bulk_current_nA": bulk_current_nA, "active_fraction": float((kappa > 0).mean()), "noise": noise}
    return Demo({"tip current": da}, truth,
                f"SECM feedback map, {size_px}² px of {pixel_size_um} µm: insulating film with "
                f"{len(spots)} active spots (k = {', '.join(f'{k:g}' for k in spot_k_cm_s)} cm/s)")


def make_sicm_maps(*, size_px: int = 96, pixel_size_um: float = 0.1, seed: int = 8) -> Demo:
    """Paired SICM topography and ion-current maps of a film with two particles and a tilt.

    The height is known (two spherical caps of 150 and 100 nm on a 30 nm/µm tilt); the
    ion current drops by 2 % where the film is lithiated (inside the first particle).
    """
    from battlab.probes.io import probe_map

    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size_px, 0:size_px] + 0.5) * pixel_size_um
    span = size_px * pixel_size_um
    h = 30.0 * xx
    caps = [(0.3 * span, 0.4 * span, 0.18 * span, 150.0), (0.7 * span, 0.65 * span, 0.14 * span, 100.0)]
    for cx, cy, r, hmax in caps:
        rr = np.hypot(xx - cx, yy - cy)
        h = h + np.where(rr < r, hmax * (1 - (rr / r) ** 2), 0.0)
    ion = 1.5 * (1 - 0.02 * (np.hypot(xx - caps[0][0], yy - caps[0][1]) < caps[0][2]))
    height = probe_map(h + 0.5 * rng.standard_normal(h.shape), pixel_size_um=pixel_size_um, kind="sicm-height",
                       source_name="demo:sicm", meta={"source_name": "demo:sicm", "format": "battlab-demo"})
    current = probe_map(ion + 0.002 * rng.standard_normal(h.shape), pixel_size_um=pixel_size_um,
                        kind="sicm-current", source_name="demo:sicm",
                        meta={"source_name": "demo:sicm", "format": "battlab-demo"})
    return Demo({"height": height, "ion current": current},
                {"caps": caps, "tilt_nm_per_um": 30.0, "current_drop": 0.02},
                "SICM: topography and ion current of a film with two particles")


def make_esm_maps(*, size_px: int = 96, pixel_size_um: float = 0.02, n_grains: int = 6, active_pm: float = 12.0,
                  matrix_pm: float = 3.0, seed: int = 13) -> Demo:
    """ESM amplitude and phase maps: grains with a fast Li-ion response (high strain amplitude,
    phase 0°) in a slow matrix (low amplitude, phase 90°).

    ``truth`` gives the grain mask, its area fraction and the two amplitude levels (pm).
    """
    from battlab.probes.io import probe_map

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size_px, 0:size_px] + 0.5
    mask = np.zeros((size_px, size_px), bool)
    for _ in range(n_grains):
        cx, cy = rng.uniform(10, size_px - 10, 2)
        r = rng.uniform(5, 9)
        mask |= np.hypot(xx - cx, yy - cy) < r
    amp = np.where(mask, active_pm, matrix_pm) + 0.4 * rng.standard_normal(mask.shape)
    phase = np.where(mask, 0.0, 90.0) + 3.0 * rng.standard_normal(mask.shape)
    meta = {"source_name": "demo:esm", "format": "battlab-demo"}
    return Demo({"ESM amplitude": probe_map(amp, pixel_size_um=pixel_size_um, kind="esm-amplitude",
                                            source_name="demo:esm", meta=meta),
                 "ESM phase": probe_map(phase, pixel_size_um=pixel_size_um, kind="esm-phase", source_name="demo:esm",
                                        meta=meta)},
                {"grain_mask": mask, "active_fraction": float(mask.mean()), "active_pm": active_pm,
                 "matrix_pm": matrix_pm},
                f"ESM amplitude/phase: {n_grains} fast grains ({active_pm} pm) in a slow matrix ({matrix_pm} pm)")
