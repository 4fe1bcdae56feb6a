"""A multimodal operando experiment generated from ONE ground-truth cell.

One graphite electrode is lithiated and delithiated once. Its state of lithiation x(t)
(from the charge passed under constant current) drives every measurement, so the
correlations between them are real and known:

* cycling: the cycler's record (master clock), with a rest before the current comes on;
* optical: the side-view movie of :func:`battlab.datasets.optical.make_graphite_movie`,
  thickness ``h = h0·(1 + ε·x)``, on the camera's clock;
* XRD: graphite (002) → LiC12 → LiC6 patterns from
  :func:`battlab.datasets.diffraction.graphite_staging` at x, on the diffractometer's clock;
* EIS: Randles spectra with R_ct(x) of :func:`battlab.datasets.eis.rct_soc_curve`,
  taken by the cycler itself (same clock);
* AFM and X-ray maps of the same region of particles after the experiment: the X-ray
  absorption slice and its XANES state-of-charge map on a coarse grid, the AFM height
  and modulus maps on a fine grid, placed with a known rotation, scale (scanner
  calibration error) and offset; each particle's modulus is set by its SOC, so modulus
  vs SOC has a known correlation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab.datasets._base import Demo

__all__ = ["Experiment", "make_multimodal", "CLOCK_OFFSETS_S", "AFM_TO_XRAY"]

#: Cycler time = instrument time + offset (s) for each instrument of the demo.
CLOCK_OFFSETS_S = {"optical": 150.0, "xrd": -420.0, "eis": 0.0}

#: AFM (physical µm, nominal calibration) → X-ray/sample (µm): rotation, scale, translation.
AFM_TO_XRAY = {"rotation_deg": 17.0, "scale": 1.02, "translation_um": (21.3, 18.6)}


@dataclass
class Experiment:
    """Everything a correlation needs: the cycling record and each technique's data.

    Attributes
    ----------
    cycling : DataFrame
        Canonical cycling table: the master timeline.
    tables : dict of str to DataFrame
        One results table per technique, each with its own clock in ``time_columns``.
    time_columns : dict of str to str
        Which column of each table holds the instrument's time in seconds.
    clock_offsets_s : dict of str to float
        Cycler time = instrument time + offset; the starting values (0 when unknown).
    images : dict of str to DataArray
        Maps with dims ("y", "x") and coords ``y_um``/``x_um``.
    raw : dict
        Raw data the tables came from (movie, patterns, spectra), for viewing.
    """

    cycling: pd.DataFrame
    tables: dict = field(default_factory=dict)
    time_columns: dict = field(default_factory=dict)
    clock_offsets_s: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


def _image(values, pixel_size_um, *, name, units, source):
    import xarray as xr

    ny, nx = values.shape
    return xr.DataArray(values, dims=("y", "x"),
                        coords={"y_um": ("y", np.arange(ny) * pixel_size_um),
                                "x_um": ("x", np.arange(nx) * pixel_size_um)},
                        name=name, attrs={"units": units, "pixel_size_um": float(pixel_size_um),
                                          "source_name": source})


def _particles(rng, *, extent_um, n, r_range_um):
    """Non-overlapping discs (x, y, r) in µm, by rejection."""
    out = []
    tries = 0
    while len(out) < n and tries < 20000:
        tries += 1
        r = rng.uniform(*r_range_um)
        x, y = rng.uniform(r, extent_um - r, size=2)
        if all((x - a) ** 2 + (y - b) ** 2 > (r + c + 0.6) ** 2 for a, b, c in out):
            out.append((x, y, r))
    return np.array(out)


def _render(xs_um, ys_um, particles, values, background, *, edge_um):
    """Per-pixel value of the particle a sample point falls in, with a soft edge (area-like blur)."""
    img = np.full(xs_um.shape, float(background))
    owner = np.full(xs_um.shape, -1)
    for k, (x, y, r) in enumerate(particles):
        d = np.hypot(xs_um - x, ys_um - y)
        cover = np.clip((r - d) / edge_um + 0.5, 0.0, 1.0)
        img = np.where(np.isnan(img) & (cover > 0), values[k], img)  # a NaN background is replaced, not blended
        img = img * (1 - cover) + values[k] * cover
        owner[cover >= 0.5] = k
    return img, owner


def make_multimodal(*, seed: int = 0, n_frames: int = 60, pattern_interval_s: float = 90.0,
                    eis_interval_s: float = 300.0, n_particles: int = 80) -> Demo:
    """The multimodal demo experiment: cycling, optical, XRD, EIS, AFM and X-ray maps.

    The technique tables are made by battlab's own analyses of the raw data (the optical
    movie analysed by :func:`battlab.optical.analyze_movie`, patterns by
    :func:`battlab.diffraction.track_peaks`, spectra by
    :func:`battlab.echem.eis.fit_series`), each on its instrument's clock.

    Returns
    -------
    Demo
        ``data``: :class:`Experiment` (clock offsets start at 0: finding them is the
        user's job). ``truth``: ``clock_offsets_s``, ``afm_to_xray`` (rotation_deg, scale,
        translation_um), ``x_of_cycler_time`` (times, x), per-particle ``particles``
        (x_um, y_um, r_um, soc, modulus_GPa), ``modulus_soc_pearson`` (the particles'
        own correlation), ``thickness_law`` (h0_um, expansion per unit x).
    """
    from battlab.datasets.diffraction import _CU, graphite_staging, pattern_from_peaks
    from battlab.datasets.eis import RANDLES, _spectrum, eis_frequencies, rct_soc_curve
    from battlab.datasets.optical import make_graphite_movie
    from battlab.diffraction.analysis import phase_fractions, track_peaks
    from battlab.diffraction.io import make_pattern, stack_patterns
    from battlab.echem.eis import fit_series
    from battlab.io import schema as S
    from battlab.optical import analyze_movie

    rng = np.random.default_rng(seed)
    lith_frames = int(round(0.6 * n_frames))
    movie_demo = make_graphite_movie(n_frames=n_frames, lithiation_frames=lith_frames, seed=seed)
    movie, echem_movie = movie_demo.data["movie"], movie_demo.data["echem"]
    truth_movie = movie_demo.truth

    # Master clock: the cycler rested before the current came on; the camera started with the current.
    off_opt = CLOCK_OFFSETS_S["optical"]
    dt = float(np.median(np.diff(echem_movie[S.TEST_TIME])))
    rest_t = np.arange(0.0, off_opt, dt)
    v0 = float(echem_movie[S.VOLTAGE].iloc[0] - 8.0 * echem_movie[S.CURRENT].iloc[0])  # OCV without the IR drop
    cycling = pd.concat([pd.DataFrame({S.TEST_TIME: rest_t, S.VOLTAGE: v0, S.CURRENT: 0.0}),
                         echem_movie.assign(**{S.TEST_TIME: echem_movie[S.TEST_TIME] + off_opt})],
                        ignore_index=True)
    start_unix = pd.Timestamp("2026-03-02T10:00:00Z").timestamp()
    cycling[S.UNIX_TIME] = start_unix + cycling[S.TEST_TIME]
    meta = dict(echem_movie.attrs.get("battlab", {}))
    meta.update(source_name="demo: multimodal graphite cell (cycler)")
    cycling.attrs["battlab"] = meta

    # x(t) on the cycler clock: charge passed / charge of the full lithiation.
    t_cyc = cycling[S.TEST_TIME].to_numpy()
    i_cyc = cycling[S.CURRENT].to_numpy()
    q = np.cumsum(-i_cyc * np.diff(t_cyc, prepend=t_cyc[0]))  # a row's current flows over the interval before it
    x_cyc = np.clip(q / q.max(), 0.0, 1.0)

    def x_at(t_cycler):
        return np.interp(t_cycler, t_cyc, x_cyc)

    optical = analyze_movie(movie).frames  # the camera's own clock: no cycling joined yet

    # XRD on the diffractometer clock (started before the cycler: negative offset).
    off_xrd = CLOCK_OFFSETS_S["xrd"]
    t_xrd = np.arange(-off_xrd, t_cyc[-1] - off_xrd, pattern_interval_s)
    tt = np.arange(22.5, 28.5, 0.02)
    bg = 60 + 2.0 * (tt - tt[0])
    pats, x_xrd = [], x_at(t_xrd + off_xrd)
    for i, x in enumerate(x_xrd):
        f, pos = graphite_staging(x)
        peaks = [(400.0 * f[k], pos[k], 0.14) for k in pos if f[k] > 0]
        stamp = pd.Timestamp(start_unix + t_xrd[i] + off_xrd, unit="s", tz="UTC").isoformat()
        pats.append(make_pattern(tt, pattern_from_peaks(tt, peaks, background=bg, eta=0.4, rng=rng),
                                 wavelength_A=_CU[0], anode="Cu",
                                 meta={"format": "synthetic", "source_name": "multimodal demo XRD", "sha256": None,
                                       "technique": "xrd", "start_time_utc": stamp}))
    patterns = stack_patterns(pats)
    windows = {"graphite": (25.85, 27.0), "LiC12": (24.8, 25.85), "LiC6": (23.4, 24.6)}
    tracked = track_peaks(patterns, windows)
    fractions = phase_fractions(tracked, list(windows))
    graphite_pos = tracked[tracked["peak"] == "graphite"].set_index("pattern")["two_theta_deg"]
    xrd = fractions.assign(time_s=t_xrd, graphite_002_deg=graphite_pos.reindex(fractions["pattern"]).to_numpy())
    xrd = xrd.drop(columns=["time", "elapsed_s"])

    # EIS every eis_interval_s by the cycler itself, from the moment the current came on.
    t_eis = np.arange(off_opt, t_cyc[-1], eis_interval_s)
    f_Hz = eis_frequencies(1e5, 1e-1, 8)
    soc_eis = x_at(t_eis)
    rct = rct_soc_curve(soc_eis)
    z = np.array([_spectrum(RANDLES, {"R0": 5.0, "R1": r, "CPE1_Q": 2e-5, "CPE1_alpha": 0.9, "W1_sigma": 20.0},
                            f_Hz, 0.002, 0.0, rng) for r in rct])
    eis = fit_series(f_Hz, z, RANDLES, labels=t_eis, label_name="time_s")

    # Maps of one region of particles after the experiment.
    extent = 60.0
    parts = _particles(rng, extent_um=extent, n=n_particles, r_range_um=(1.2, 2.8))
    soc_p = np.clip(rng.normal(0.45, 0.18, len(parts)), 0.02, 0.98)
    modulus_p = 14.0 + 16.0 * (1.0 - soc_p) + rng.normal(0.0, 1.2, len(parts))  # lithiation softens
    px_x = 0.5
    n_x = int(extent / px_x)
    yy, xx = np.mgrid[0:n_x, 0:n_x] * px_x
    absorb, _ = _render(xx, yy, parts, np.full(len(parts), 1.0), 0.15, edge_um=px_x)
    absorb = absorb + rng.normal(0, 0.02, absorb.shape)
    soc_map, owner_x = _render(xx, yy, parts, soc_p, np.nan, edge_um=1e-6)
    soc_map = soc_map + np.where(owner_x >= 0, rng.normal(0, 0.01, soc_map.shape), 0.0)
    a = AFM_TO_XRAY
    px_a, n_a = 0.12, 256  # nominal AFM calibration: a 30.7 µm scan
    ia, ja = np.mgrid[0:n_a, 0:n_a]
    th = np.deg2rad(a["rotation_deg"])
    xa, ya = ja * px_a, ia * px_a
    xs = a["scale"] * (np.cos(th) * xa - np.sin(th) * ya) + a["translation_um"][0]
    ys = a["scale"] * (np.sin(th) * xa + np.cos(th) * ya) + a["translation_um"][1]
    height_nm, _ = _render(xs, ys, parts, 180.0 * parts[:, 2], 0.0, edge_um=0.15)
    height_nm = height_nm + rng.normal(0, 3.0, height_nm.shape)
    modulus, owner_a = _render(xs, ys, parts, modulus_p, 3.0, edge_um=0.15)
    modulus = modulus + rng.normal(0, 0.3, modulus.shape)
    in_afm = np.unique(owner_a[owner_a >= 0])

    images = {
        "xray_absorption": _image(absorb, px_x, name="absorption", units="1", source="demo X-ray slice"),
        "xray_soc": _image(soc_map, px_x, name="soc", units="1", source="demo XANES SOC map"),
        "afm_height": _image(height_nm, px_a, name="height", units="nm", source="demo AFM height"),
        "afm_modulus": _image(modulus, px_a, name="modulus", units="GPa", source="demo AFM modulus"),
    }
    experiment = Experiment(
        cycling=cycling,
        tables={"optical": optical, "xrd": xrd, "eis": eis},
        time_columns={"optical": "time_s", "xrd": "time_s", "eis": "time_s"},
        clock_offsets_s={"optical": 0.0, "xrd": 0.0, "eis": 0.0},
        images=images,
        raw={"movie": movie, "xrd_patterns": patterns, "eis_frequency_Hz": f_Hz, "eis_Z": z},
    )
    particles = pd.DataFrame({"x_um": parts[:, 0], "y_um": parts[:, 1], "r_um": parts[:, 2], "soc": soc_p,
                              "modulus_GPa": modulus_p, "in_afm": np.isin(np.arange(len(parts)), in_afm)})
    seen = particles[particles["in_afm"]]
    truth = {
        "clock_offsets_s": dict(CLOCK_OFFSETS_S),
        "afm_to_xray": dict(AFM_TO_XRAY),
        "x_of_cycler_time": (t_cyc, x_cyc),
        "particles": particles,
        "modulus_soc_pearson": float(np.corrcoef(seen["soc"], seen["modulus_GPa"])[0, 1]),
        "thickness_law": {"h0_um": float(truth_movie["thickness_0_um"]),
                          "expansion_per_x": float(truth_movie["peak_expansion"])},
        "x_xrd": x_xrd,
        "rct_ohm": rct,
        "xrd_windows": windows,
    }
    return Demo(data=experiment, truth=truth,
                description="multimodal graphite cell: cycling, optical, XRD, EIS, AFM and X-ray maps, one truth")
