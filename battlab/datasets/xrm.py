"""Synthetic X-ray microscopy data with exact ground truth.

- :func:`make_packed_spheres`: a greyscale electrode volume of packed spherical active
  particles with a binder coating, blurred and noisy; the voxel labels are the truth.
- :func:`make_channel_volume` and :func:`make_layered_volume`: straight channels
  (τ = 1) and layered media (series/parallel bounds) with analytic transport.
- :func:`make_cracked_series`: an operando series of particles that swell and crack,
  with the crack volume of every frame.
- :func:`make_xanes_stack`: an energy stack across the Fe K-edge of particles with a
  known state-of-charge map, and the two end-member spectra.
- :func:`make_phantom_projections`: raw projections (with flat, dark, a shifted
  rotation centre and detector gain errors that make rings) of a known slice.

Sizes are small so the apps and tests run in seconds; every size is a parameter.
"""

from __future__ import annotations

import numpy as np

from battlab.datasets._base import Demo
from battlab.errors import InvalidParameterError

__all__ = ["make_packed_spheres", "make_channel_volume", "make_layered_volume", "make_cracked_series",
           "make_xanes_stack", "make_phantom_projections", "fe_k_edge_references", "PHASES"]

#: Phase numbers and names of the electrode demos (0 is darkest).
PHASES = {0: "pore", 1: "binder", 2: "active"}
_GREY = (0.12, 0.42, 0.85)  # pore, binder/carbon, active material (normalised attenuation)


def _place_spheres(shape, radii_range, target_fraction, rng, min_gap=-0.15, max_tries=20000):
    """Random sequential addition of spheres (slight overlap allowed, like sintered necks)."""
    centres, radii = [], []
    zz, yy, xx = np.indices(shape, dtype=np.float32)
    solid = np.zeros(shape, bool)
    tries = 0
    while solid.mean() < target_fraction and tries < max_tries:
        tries += 1
        r = rng.uniform(*radii_range)
        c = rng.uniform([0, 0, 0], shape)
        if centres:
            d = np.linalg.norm(np.asarray(centres) - c, axis=1)
            if np.any(d < (np.asarray(radii) + r) * (1 + min_gap)):
                continue
        centres.append(c)
        radii.append(r)
        solid |= (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
    return solid, np.asarray(centres), np.asarray(radii)


def _render(labels, rng, noise, blur_voxels):
    from scipy import ndimage as ndi

    grey = np.asarray(_GREY)[labels]
    if blur_voxels > 0:
        grey = ndi.gaussian_filter(grey, blur_voxels)
    grey = grey + rng.normal(0, noise, labels.shape)
    return np.clip(grey * 50000, 0, 65535).astype(np.uint16)


def make_packed_spheres(shape=(64, 64, 64), *, voxel_size_um: float = 0.5, solid_fraction: float = 0.45,
                        radius_um=(2.5, 4.5), binder_fraction: float = 0.08, noise: float = 0.04,
                        blur_voxels: float = 0.3, seed: int = 0) -> Demo:
    """Electrode volume: packed active spheres, a binder/carbon coating, pores.

    Returns
    -------
    Demo
        ``data``: uint16 greyscale (z, y, x) volume (see :func:`battlab.xrm.make_volume`).
        ``truth``: ``labels`` (0 pore, 1 binder, 2 active), ``porosity``,
        ``phase_fractions``, ``centres_um``, ``radii_um``, ``slice_porosity`` (per z).
    """
    from scipy import ndimage as ndi

    from battlab.xrm.io import make_volume

    if len(shape) != 3 or min(shape) < 8:
        raise InvalidParameterError(f"shape must be three sizes of at least 8 voxels, got {shape}.")
    rng = np.random.default_rng(seed)
    r_vox = (radius_um[0] / voxel_size_um, radius_um[1] / voxel_size_um)
    solid, centres, radii = _place_spheres(tuple(shape), r_vox, solid_fraction, rng)
    labels = np.where(solid, 2, 0).astype(np.uint8)
    if binder_fraction > 0:
        # A patchy coating: pore voxels next to particles where a smooth random field is high.
        dist = ndi.distance_transform_edt(~solid)
        field = ndi.gaussian_filter(rng.normal(size=shape), 2.0)
        shell = (dist > 0) & (dist <= 2.0)
        cut = np.quantile(field[shell], 1 - min(1.0, binder_fraction / max(shell.mean(), 1e-9)))
        labels[shell & (field >= cut)] = 1
    vol = make_volume(_render(labels, rng, noise, blur_voxels), voxel_size_um=voxel_size_um, units="counts",
                      source_format="battlab demo", source_name="packed spheres demo")
    fractions = {PHASES[k]: float(np.mean(labels == k)) for k in PHASES}
    truth = {"labels": labels, "porosity": fractions["pore"], "phase_fractions": fractions,
             "centres_um": centres * voxel_size_um, "radii_um": radii * voxel_size_um,
             "slice_porosity": (labels == 0).mean(axis=(1, 2)), "voxel_size_um": voxel_size_um}
    return Demo(vol, truth, f"{len(radii)} active spheres (r {radius_um[0]:g}–{radius_um[1]:g} µm) with binder; "
                            f"porosity {truth['porosity']:.3f}")


def make_channel_volume(shape=(40, 32, 32), *, voxel_size_um: float = 1.0, channel_width_voxels: int = 4,
                        pitch_voxels: int = 8) -> Demo:
    """Solid block with straight square pore channels along z (τ_z = 1 exactly).

    ``truth``: ``labels`` (0 pore, 2 solid), ``porosity``, ``tortuosity`` per axis
    (1 along z, inf across: the channels do not touch).
    """
    from battlab.xrm.io import make_volume

    if channel_width_voxels >= pitch_voxels:
        raise InvalidParameterError("channel_width_voxels must be smaller than pitch_voxels (walls between channels).")
    labels = np.full(shape, 2, np.uint8)
    open_y = (np.arange(shape[1]) % pitch_voxels) < channel_width_voxels
    open_x = (np.arange(shape[2]) % pitch_voxels) < channel_width_voxels
    labels[:, open_y[:, None] & open_x[None, :]] = 0
    grey = np.asarray(_GREY)[labels]
    vol = make_volume((grey * 50000).astype(np.uint16), voxel_size_um=voxel_size_um, units="counts",
                      source_format="battlab demo", source_name="straight channels demo")
    truth = {"labels": labels, "porosity": float(np.mean(labels == 0)),
             "tortuosity": {"z": 1.0, "y": np.inf, "x": np.inf}}
    return Demo(vol, truth, f"straight channels along z, porosity {truth['porosity']:.3f}, τ_z = 1")


def make_layered_volume(shape=(40, 24, 24), *, voxel_size_um: float = 1.0, layer_voxels=(4, 6),
                        diffusivity=(1.0, 0.1)) -> Demo:
    """Alternating layers normal to z of two conducting phases (0 and 1).

    ``truth``: ``labels``, ``diffusivity`` (phase -> D/D0), ``fractions``, and the
    effective diffusivities ``D_eff_rel``: the harmonic (series) bound along z and the
    arithmetic (parallel) bound along y and x.
    """
    from battlab.xrm.io import make_volume

    period = sum(layer_voxels)
    pos = np.arange(shape[0]) % period
    layer = (pos >= layer_voxels[0]).astype(np.uint8)
    labels = np.broadcast_to(layer[:, None, None], shape).astype(np.uint8)
    f1 = float(np.mean(labels == 1))
    f0 = 1 - f1
    d0, d1 = (float(d) for d in diffusivity)
    series = 1.0 / (f0 / d0 + f1 / d1)
    parallel = f0 * d0 + f1 * d1
    grey = np.asarray(_GREY)[labels]
    vol = make_volume((grey * 50000).astype(np.uint16), voxel_size_um=voxel_size_um, units="counts",
                      source_format="battlab demo", source_name="layered demo")
    truth = {"labels": labels, "diffusivity": {0: d0, 1: d1}, "fractions": {0: f0, 1: f1},
             "D_eff_rel": {"z": series, "y": parallel, "x": parallel}}
    return Demo(vol, truth, f"layers along z: series D_eff {series:.3f}, parallel {parallel:.3f} (×D0)")


def make_cracked_series(shape=(40, 48, 48), *, voxel_size_um: float = 0.5, n_times: int = 5,
                        radius_voxels: float = 9.0, swelling_pct: float = 6.0, crack_start: int = 2,
                        crack_width_voxels=(0, 0, 2, 3, 4), noise: float = 0.02, seed: int = 3) -> Demo:
    """Operando series of two particles that swell and crack.

    One particle (the first) develops a planar crack through its centre from time index
    ``crack_start``; both swell linearly in volume by ``swelling_pct`` over the series.

    Returns
    -------
    Demo
        ``data``: list of greyscale volumes (one per time point).
        ``truth``: ``labels`` per time, ``volume_um3`` per time and particle (without
        cracks), ``crack_volume_um3`` per time (particle 1), ``crack_onset`` (index).
    """
    from battlab.xrm.io import make_volume

    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape, dtype=np.float32)
    centres = [(shape[0] / 2, shape[1] * 0.3, shape[2] * 0.3), (shape[0] / 2, shape[1] * 0.7, shape[2] * 0.68)]
    widths = list(crack_width_voxels) + [crack_width_voxels[-1]] * max(0, n_times - len(crack_width_voxels))
    vols, labels_t, vol_true, crack_true = [], [], [], []
    v = voxel_size_um ** 3
    for t in range(n_times):
        scale = (1 + swelling_pct / 100 * t / max(n_times - 1, 1)) ** (1 / 3)
        r = radius_voxels * scale
        lab = np.zeros(shape, np.uint8)
        per = []
        for c in centres:
            inside = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
            lab[inside] = 2
            per.append(float(inside.sum() * v))
        crack = np.zeros(shape, bool)
        w = widths[t] if t >= crack_start else 0
        if w > 0:
            c = centres[0]
            inside = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= (0.8 * r) ** 2
            # A crack plane through the centre, inclined, that stops short of the surface.
            dist = np.abs((yy - c[1]) - 0.5 * (xx - c[2]))
            crack = inside & (dist < w / 2)
            lab[crack] = 0
        vols.append(make_volume(_render(lab, rng, noise, 0.5), voxel_size_um=voxel_size_um, units="counts",
                                source_format="battlab demo", source_name=f"cracked particles t{t}"))
        labels_t.append(lab)
        vol_true.append(per)
        crack_true.append(float(crack.sum() * v))
    onset = next((t for t, c in enumerate(crack_true) if c > 0), None)
    truth = {"labels": labels_t, "volume_um3": np.asarray(vol_true), "crack_volume_um3": np.asarray(crack_true),
             "crack_onset": onset, "swelling_pct": swelling_pct, "times": list(range(n_times))}
    return Demo(vols, truth, f"two particles swelling {swelling_pct:g} %, one cracking from t = {onset}")


def fe_k_edge_references(energies_eV=None):
    """Synthetic Fe K-edge XANES of LiFePO4 (Fe2+, discharged) and FePO4 (Fe3+, charged).

    Normalised μ(E): an arctangent edge plus a white line; the Fe3+ edge sits 4 eV
    higher with a weaker, broader white line.

    Returns
    -------
    dict of name -> DataArray over ``energy_eV``
    """
    import xarray as xr

    e = np.arange(7102.0, 7193.0, 2.0) if energies_eV is None else np.asarray(energies_eV, float)

    def spectrum(e0, wl_height, wl_width):
        edge = 0.5 + np.arctan((e - e0) / 1.5) / np.pi
        white = wl_height * np.exp(-0.5 * ((e - e0 - 6) / wl_width) ** 2)
        post = 0.05 * np.sin((e - e0) / 14.0) * (e > e0)
        return edge + white + post

    out = {}
    for name, args in {"LiFePO4": (7121.0, 0.55, 3.5), "FePO4": (7125.0, 0.35, 4.5)}.items():
        da = xr.DataArray(spectrum(*args), dims=("energy_eV",), coords={"energy_eV": e}, name="intensity",
                          attrs={"units": "normalized mu(E)", "technique": "xas", "reference": name})
        da["energy_eV"].attrs["units"] = "eV"
        out[name] = da
    return out


def make_xanes_stack(shape=(48, 48), *, pixel_size_um: float = 0.05, energies_eV=None, noise: float = 0.01,
                     seed: int = 1) -> Demo:
    """XANES energy stack of LiFePO4/FePO4 particles with a known SOC map.

    Each particle delithiates from its surface (core-shell): SOC (the FePO4 fraction)
    falls from the rim to the centre, with a different mean per particle. Absorbance is
    thickness × (pre-edge slope + edge step × mixture) + noise.

    Returns
    -------
    Demo
        ``data``: DataArray (energy_eV, y, x) of absorbance (−ln I/I0).
        ``truth``: ``soc`` map (NaN outside particles), ``particles`` (labels),
        ``references`` (the two spectra), ``particle_soc`` (mean per particle).
    """
    import xarray as xr

    rng = np.random.default_rng(seed)
    refs = fe_k_edge_references(energies_eV)
    e = refs["LiFePO4"]["energy_eV"].to_numpy()
    ny, nx = shape
    yy, xx = np.indices(shape, dtype=float)
    particles = np.zeros(shape, np.int32)
    soc = np.full(shape, np.nan)
    thickness = np.zeros(shape)
    specs = [(0.3, 0.3, 0.2, 0.8), (0.28, 0.74, 0.18, 0.45), (0.73, 0.3, 0.19, 0.2), (0.72, 0.74, 0.17, 0.6)]
    for k, (cy, cx, rad, mean_soc) in enumerate(specs, start=1):
        r = np.hypot(yy - cy * ny, xx - cx * nx) / (rad * min(ny, nx))
        inside = r < 1
        particles[inside] = k
        # Rim more charged than the core; the spread keeps the mean near mean_soc.
        soc[inside] = np.clip(mean_soc + 0.25 * (r[inside] - 0.6), 0, 1)
        thickness[inside] = 0.4 + 0.6 * np.sqrt(1 - r[inside] ** 2)  # platelets: thick even at the rim
    frac = np.nan_to_num(soc)
    mix = (1 - frac)[None] * refs["LiFePO4"].to_numpy()[:, None, None] + frac[None] * refs["FePO4"].to_numpy()[:, None, None]
    pre = 0.2 - 0.0004 * (e - e[0])  # falling pre-edge background, as in transmission data
    absorb = thickness[None] * (pre[:, None, None] + 1.2 * mix) + 0.05 + rng.normal(0, noise, (e.size, ny, nx))
    stack = xr.DataArray(absorb, dims=("energy_eV", "y", "x"),
                         coords={"energy_eV": e, "y_um": ("y", np.arange(ny) * pixel_size_um),
                                 "x_um": ("x", np.arange(nx) * pixel_size_um)},
                         name="absorbance", attrs={"units": "-ln(I/I0)", "pixel_size_um": pixel_size_um,
                                                   "battlab": {"source_name": "XANES demo", "sha256": None,
                                                               "format": "battlab demo"}})
    stack["energy_eV"].attrs["units"] = "eV"
    truth = {"soc": soc, "particles": particles, "references": refs,
             "particle_soc": {k: float(np.mean(soc[particles == k])) for k in range(1, len(specs) + 1)},
             "charged": "FePO4", "discharged": "LiFePO4"}
    return Demo(stack, truth, f"{len(specs)} LiFePO4/FePO4 particles, {e.size} energies {e[0]:g}–{e[-1]:g} eV")


def make_phantom_projections(size: int = 96, *, n_angles: int = 120, center_offset_px: float = 2.0,
                             ring_gain_error: float = 0.02, photons: float = 2e4, seed: int = 2) -> Demo:
    """Raw transmission projections of an electrode cross-section phantom.

    The phantom holds discs of active material and a denser current-collector strip in
    a weakly absorbing matrix (μ in 1/pixel). Projections cover 0–180° (endpoint
    included), the rotation axis sits ``center_offset_px`` right of the detector centre,
    a few detector pixels have gain errors of about ``ring_gain_error`` (they make
    rings), and counts are Poisson with ``photons`` in the flat field.

    Returns
    -------
    Demo
        ``data``: dict with ``projections`` (angle, x) counts, ``flat``, ``dark`` (x)
        and ``angles_deg``. ``truth``: ``phantom`` (μ per pixel), ``center_offset_px``,
        ``gain``.
    """
    from scipy import ndimage as ndi
    from skimage.transform import radon

    rng = np.random.default_rng(seed)
    yy, xx = np.indices((size, size), dtype=float)
    c = (size - 1) / 2
    phantom = np.where(np.hypot(yy - c, xx - c) < 0.45 * size, 0.004, 0.0)
    for _ in range(9):
        r = rng.uniform(0.05, 0.1) * size
        ang, rad = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.3 * size)
        cy, cx = c + rad * np.sin(ang), c + rad * np.cos(ang)
        phantom[np.hypot(yy - cy, xx - cx) < r] = 0.02
    phantom[int(0.7 * size):int(0.74 * size), int(0.25 * size):int(0.75 * size)] = 0.04
    angles = np.linspace(0.0, 180.0, n_angles)
    sino = radon(phantom, theta=angles, circle=True).T  # (angle, detector x)
    sino = ndi.shift(sino, (0, center_offset_px), order=1, mode="nearest")
    # Pixel response changed between the flat-field and the scan: flat correction
    # cannot remove it, so those pixels leave stripes (rings after reconstruction).
    gain = np.ones(sino.shape[1])
    bad = rng.choice(np.arange(size // 6, size - size // 6), size=max(2, size // 24), replace=False)
    gain[bad] += rng.choice([-1, 1], bad.size) * ring_gain_error
    flat = np.full(sino.shape[1], photons)
    dark = np.full(sino.shape[1], 100.0)
    counts = rng.poisson(flat[None] * gain[None] * np.exp(-sino)).astype(float) + dark
    data = {"projections": counts, "flat": flat + dark, "dark": dark, "angles_deg": angles}
    truth = {"phantom": phantom, "center_offset_px": center_offset_px, "gain": gain, "bad_pixels": np.sort(bad)}
    return Demo(data, truth, f"{size}×{size} phantom, {n_angles} projections over 180°, axis offset "
                             f"{center_offset_px:g} px")
