"""Synthetic in situ TEM data with known answers.

* :func:`make_saed_pattern` / :func:`make_saed_series` — ring patterns of phase mixtures
  at 200 kV (off-centre beam, beam stop, power-law background, Poisson noise); the series
  turns Si into Li15Si4 with a JMAK fraction;
* :func:`make_hrtem_lattice` / :func:`make_hrtem_series` — cosine lattices of known d
  (graphite (0002) breathing +5.9 %);
* :func:`make_si_nanowire_movie` — a Si nanowire lithiating by a shrinking crystalline
  core (parabolic front), with an expanding LixSi shell and stage drift;
* :func:`make_li_nucleation_movie` — dark Li nuclei appearing on a bright electrolyte
  (instantaneous or progressive nucleation) and growing as r ∝ tⁿ;
* :func:`make_fracture_population` — particle sizes with fracture outcomes drawn from a
  logistic with a known critical diameter;
* :func:`make_eels_spectrum` / :func:`make_eels_spectrum_image` — zero loss, plasmon and
  edges on a power-law background, with a known relative thickness.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo

__all__ = ["make_4dstem_cube", "make_eds_spectrum_image", "make_eels_spectrum", "make_eels_spectrum_image", "make_fracture_population", "make_hrtem_lattice",
           "make_hrtem_series", "make_li_nucleation_movie", "make_saed_pattern", "make_saed_series",
           "make_si_nanowire_movie"]


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _movie(frames, *, pixel_size_nm, frame_time_s, name, voltage_kV=200.0, extra=None):
    import dask.array as da
    import xarray as xr

    n, ny, nx = frames.shape
    arr = xr.DataArray(
        da.from_array(frames.astype(np.float32), chunks=(1, ny, nx)), dims=("time", "y", "x"),
        coords={"time_s": ("time", np.arange(n) * frame_time_s), "frame": ("time", np.arange(n)),
                "y_nm": ("y", np.arange(ny) * pixel_size_nm), "x_nm": ("x", np.arange(nx) * pixel_size_nm)},
        name="intensity",
        attrs={"units": "counts", "kind": "movie", "pixel_size_nm": pixel_size_nm, "pixel_size_y_nm": pixel_size_nm,
               "pixel_size_x_nm": pixel_size_nm, "voltage_kV": voltage_kV, "frame_time_s": frame_time_s,
               "exposure_s": frame_time_s, "dwell_time_s": None, "mode": "TEM", "source_format": "synthetic",
               "source_name": f"demo: {name}", "source_sha256": None, "notes": [], **(extra or {})})
    for c, u in (("time_s", "s"), ("y_nm", "nm"), ("x_nm", "nm")):
        arr[c].attrs["units"] = u
    return arr


# --------------------------------------------------------------------------- diffraction


# rings this much brighter than the (1 + R/10)⁻² diffuse background (× phase weight)
_RING_SCALE = 300.0


def _ring_image(shape, center, rings, *, sigma_px, background, halo, rng, counts):
    y, x = np.indices(shape, dtype=float)
    r = np.hypot(y - center[0], x - center[1])
    img = background * (1 + r / 10.0) ** -2.0
    if halo:
        img += halo * np.exp(-0.5 * ((r - 0.55 * max(shape) / 4) / (0.12 * max(shape) / 4)) ** 2)
    for radius, weight in rings:
        # a ring's total intensity is spread over its circumference
        norm = 2 * np.pi * radius * sigma_px * np.sqrt(2 * np.pi)
        img += _RING_SCALE * weight * np.exp(-0.5 * ((r - radius) / sigma_px) ** 2) / norm
    img = img / img.max() * counts
    return rng.poisson(img).astype(np.float32) if rng is not None else img.astype(np.float32)


def _rings_for(phases, camera_constant, r_max, b_factor):
    from battlab.tem.phases import reflections

    rows = []
    for phase, frac in phases.items():
        for _, ref in reflections(phase, d_min_A=camera_constant / r_max).iterrows():
            radius = camera_constant / ref["d_A"]
            if radius < 8:
                continue
            # kinematic-like weight: multiplicity, fading with scattering vector (Debye–Waller-like)
            weight = frac * ref["multiplicity"] * np.exp(-b_factor / ref["d_A"] ** 2)
            rows.append({"phase": phase, "hkl": ref["hkl"], "d_A": ref["d_A"], "radius_px": radius, "weight": weight})
    return pd.DataFrame(rows)


def make_saed_pattern(*, phases=None, voltage_kV: float = 200.0, size: int = 512, center=(261.3, 248.7),
                      camera_constant_px_A: float | None = None, detector_pixel_um: float = 14.0,
                      sigma_px: float = 1.2, beam_stop_radius_px: float = 10.0, halo: float = 0.0,
                      counts: float = 4000.0, rng=7) -> Demo:
    """Polycrystalline ring pattern of a phase mixture at ``voltage_kV``.

    The camera constant defaults to the one putting Si(111) (3.1356 Å) at R = 60 px.
    Rings are Gaussians in radius (σ = ``sigma_px``) weighted by multiplicity ×
    exp(−0.3/d²) × phase fraction, on a (1 + R/10)⁻² background, with a beam stop
    (masked, dark), an off-centre beam and Poisson noise.

    Truth: ``center_px``, ``camera_constant_px_A``, ``wavelength_pm``,
    ``camera_length_mm`` (for ``detector_pixel_um``), ``rings`` (table), ``phases``.
    """
    from battlab.tem.physics import camera_length_mm, electron_wavelength_pm

    import xarray as xr

    gen = _rng(rng)
    phases = {"Si": 1.0} if phases is None else dict(phases)
    k = camera_constant_px_A or 60.0 * 3.135589
    rings = _rings_for(phases, k, 0.95 * size / 2, 0.3)
    img = _ring_image((size, size), center, list(zip(rings["radius_px"], rings["weight"], strict=True)),
                      sigma_px=sigma_px, background=1.0 * sum(phases.values()) * 30, halo=halo, rng=gen, counts=counts)
    y, x = np.indices(img.shape)
    mask = np.hypot(y - center[0], x - center[1]) <= beam_stop_radius_px
    img[mask] = 0.0
    pattern = xr.DataArray(img, dims=("ky", "kx"), name="intensity",
                           coords={"ky_px": ("ky", np.arange(size, dtype=float)), "kx_px": ("kx", np.arange(size, dtype=float))},
                           attrs={"units": "counts", "kind": "diffraction", "voltage_kV": voltage_kV,
                                  "source_format": "synthetic", "source_name": "demo: SAED rings", "notes": []})
    truth = {"center_px": tuple(center), "camera_constant_px_A": k, "voltage_kV": voltage_kV,
             "wavelength_pm": float(electron_wavelength_pm(voltage_kV)),
             "camera_length_mm": camera_length_mm(k, voltage_kV=voltage_kV, detector_pixel_um=detector_pixel_um),
             "detector_pixel_um": detector_pixel_um, "rings": rings, "phases": phases, "beam_stop_mask": mask}
    return Demo(pattern, truth, f"SAED ring pattern of {', '.join(phases)} at {voltage_kV:g} kV")


def make_saed_series(*, n_frames: int = 30, frame_time_s: float = 30.0, k_per_s: float = 1 / 450.0,
                     avrami_n: float = 2.0, size: int = 384, rng=11) -> Demo:
    """Time-resolved SAED: Si rings fade into Li15Si4 rings with a JMAK product fraction.

    f(t) = 1 − exp(−(k t)ⁿ); each frame is the ring pattern of (1 − f)·Si + f·Li15Si4.

    Truth: ``product_fraction`` (per frame), ``k_per_s``, ``avrami_n``, the SAED truth.
    """
    import dask.array as da
    import xarray as xr

    gen = _rng(rng)
    t = np.arange(n_frames) * frame_time_s
    f = 1 - np.exp(-(k_per_s * t) ** avrami_n)
    center = (size / 2 + 3.4, size / 2 - 2.2)
    k = 60.0 * 3.135589
    si = _rings_for({"Si": 1.0}, k, 0.95 * size / 2, 0.3)
    li = _rings_for({"Li15Si4": 1.0}, k, 0.95 * size / 2, 0.3)
    # Li15Si4 rings are many and weak per ring; scale its total like Si's so both show
    li["weight"] *= si["weight"].sum() / li["weight"].sum()
    frames = []
    for fi in f:
        rings = [(r, (1 - fi) * w) for r, w in zip(si["radius_px"], si["weight"], strict=True)]
        rings += [(r, fi * w) for r, w in zip(li["radius_px"], li["weight"], strict=True)]
        # fixed brightness scale (not normalised per frame) so intensities compare across frames
        img = _ring_image((size, size), center, rings, sigma_px=1.2, background=30.0, halo=0.0, rng=None, counts=1.0)
        frames.append(img)
    stack = np.array(frames)
    stack = gen.poisson(stack / stack.max() * 3000).astype(np.float32)
    series = xr.DataArray(da.from_array(stack, chunks=(1, size, size)), dims=("time", "ky", "kx"), name="intensity",
                          coords={"time_s": ("time", t), "frame": ("time", np.arange(n_frames))},
                          attrs={"units": "counts", "kind": "diffraction series", "voltage_kV": 200.0,
                                 "source_format": "synthetic", "source_name": "demo: SAED Si → Li15Si4", "notes": []})
    series["time_s"].attrs["units"] = "s"
    truth = {"product_fraction": f, "k_per_s": k_per_s, "avrami_n": avrami_n, "center_px": center,
             "camera_constant_px_A": k, "si_rings": si, "li15si4_rings": li}
    return Demo(series, truth, "SAED series: crystalline Si → Li15Si4 (JMAK)")


def make_hrtem_lattice(*, d_A: float = 3.1, pixel_size_nm: float = 0.05, size: int = 256, angle_deg: float = 17.0,
                       hexagonal: bool = True, noise: float = 0.2, rng=5) -> Demo:
    """Cosine lattice image: fringes of spacing ``d_A`` (three at 60° when ``hexagonal``).

    Truth: ``d_A``, ``angle_deg`` (of the first g vector, 0° = +x, y up), ``pixel_size_nm``.
    """
    import xarray as xr

    gen = _rng(rng)
    y, x = np.indices((size, size), dtype=float) * pixel_size_nm
    g = 10.0 / d_A  # 1/nm
    img = np.zeros((size, size))
    for j in range(3 if hexagonal else 1):
        a = np.radians(angle_deg + 60 * j)
        # image rows increase downwards: a g vector at angle a (y up) has row component −sin a
        img += np.cos(2 * np.pi * g * (x * np.cos(a) - y * np.sin(a)))
    img += noise * gen.standard_normal(img.shape)
    arr = xr.DataArray(img.astype(np.float32), dims=("y", "x"), name="intensity",
                       coords={"y_nm": ("y", np.arange(size) * pixel_size_nm), "x_nm": ("x", np.arange(size) * pixel_size_nm)},
                       attrs={"units": "counts", "kind": "image", "pixel_size_nm": pixel_size_nm, "voltage_kV": 200.0,
                              "source_format": "synthetic", "source_name": "demo: HRTEM lattice", "notes": []})
    return Demo(arr, {"d_A": d_A, "angle_deg": angle_deg % 180 if not hexagonal else angle_deg % 60,
                      "pixel_size_nm": pixel_size_nm}, f"HRTEM cosine lattice, d = {d_A} Å")


def make_hrtem_series(*, d0_A: float = 3.354, expansion: float = 0.059, n_frames: int = 20, size: int = 192,
                      pixel_size_nm: float = 0.05, frame_time_s: float = 10.0, rng=6) -> Demo:
    """Graphite (0002) fringes breathing: d grows linearly by ``expansion`` (5.9 %, seed L360).

    Truth: ``d_A`` per frame, ``expansion``.
    """
    gen = _rng(rng)
    d = d0_A * (1 + expansion * np.linspace(0, 1, n_frames))
    frames = np.array([make_hrtem_lattice(d_A=di, pixel_size_nm=pixel_size_nm, size=size, angle_deg=30.0,
                                          hexagonal=False, rng=gen).data.values for di in d])
    movie = _movie(frames, pixel_size_nm=pixel_size_nm, frame_time_s=frame_time_s, name="graphite (0002) breathing")
    return Demo(movie, {"d_A": d, "expansion": expansion}, "HRTEM series: graphite (0002) +5.9 %")


# --------------------------------------------------------------------------- movies


def _smooth_texture(shape, rng, scale_px=3.0):
    from scipy.ndimage import gaussian_filter

    tex = gaussian_filter(rng.standard_normal(shape), scale_px)
    return tex / tex.std()


def make_si_nanowire_movie(*, n_frames: int = 60, size: int = 128, pixel_size_nm: float = 1.0,
                           frame_time_s: float = 1.0, r0_nm: float = 20.0, D_nm2_s: float = 2.0,
                           beta: float = 3.7, drift_px_per_frame=(0.15, 0.2), noise: float = 0.03, rng=1) -> Demo:
    """A horizontal Si nanowire lithiating radially: a shrinking crystalline core.

    Core radius r_c(t) = r₀ − √(2Dt) (parabolic front; the reacted depth x = √(2Dt) is
    a power law with n = 0.5); outer radius from volume conservation with expansion β of
    the reacted area, r_out² = r_c² + β (r₀² − r_c²). Intensities: vacuum/support 1.0
    (with a support-film texture that drifts with the specimen), amorphous LixSi shell 0.75,
    crystalline core 0.45. Stage drift ``drift_px_per_frame`` (dy, dx) accumulates.

    Truth: ``core_radius_nm``, ``outer_radius_nm``, ``depth_nm`` per frame, ``D_nm2_s``,
    ``r0_nm``, ``beta``, ``drift_px`` (cumulative (dy, dx) per frame), ``axis_y_px``
    (wire axis row in frame 0).
    """
    from scipy.ndimage import shift as nd_shift

    gen = _rng(rng)
    t = np.arange(n_frames) * frame_time_s
    rc = np.clip(r0_nm - np.sqrt(2 * D_nm2_s * t), 0, None)
    rout = np.sqrt(rc ** 2 + beta * (r0_nm ** 2 - rc ** 2))
    pad = 16
    big = size + 2 * pad
    yy = (np.arange(big) - big / 2)[:, None] * pixel_size_nm
    texture = 0.12 * _smooth_texture((big, big), gen)
    drift = np.cumsum(np.tile(np.asarray(drift_px_per_frame, float), (n_frames, 1)), axis=0)
    drift -= drift[0]
    frames = np.empty((n_frames, size, size), np.float32)
    for i in range(n_frames):
        dist = np.abs(yy) * np.ones((1, big))
        # the support film's texture shows beside the wire, which is thick enough to hide it
        # partial-pixel coverage keeps the edges sub-pixel accurate
        shell = np.clip(rout[i] - dist + 0.5, 0, 1)
        core = np.clip(rc[i] - dist + 0.5, 0, 1)
        img = (1.0 + texture) * (1 - shell) + 0.75 * (shell - core) + 0.45 * core
        moved = nd_shift(img, drift[i], order=1, mode="nearest")
        frames[i] = moved[pad:pad + size, pad:pad + size] + noise * gen.standard_normal((size, size))
    movie = _movie(frames, pixel_size_nm=pixel_size_nm, frame_time_s=frame_time_s, name="Si nanowire lithiation")
    truth = {"core_radius_nm": rc, "outer_radius_nm": rout, "depth_nm": r0_nm - rc, "D_nm2_s": D_nm2_s, "r0_nm": r0_nm,
             "beta": beta, "drift_px": drift, "axis_y_px": big / 2 - pad, "time_s": t}
    return Demo(movie, truth, "Si nanowire: shrinking crystalline core, parabolic front, drift")


def make_li_nucleation_movie(*, n_frames: int = 40, size: int = 160, pixel_size_nm: float = 2.0,
                             frame_time_s: float = 1.0, mode: str = "instantaneous", n_inf: int = 25,
                             rate_per_s: float = 0.4, growth_n: float = 0.5, growth_k_nm: float = 3.0,
                             min_separation_px: float = 22.0, noise: float = 0.04, rng=2) -> Demo:
    """Dark Li nuclei appearing on a bright electrolyte and growing as r = k (t − tᵢ)ⁿ.

    ``mode="instantaneous"``: N(t) = N∞ (1 − e^{−A t}) (all sites, fast activation);
    ``"progressive"``: sites activate at a constant rate J over the movie (N = J t;
    ``truth["rate_per_s"]`` is J). Nuclei are placed
    at least ``min_separation_px`` apart so they never touch in the demo.

    Truth: ``nuclei`` (id, y_px, x_px, t_birth_s), ``n_inf``, ``rate_per_s``,
    ``growth_n``, ``growth_k_nm``, ``count`` (true N per frame), ``mode``.
    """
    from battlab.errors import InvalidParameterError

    if mode not in ("instantaneous", "progressive"):
        raise InvalidParameterError("mode must be 'instantaneous' or 'progressive'.")
    gen = _rng(rng)
    sites = []
    tries = 0
    while len(sites) < n_inf and tries < 20000:
        p = gen.uniform(12, size - 12, 2)
        if all(np.hypot(*(p - q)) >= min_separation_px for q in sites):
            sites.append(p)
        tries += 1
    sites = np.array(sites)
    if mode == "instantaneous":
        births = gen.exponential(1 / rate_per_s, len(sites))
    t = np.arange(n_frames) * frame_time_s
    if mode == "progressive":
        # constant nucleation rate J over the whole movie
        births = np.sort(gen.uniform(0, t[-1], len(sites)))
        rate_per_s = len(sites) / t[-1]
    y, x = np.indices((size, size), dtype=float)
    frames = np.empty((n_frames, size, size), np.float32)
    r_max_px = 0.45 * min_separation_px
    for i, ti in enumerate(t):
        img = np.ones((size, size))
        for (sy, sx), tb in zip(sites, births, strict=True):
            if ti > tb:
                r = min(growth_k_nm * (ti - tb) ** growth_n / pixel_size_nm, r_max_px)
                img -= 0.5 * np.clip(r + 0.5 - np.hypot(y - sy, x - sx), 0, 1)
        frames[i] = img + noise * gen.standard_normal(img.shape)
    movie = _movie(frames, pixel_size_nm=pixel_size_nm, frame_time_s=frame_time_s, name=f"Li nucleation ({mode})",
                   extra={"contrast": "Li darker than the electrolyte (invert polarity to detect it)"})
    nuclei = pd.DataFrame({"id": np.arange(len(sites)), "y_px": sites[:, 0], "x_px": sites[:, 1], "t_birth_s": births})
    count = np.array([(births < ti).sum() for ti in t])
    truth = {"nuclei": nuclei, "n_inf": len(sites), "rate_per_s": rate_per_s, "growth_n": growth_n,
             "growth_k_nm": growth_k_nm, "count": count, "mode": mode, "max_radius_px": r_max_px}
    return Demo(movie, truth, f"Li nucleation movie ({mode}), r ∝ t^{growth_n:g}")


def make_fracture_population(*, n: int = 500, critical_diameter_nm: float = 150.0, width_nm: float = 20.0,
                             rng=4) -> Demo:
    """Particle diameters (log-normal, ≈ 50–400 nm) and fracture outcomes from a logistic.

    P(fracture | d) = 1 / (1 + exp(−(d − d_c)/w)).
    """
    gen = _rng(rng)
    d = np.exp(gen.normal(np.log(140), 0.45, n))
    p = 1 / (1 + np.exp(-(d - critical_diameter_nm) / width_nm))
    fractured = gen.random(n) < p
    table = pd.DataFrame({"diameter_nm": d, "fractured": fractured})
    return Demo(table, {"critical_diameter_nm": critical_diameter_nm, "width_nm": width_nm},
                f"{n} particles, fracture above ≈ {critical_diameter_nm:g} nm")


# --------------------------------------------------------------------------- EELS


def _eels_model(e, *, t_over_lambda, edges, zlp_fwhm, plasmon_eV, plasmon_fwhm, bg_A, bg_r):
    from math import factorial

    from battlab.peaks import gaussian

    # zero loss and multiple plasmon scattering with Poisson weights: I_n/I_0 = (t/λ)^n / n!
    i0 = 1e9
    spec = gaussian(e, i0, 0.0, zlp_fwhm)
    for n in range(1, 6):
        spec += gaussian(e, i0 * t_over_lambda ** n / factorial(n), n * plasmon_eV, plasmon_fwhm * np.sqrt(n))
    core = np.where(e > 30, bg_A * np.clip(e, 30, None) ** -bg_r, 0.0)
    for onset, jump, decay in edges:
        # sawtooth-like edge: a step at the onset that decays as a power law
        core += np.where(e >= onset, jump * (np.clip(e, onset, None) / onset) ** -decay, 0.0)
    return spec + core


def make_eels_spectrum(*, t_over_lambda: float = 0.4, offset_eV: float = -20.0, dispersion_eV: float = 0.25,
                       n_channels: int = 2800, zlp_shift_eV: float = 1.3, edges=("Li K", "C K", "O K"),
                       noise: bool = True, rng=8) -> Demo:
    """Low- and core-loss EELS: zero loss, plasmon at 16.7 eV, Li K (55 eV), C K (284 eV), O K (532 eV).

    The spectrum is recorded with its zero loss ``zlp_shift_eV`` off zero (calibration
    test); the power-law background is A·E^−3 and each edge a decaying step of known
    jump (``jump`` counts per eV at the onset). Plasmon orders n = 1…5 carry
    (t/λ)ⁿ/n! of the zero-loss area, so ln(I_t/I_0) = ``t_over_lambda``.

    Truth: ``t_over_lambda``, ``zlp_shift_eV``, ``edges`` (name → onset, jump),
    ``background_r``.
    """
    import xarray as xr

    gen = _rng(rng)
    e_true = offset_eV + dispersion_eV * np.arange(n_channels)
    known = {"Li K": (55.0, 2.0e4, 2.0), "C K": (284.0, 40.0, 2.5), "O K": (532.0, 10.0, 2.5)}
    edges = {k: known[k] for k in edges}
    spec = _eels_model(e_true - zlp_shift_eV, t_over_lambda=t_over_lambda, edges=list(edges.values()),
                       zlp_fwhm=1.0, plasmon_eV=16.7, plasmon_fwhm=4.0, bg_A=3e9, bg_r=3.0) * dispersion_eV
    if noise:
        spec = gen.poisson(spec).astype(float)
    arr = xr.DataArray(spec, dims=("energy",), coords={"energy_eV": ("energy", e_true)}, name="intensity",
                       attrs={"units": "counts", "kind": "spectrum", "dispersion_eV": dispersion_eV, "voltage_kV": 200.0,
                              "source_format": "synthetic", "source_name": "demo: EELS", "notes": []})
    arr["energy_eV"].attrs["units"] = "eV"
    # integral of jump·(E/onset)^-decay from the onset over 50 eV: the edge signal a
    # perfect background subtraction recovers
    truth_edges = {k: {"onset_eV": v[0], "jump": v[1], "decay": v[2],
                       "signal_50eV": v[1] * v[0] / (v[2] - 1) * (1 - (1 + 50 / v[0]) ** (1 - v[2]))}
                   for k, v in edges.items()}
    return Demo(arr, {"t_over_lambda": t_over_lambda, "zlp_shift_eV": zlp_shift_eV, "background_r": 3.0,
                      "edges": truth_edges},
                "EELS: zero loss, plasmon, Li K, C K, O K")


def make_eels_spectrum_image(*, ny: int = 24, nx: int = 32, interface_x_px: float = 16.0, width_px: float = 3.0,
                             rng=9) -> Demo:
    """Core-loss spectrum image (y, x, energy) across an interface: Li K signal ∝ erfc profile.

    Truth: ``li_fraction`` (nx profile, 1 on the left, 0 on the right), ``interface_x_px``.
    """
    from scipy.special import erfc

    import xarray as xr

    gen = _rng(rng)
    e = 30 + 0.5 * np.arange(200)
    frac = 0.5 * erfc((np.arange(nx) - interface_x_px) / width_px)
    bg = 3e7 * e ** -3.0
    edge = np.where(e >= 55, 2e3 * (np.clip(e, 55, None) / 55) ** -2.0, 0.0)
    cube = bg[None, None, :] + frac[None, :, None] * edge[None, None, :] * np.ones((ny, 1, 1))
    cube = gen.poisson(cube).astype(np.float32)
    arr = xr.DataArray(cube, dims=("y", "x", "energy"), name="intensity",
                       coords={"y_nm": ("y", np.arange(ny) * 0.5), "x_nm": ("x", np.arange(nx) * 0.5),
                               "energy_eV": ("energy", e)},
                       attrs={"units": "counts", "kind": "spectrum image", "pixel_size_nm": 0.5, "voltage_kV": 200.0,
                              "source_format": "synthetic", "source_name": "demo: EELS spectrum image", "notes": []})
    return Demo(arr, {"li_fraction": frac, "interface_x_px": interface_x_px}, "EELS spectrum image: Li K across an interface")


# --------------------------------------------------------------------------- EDS

#: NMC core/shell demo: cation ratio Ni:Mn:Co in the core and in the shell (at. fractions of the TM)
_NMC_CORE = {"Ni": 0.8, "Mn": 0.1, "Co": 0.1}
_NMC_SHELL = {"Ni": 1 / 3, "Mn": 1 / 3, "Co": 1 / 3}


def make_eds_spectrum_image(*, ny: int = 32, nx: int = 32, n_channels: int = 1024, dispersion_eV: float = 10.0,
                            radius_px: float = 13.0, core_radius_px: float = 8.0, counts_per_pixel: float = 4000.0,
                            offset_error_eV: float = 0.0, gain_error: float = 0.0, noise: bool = False,
                            rng=11) -> Demo:
    """EDS spectrum image ``(y, x, energy)`` of an NMC core–shell particle on a carbon film.

    Core (r < ``core_radius_px``): NMC811 (Ni:Mn:Co = 0.8:0.1:0.1); shell: NMC111; the
    oxide has O:TM = 2:1 everywhere in the particle (Li is invisible to EDS); the film
    gives C Kα everywhere. Each element's Kα (plus Kβ = 0.13 Kα and Lα = 0.10 Kα for the
    transition metals) is a Gaussian of the detector FWHM (130 eV at Mn Kα) on a
    bremsstrahlung ∝ 1/E background with a low-energy detector cut-off. Line counts are
    generated as I_A ∝ C_A / k_A with the default :data:`battlab.tem.eds.K_FACTORS`, so a
    Cliff–Lorimer quantification with those k-factors returns the true composition.

    The stored axis is ``dispersion_eV``·channel; the true one is
    ``offset_error_eV + (1 + gain_error)·dispersion_eV·channel`` (calibration test).

    Truth: ``at_pct`` (element -> (ny, nx) map, over O, Mn, Co, Ni), ``tm_fraction``
    (element -> map over Ni, Mn, Co), ``line_counts`` (element -> map of generated Kα
    counts), ``core``/``shell`` ratios, ``offset_eV``/``gain`` of the true axis.
    """
    import xarray as xr

    from battlab.peaks import gaussian
    from battlab.tem.eds import K_FACTORS, XRAY_LINES, detector_fwhm_eV

    gen = _rng(rng)
    e_stored = dispersion_eV * (np.arange(n_channels) + 0.5)
    e_true = offset_error_eV + (1 + gain_error) * e_stored
    yy, xx = np.indices((ny, nx), dtype=float)
    r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
    inside = r < radius_px
    # projected thickness of a sphere (relative), so the counts vary over the particle but the ratios do not
    thick = np.sqrt(np.clip(radius_px ** 2 - r ** 2, 0, None)) / radius_px
    core = r < core_radius_px
    tm = {el: np.where(core, _NMC_CORE[el], _NMC_SHELL[el]) * inside for el in ("Ni", "Mn", "Co")}
    atoms = {"O": 2.0 * inside, **tm}  # per formula unit LiTMO2 (Li not detected)
    total = sum(atoms.values())
    at_pct = {el: np.where(inside, 100 * a / np.where(total > 0, total, 1), np.nan) for el, a in atoms.items()}
    scale = counts_per_pixel * thick
    line_counts = {el: scale * atoms[el] / K_FACTORS[el] for el in atoms}
    line_counts["C"] = np.full((ny, nx), 0.15 * counts_per_pixel / K_FACTORS["C"])  # the support film
    spec = np.zeros((ny, nx, n_channels))
    for el, counts in line_counts.items():
        for line, rel in (("Ka", 1.0), ("Kb", 0.13), ("La", 0.10)):
            if line in XRAY_LINES[el]:
                e0 = XRAY_LINES[el][line]
                profile = gaussian(e_true, 1.0, e0, float(detector_fwhm_eV(e0))) * (1 + gain_error) * dispersion_eV
                spec += (rel * counts)[..., None] * profile[None, None, :]
    # bremsstrahlung ~ 1/E, cut off below ~0.3 keV by the detector window
    brems = 2e3 / np.clip(e_true, 50, None) * (1 - np.exp(-(np.clip(e_true, 0, None) / 350.0) ** 3))
    spec += (0.2 + thick)[..., None] * brems[None, None, :] * dispersion_eV
    if noise:
        spec = gen.poisson(spec).astype(float)
    px = 2.0
    arr = xr.DataArray(spec.astype(np.float32), dims=("y", "x", "energy"), name="intensity",
                       coords={"y_nm": ("y", np.arange(ny) * px), "x_nm": ("x", np.arange(nx) * px),
                               "energy_eV": ("energy", e_stored)},
                       attrs={"units": "counts", "kind": "spectrum image", "pixel_size_nm": px, "voltage_kV": 200.0,
                              "signal_type": "EDS_TEM", "dispersion_eV": dispersion_eV, "source_format": "synthetic",
                              "source_name": "demo: EDS NMC core-shell particle", "notes": []})
    arr["energy_eV"].attrs["units"] = "eV"
    tm_fraction = {el: np.where(inside, tm[el], np.nan) for el in tm}
    return Demo(arr, {"at_pct": at_pct, "tm_fraction": tm_fraction, "line_counts": line_counts, "core": _NMC_CORE,
                      "shell": _NMC_SHELL, "core_mask": core, "particle_mask": inside,
                      "offset_eV": offset_error_eV, "gain": 1 + gain_error},
                "EDS spectrum image: NMC811 core / NMC111 shell particle")


# --------------------------------------------------------------------------- 4D-STEM


def make_4dstem_cube(*, scan=(24, 28), detector: int = 32, disc_radius_px: float = 5.0,
                     ring_px=(9.0, 13.0), max_shift_px: float = 1.5, counts: float = 1000.0) -> Demo:
    """4D-STEM cube ``(y, x, ky, kx)``: a particle that scatters out of the bright-field disc.

    Inside a disc-shaped particle the direct beam keeps a fraction T = 0.4 of its counts
    and the rest goes into an annulus ``ring_px`` (so BF ∝ T and ADF ∝ 1 − T); the whole
    pattern is shifted by a known beam deflection (a linear ramp across the scan up to
    ``max_shift_px``, the DPC signal). Discs are drawn with a one-pixel soft edge so
    sub-pixel shifts are real. Noise-free.

    Truth: ``transmission`` (scan map), ``shift_y_px``/``shift_x_px`` (maps),
    ``disc_radius_px``, ``ring_px``, ``center_px`` (undeflected beam centre).
    """
    import xarray as xr

    sy, sx = scan
    yy, xx = np.indices(scan, dtype=float)
    particle = np.hypot(yy - sy / 2, xx - sx / 2) < min(sy, sx) / 3
    trans = np.where(particle, 0.4, 1.0)
    shift_y = max_shift_px * (yy / (sy - 1) - 0.5)
    shift_x = -max_shift_px * (xx / (sx - 1) - 0.5)
    c0 = ((detector - 1) / 2, (detector - 1) / 2)
    ky, kx = np.indices((detector, detector), dtype=float)
    cube = np.empty((sy, sx, detector, detector), np.float32)
    disc_area = np.pi * disc_radius_px ** 2
    ring_area = np.pi * (ring_px[1] ** 2 - ring_px[0] ** 2)
    for i in range(sy):
        for j in range(sx):
            r = np.hypot(ky - c0[0] - shift_y[i, j], kx - c0[1] - shift_x[i, j])
            disc = np.clip(disc_radius_px - r + 0.5, 0, 1)
            ring = np.clip(r - ring_px[0] + 0.5, 0, 1) * np.clip(ring_px[1] - r + 0.5, 0, 1)
            cube[i, j] = counts * (trans[i, j] * disc / disc_area + (1 - trans[i, j]) * ring / ring_area)
    arr = xr.DataArray(cube, dims=("y", "x", "ky", "kx"), name="intensity",
                       coords={"y_nm": ("y", np.arange(sy) * 0.5), "x_nm": ("x", np.arange(sx) * 0.5)},
                       attrs={"units": "counts", "kind": "4D-STEM", "pixel_size_nm": 0.5, "voltage_kV": 200.0,
                              "source_format": "synthetic", "source_name": "demo: 4D-STEM particle", "notes": []})
    return Demo(arr, {"transmission": trans, "shift_y_px": shift_y, "shift_x_px": shift_x,
                      "disc_radius_px": disc_radius_px, "ring_px": ring_px, "center_px": c0},
                "4D-STEM: particle scattering out of the bright-field disc, with a beam-deflection ramp")
