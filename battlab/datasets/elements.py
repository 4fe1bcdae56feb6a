"""XRF/EDS demo data with known answers: element maps of an NMC cathode whose particles have
a Ni-rich core and a Mn-rich shell (known Ni/Mn), in a PVDF/carbon binder (known F/C), and
an SEM-like image of the same field shifted by a known amount for registration."""

from __future__ import annotations

import numpy as np

from battlab.datasets._base import Demo

__all__ = ["make_nmc_element_maps"]

#: atomic fractions among the transition metals, core and shell
CORE = {"Ni": 0.8, "Mn": 0.1, "Co": 0.1}
SHELL = {"Ni": 0.5, "Mn": 0.3, "Co": 0.2}


def _particles(size_px, rng, n):
    out = []
    for _ in range(200 * n):
        if len(out) == n:
            break
        r = rng.uniform(0.09, 0.14) * size_px
        cx, cy = rng.uniform(r + 2, size_px - r - 2, 2)
        if all(np.hypot(cx - p[0], cy - p[1]) > r + p[2] + 2 for p in out):
            out.append((cx, cy, r))
    return out


def _render(size_px, particles, shift_px=(0.0, 0.0), shell_fraction=0.35):
    """Thickness (0–1, spherical), core indicator and particle mask, sampled at pixel
    centres displaced by ``shift_px`` (dy, dx) so a shifted copy is exact."""
    yy, xx = np.mgrid[0:size_px, 0:size_px].astype(float)
    yy = yy - shift_px[0]
    xx = xx - shift_px[1]
    thick = np.zeros((size_px, size_px))
    core = np.zeros((size_px, size_px), bool)
    edge = np.zeros((size_px, size_px))
    for cx, cy, r in particles:
        rr = np.hypot(xx - cx, yy - cy)
        inside = rr < r
        thick = np.where(inside, np.sqrt(np.clip(1 - (rr / r) ** 2, 0, 1)), thick)
        core |= rr < (1 - shell_fraction) * r
        edge += np.exp(-0.5 * ((rr - r) / 1.2) ** 2)
    return thick, core, thick > 0, edge


def make_nmc_element_maps(*, size_px: int = 128, pixel_size_um: float = 0.1, n_particles: int = 7,
                          dose_counts: float = 400.0, shell_fraction: float = 0.35, noise: bool = True,
                          sem_shift_px=(6.4, -9.7), seed: int = 21) -> Demo:
    """EDS-like element maps (Ni, Mn, Co, O, C, F) of NMC particles with a Ni-rich core
    (Ni:Mn:Co = 8:1:1, Ni/Mn = 8) and a Mn-rich shell (5:3:2, Ni/Mn = 5/3) in a carbon +
    PVDF binder (F/C = 0.5 by counts).

    Expected counts are ``dose · thickness · fraction`` (all sensitivities 1, so count
    ratios equal atomic ratios); ``noise=True`` draws Poisson counts. ``truth`` holds the
    expected-count maps, the exact Ni/Mn map (NaN off the particles), the core/shell
    masks, their area fractions, and the SEM image's shift in pixels (dy, dx): the SEM
    pixel (r, c) shows the sample point of EDS pixel (r − dy, c − dx).

    ``data`` is a dict with ``maps`` (element, y, x) and ``sem`` (y, x).
    """
    from battlab.elements.io import element_maps
    from battlab.probes.io import probe_map

    rng = np.random.default_rng(seed)
    parts = _particles(size_px, rng, n_particles)
    thick, core, mask, _ = _render(size_px, parts, shell_fraction=shell_fraction)
    shell = mask & ~core
    tm = 0.25 + 0.75 * thick  # a particle of zero thickness at its rim still shows some signal
    expected = {}
    for el in ("Ni", "Mn", "Co"):
        frac = np.where(core, CORE[el], np.where(shell, SHELL[el], 0.0))
        expected[el] = dose_counts * tm * frac * mask
    expected["O"] = dose_counts * 2.0 * tm * mask  # LiMO2: two O per transition metal
    binder = ~mask
    expected["C"] = np.where(binder, 0.4 * dose_counts, 0.02 * dose_counts)
    expected["F"] = np.where(binder, 0.2 * dose_counts, 0.0)
    counts = {el: rng.poisson(v).astype(float) if noise else v.copy() for el, v in expected.items()}
    maps = element_maps(counts, pixel_size_um=pixel_size_um, source_name="demo:NMC EDS maps",
                        meta={"source_name": "demo:NMC EDS maps", "format": "battlab-demo"})
    with np.errstate(divide="ignore", invalid="ignore"):
        ni_mn = np.where(mask, expected["Ni"] / expected["Mn"], np.nan)
    # SEM: secondary-electron-like contrast (bright particles, brighter edges) of the same
    # field, shifted by a known sub-pixel amount
    sthick, _, smask, sedge = _render(size_px, parts, shift_px=sem_shift_px, shell_fraction=shell_fraction)
    sem = 0.2 + 0.3 * smask + 0.5 * sthick + 0.1 * np.clip(sedge, 0, 1)
    sem = sem + (0.02 * rng.standard_normal(sem.shape) if noise else 0.0)
    sem_da = probe_map(sem, pixel_size_um=pixel_size_um, kind="secm", units="a.u.", channel="SEM",
                       source_name="demo:SEM image", meta={"source_name": "demo:SEM image", "format": "battlab-demo"})
    sem_da.attrs.pop("probe_kind", None)
    truth = {"expected": expected, "ni_mn_map": ni_mn, "core_mask": core, "shell_mask": shell, "particle_mask": mask,
             "ni_mn_core": CORE["Ni"] / CORE["Mn"], "ni_mn_shell": SHELL["Ni"] / SHELL["Mn"],
             "core_area_fraction": float(core.mean()), "shell_area_fraction": float(shell.mean()),
             "binder_area_fraction": float(binder.mean()), "f_c_binder": 0.5, "sem_shift_px": tuple(sem_shift_px),
             "particles": parts, "dose_counts": dose_counts}
    return Demo({"maps": maps, "sem": sem_da}, truth,
                f"EDS maps of NMC particles: Ni-rich core (Ni/Mn = 8), Mn-rich shell (Ni/Mn = 5/3), "
                f"{size_px}² px of {pixel_size_um} µm; SEM image shifted by {sem_shift_px} px")
