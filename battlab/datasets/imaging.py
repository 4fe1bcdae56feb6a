"""Demo data for the imaging-only techniques: neutron radiography, ⁷Li MRI chemical-shift
imaging and off-axis electron holography, each with its ground truth."""

from __future__ import annotations

import numpy as np

from battlab.datasets._base import Demo

__all__ = ["make_hologram", "make_mri_csi_series", "make_mri_volume", "make_neutron_radiography_series",
           "make_phase_step"]

_AVOGADRO = 6.02214076e23
_LI_MOLAR_MASS = 6.94  # g/mol, natural abundance
_LI_SIGMA_BARN = 70.5  # natural Li, thermal (2200 m/s) absorption


def make_neutron_radiography_series(*, n_frames: int = 12, shape=(64, 96), pixel_size_um: float = 20.0,
                                    transferred_mg_cm2: float = 3.0, counts: float = 50000.0, noise: bool = True,
                                    rng=7) -> Demo:
    """Operando neutron radiographs of a Li cell in which lithium moves from anode to cathode.

    A cell seen edge-on: housing, a Li-metal anode (x 10–34 px), electrolyte-filled separator
    and a cathode (x 52–80 px). During discharge ``transferred_mg_cm2`` of Li (areal
    density along the beam) leaves the anode and enters the cathode, linearly in time.
    Raw counts follow Beer–Lambert on a non-uniform open beam plus a dark current:
    I = (I₀(x, y) − D)·exp(−Σx) + D, with Poisson noise when ``noise``.

    Returns
    -------
    Demo
        ``data``: dict with ``frames`` (time, y, x counts, ``time_s``), ``open_beam`` and
        ``dark`` (y, x). ``truth``: ``rois`` (name → (y0, y1, x0, x1) px),
        ``cross_section_barn`` (natural Li), ``molar_mass_g_mol``,
        ``delta_areal_density_mg_cm2`` (name → per-frame change vs frame 0) and
        ``delta_attenuation`` (name → per-frame change of −ln T), ``attenuation`` (the
        noise-free −ln T per frame).
    """
    import xarray as xr

    gen = np.random.default_rng(rng)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    # open beam: a broad bump (beam profile) with ±10 % fall-off
    open_beam = counts * (1.0 - 0.1 * (((yy - ny / 2) / ny) ** 2 + ((xx - nx / 2) / nx) ** 2) * 4)
    dark = np.full(shape, 0.01 * counts)
    base = np.full(shape, 0.15)  # aluminium housing
    cell = (yy >= 6) & (yy < ny - 6)
    anode = cell & (xx >= 10) & (xx < 34)
    separator = cell & (xx >= 34) & (xx < 52)
    cathode = cell & (xx >= 52) & (xx < 80)
    base = base + 0.35 * anode + 0.25 * separator + 0.5 * cathode
    atoms_per_mg = 1e-3 / _LI_MOLAR_MASS * _AVOGADRO
    per_mg = _LI_SIGMA_BARN * 1e-24 * atoms_per_mg  # −ln T per (mg/cm² of Li)
    t = np.arange(n_frames, dtype=float)
    moved = transferred_mg_cm2 * t / max(n_frames - 1, 1)
    att = base[None] + per_mg * moved[:, None, None] * (cathode.astype(float) - anode.astype(float))[None]
    ideal = (open_beam - dark)[None] * np.exp(-att) + dark[None]
    if noise:
        frames = gen.poisson(ideal).astype(float)
        ob = gen.poisson(np.repeat(open_beam[None], 10, axis=0)).astype(float).mean(axis=0)  # 10 open beams
        dk = gen.poisson(np.repeat(dark[None], 10, axis=0)).astype(float).mean(axis=0)
    else:
        frames, ob, dk = ideal, open_beam, dark
    frame_time = 600.0
    da = xr.DataArray(frames, dims=("time", "y", "x"), name="counts",
                      coords={"time_s": ("time", t * frame_time), "y_um": ("y", np.arange(ny) * pixel_size_um),
                              "x_um": ("x", np.arange(nx) * pixel_size_um)},
                      attrs={"units": "counts", "kind": "movie", "pixel_size_um": pixel_size_um,
                             "pixel_size_nm": pixel_size_um * 1e3, "frame_time_s": frame_time,
                             "technique": "neutron radiography", "source_name": "demo: neutron radiography"})
    da["time_s"].attrs["units"] = "s"
    rois = {"anode": (8, ny - 8, 12, 32), "cathode": (8, ny - 8, 54, 78), "separator": (8, ny - 8, 36, 50)}
    sign = {"anode": -1.0, "cathode": 1.0, "separator": 0.0}
    truth = {"rois": rois, "cross_section_barn": _LI_SIGMA_BARN, "molar_mass_g_mol": _LI_MOLAR_MASS,
             "pixel_size_um": pixel_size_um, "transferred_mg_cm2": transferred_mg_cm2,
             "delta_areal_density_mg_cm2": {k: s * moved for k, s in sign.items()},
             "delta_attenuation": {k: s * moved * per_mg for k, s in sign.items()},
             "attenuation": att}
    return Demo({"frames": da, "open_beam": ob, "dark": dk}, truth,
                f"neutron radiography: {transferred_mg_cm2:g} mg/cm² Li moving from anode to cathode")


def make_mri_csi_series(*, n_times: int = 10, n_x: int = 64, cell_mm: float = 4.0, max_length_px: int = 14,
                        noise: float = 0.003, rng=3) -> Demo:
    """⁷Li chemical-shift imaging of a symmetric Li|electrolyte|Li cell with a growing Li deposit.

    1-D CSI along the cell axis x: each position has a ⁷Li spectrum. The electrolyte gap
    (x 12–52 px) gives a diamagnetic line at 0 ppm (Gaussian, σ 4 ppm); the two Li
    electrode surfaces (skin-depth-limited) and a mossy deposit growing into the gap from
    the negative electrode (one px more every time step, up to ``max_length_px``) give the
    Knight-shifted metal line at 260 ppm (σ 8 ppm). The deposit displaces electrolyte.

    Returns
    -------
    Demo
        ``data``: DataArray (time, x, shift_ppm) with ``x_um`` and ``elapsed_s``.
        ``truth``: ``metal_fraction`` per time (metal signal / total, exact integrals),
        ``metal_signal`` and ``electrolyte_signal`` (total areas), ``deposit_length_px``.
    """
    import xarray as xr

    gen = np.random.default_rng(rng)
    ppm = np.arange(-100.0, 400.0 + 0.5, 1.0)
    gauss = lambda c, s: np.exp(-0.5 * ((ppm - c) / s) ** 2)  # noqa: E731
    ele_line, met_line = gauss(0.0, 4.0), gauss(260.0, 8.0)
    ele_area, met_area = 4.0 * np.sqrt(2 * np.pi), 8.0 * np.sqrt(2 * np.pi)
    lo, hi = 12, 52
    lengths = np.minimum(np.arange(n_times), max_length_px)
    data = np.zeros((n_times, n_x, ppm.size))
    metal_amp = np.zeros((n_times, n_x))
    ele_amp = np.zeros((n_times, n_x))
    for k, length in enumerate(lengths):
        ele_amp[k, lo:hi] = 1.0
        metal_amp[k, lo - 2:lo] = 0.6  # electrode surfaces within the skin depth
        metal_amp[k, hi:hi + 2] = 0.6
        metal_amp[k, lo:lo + length] = 0.5  # mossy deposit; electrolyte left in its pores
        ele_amp[k, lo:lo + length] = 0.4
        data[k] = ele_amp[k][:, None] * ele_line[None] + metal_amp[k][:, None] * met_line[None]
    data = data + noise * gen.standard_normal(data.shape)
    met = metal_amp.sum(axis=1) * met_area
    ele = ele_amp.sum(axis=1) * ele_area
    dt = 1000.0  # a 3-D FLASH image every 16 min 40 s in the seed review
    elapsed = np.arange(n_times) * dt
    da = xr.DataArray(data, dims=("time", "x", "shift_ppm"), name="signal",
                      coords={"time": elapsed, "elapsed_s": ("time", elapsed), "shift_ppm": ppm,
                              "x_um": ("x", np.arange(n_x) * cell_mm * 1e3 / n_x)},
                      attrs={"units": "a.u.", "technique": "MRI 7Li CSI", "nucleus": "7Li",
                             "pixel_size_um": cell_mm * 1e3 / n_x, "source_name": "demo: 7Li CSI"})
    da["shift_ppm"].attrs["units"] = "ppm"
    return Demo(da, {"metal_fraction": met / (met + ele), "metal_signal": met, "electrolyte_signal": ele,
                     "deposit_length_px": lengths, "electrolyte_px": (lo, hi)},
                "7Li CSI: Li metal deposit growing into the electrolyte")


def _grid(shape):
    ny, nx = shape
    return np.mgrid[0:ny, 0:nx].astype(float)


def make_hologram(*, shape=(256, 256), pixel_size_nm: float = 0.5, voltage_kV: float = 300.0,
                  radius_nm: float = 30.0, mean_inner_potential_V: float = 12.0, sideband_px=(-40, 60),
                  fringe_contrast: float = 0.4, counts: float = 1000.0, noise: bool = True, rng=11) -> Demo:
    """Off-axis hologram of a spherical particle (rounded rim) with a vacuum reference hologram.

    The object phase is φ = C_E·V₀·t(x, y) with t the sphere's projected thickness,
    smoothed by a 4-px Gaussian (a real rim is never a sharp √ edge). Both holograms share
    the same carrier (``sideband_px`` in FFT px from the centre, upper sideband) and a
    smooth distortion phase (biprism/lens/camera), which the reference removes.

    Returns
    -------
    Demo
        ``data``: dict ``hologram`` and ``reference`` (y, x counts, ``pixel_size_nm``).
        ``truth``: ``phase_rad`` (object phase, 0 in vacuum), ``distortion_rad``,
        ``sideband_px``, ``voltage_kV``, ``mean_inner_potential_V``, ``thickness_nm``.
    """
    import xarray as xr
    from scipy.ndimage import gaussian_filter

    from battlab.tem.physics import interaction_constant_rad_per_V_nm

    gen = np.random.default_rng(rng)
    ny, nx = shape
    yy, xx = _grid(shape)
    r = np.hypot(yy - ny / 2, xx - nx / 2) * pixel_size_nm
    thick = gaussian_filter(2 * np.sqrt(np.clip(radius_nm ** 2 - r ** 2, 0, None)), 4.0)
    c_e = float(interaction_constant_rad_per_V_nm(voltage_kV))
    phase = c_e * mean_inner_potential_V * thick
    amplitude = np.exp(-thick / 150.0)  # inelastic scattering out of the zero-loss wave
    distortion = 1.2 * (((yy - ny / 2) / ny) ** 2 - 0.5 * ((xx - nx / 2) / nx) ** 2) + 0.3 * (xx / nx)
    carrier = 2 * np.pi * (sideband_px[0] * yy / ny + sideband_px[1] * xx / nx)

    def holo(a, phi):
        ideal = counts * (1 + a ** 2 + 2 * fringe_contrast * a * np.cos(carrier + phi + distortion)) / 2
        return gen.poisson(ideal).astype(float) if noise else ideal

    attrs = {"units": "counts", "pixel_size_nm": pixel_size_nm, "voltage_kV": voltage_kV, "kind": "image",
             "technique": "electron holography"}
    def image(arr, name):
        return xr.DataArray(arr, dims=("y", "x"), name=name, attrs={**attrs, "source_name": f"demo: {name}"})

    return Demo({"hologram": image(holo(amplitude, phase), "hologram"),
                 "reference": image(holo(np.ones(shape), 0.0), "reference hologram")},
                {"phase_rad": phase, "distortion_rad": distortion, "sideband_px": tuple(sideband_px),
                 "voltage_kV": voltage_kV, "mean_inner_potential_V": mean_inner_potential_V, "thickness_nm": thick,
                 "pixel_size_nm": pixel_size_nm, "center_px": (ny / 2, nx / 2), "radius_nm": radius_nm},
                "off-axis hologram of a 60 nm particle (V₀ = 12 V) at 300 kV")


def make_phase_step(*, shape=(128, 192), pixel_size_nm: float = 1.0, voltage_kV: float = 300.0,
                    thickness_nm: float = 60.0, step_V: float = 0.8, width_nm: float = 4.0,
                    noise_rad: float = 0.03, rng=5) -> Demo:
    """Holography phase image across an interface with a known potential step.

    A uniform specimen (thickness ``thickness_nm``, mean inner potential 15 V) whose
    potential rises by ``step_V`` across a vertical interface at the image centre (an
    erf of ``width_nm``), e.g. the charge layer between a lithiated shell and the core of
    a particle. Phase φ = C_E·V(x)·t plus white noise ``noise_rad``.

    Returns
    -------
    Demo
        ``data``: DataArray (y, x) in rad. ``truth``: ``step_V``, ``delta_phase_rad``,
        ``thickness_nm``, ``voltage_kV``, ``interface_x_px``.
    """
    from scipy.special import erf

    from battlab.tem.holography import as_phase_image
    from battlab.tem.physics import interaction_constant_rad_per_V_nm

    gen = np.random.default_rng(rng)
    ny, nx = shape
    x = np.arange(nx) * pixel_size_nm
    x0 = nx / 2 * pixel_size_nm
    potential = 15.0 + step_V * 0.5 * (1 + erf((x - x0) / width_nm))
    c_e = float(interaction_constant_rad_per_V_nm(voltage_kV))
    phase = np.broadcast_to(c_e * potential * thickness_nm, shape) + noise_rad * gen.standard_normal(shape)
    da = as_phase_image(phase, pixel_size_nm=pixel_size_nm)
    da.attrs.update(voltage_kV=voltage_kV, source_name="demo: phase step")
    return Demo(da, {"step_V": step_V, "delta_phase_rad": c_e * step_V * thickness_nm, "thickness_nm": thickness_nm,
                     "voltage_kV": voltage_kV, "interface_x_px": nx / 2, "noise_rad": noise_rad},
                f"phase image: {step_V:g} V step across an interface, t = {thickness_nm:g} nm")


def make_mri_volume(*, shape=(40, 48, 48), voxel_size_um: float = 25.0, n_dendrites: int = 5, noise: float = 0.04,
                    rng=13) -> Demo:
    """¹H MRI volume of a Li|electrolyte|Li cell with dark Li dendrites growing into the electrolyte.

    The electrolyte is bright (signal ≈ 1, with a ±10 % coil-sensitivity fall-off); Li metal
    electrodes (z < 6 and z ≥ shape[0] − 6) and the dendrites (cones from the lower
    electrode) carry no ¹H signal. The seed review segments such images with a threshold
    of 0.2·I_max, which the X-ray microscopy app's MRI preset applies.

    Returns
    -------
    Demo
        ``data``: (z, y, x) volume, units a.u., technique "MRI 1H". ``truth``: ``labels``
        (0 = no ¹H signal, 1 = electrolyte), ``electrolyte_fraction``,
        ``dendrite_volume_um3``, ``slice_porosity`` (dark fraction per z slice).
    """
    from battlab.xrm.io import make_volume

    gen = np.random.default_rng(rng)
    nz, ny, nx = shape
    zz, yy, xx = np.mgrid[0:nz, 0:ny, 0:nx].astype(float)
    metal = (zz < 6) | (zz >= nz - 6)
    dendrites = np.zeros(shape, bool)
    for _ in range(n_dendrites):
        cy, cx = gen.uniform(8, ny - 8), gen.uniform(8, nx - 8)
        height, base = gen.uniform(8, 20), gen.uniform(2.0, 3.5)
        radius = base * np.clip(1 - (zz - 6) / height, 0, None)
        dendrites |= (zz >= 6) & (np.hypot(yy - cy, xx - cx) <= radius)
    dark = metal | dendrites
    coil = 1.0 - 0.1 * (((yy - ny / 2) / ny) ** 2 + ((xx - nx / 2) / nx) ** 2) * 4
    signal = np.where(dark, 0.03, coil) + noise * gen.standard_normal(shape)
    vol = make_volume(signal.astype(np.float32), voxel_size_um=voxel_size_um, units="a.u.",
                      source_format="demo", source_name="demo: MRI 1H")
    vol.attrs["technique"] = "MRI 1H"
    labels = (~dark).astype(np.uint8)
    return Demo(vol, {"labels": labels, "electrolyte_fraction": float(labels.mean()),
                      "dendrite_volume_um3": float(dendrites.sum() * voxel_size_um ** 3),
                      "slice_porosity": dark.mean(axis=(1, 2))},
                f"1H MRI: electrolyte with {n_dendrites} Li dendrites")
