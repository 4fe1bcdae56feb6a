"""Synthetic depth profiles with known answers: NDP spectra of a lithium profile
through an SEI + graphite electrode (and a plating series), a ToF-SIMS depth profile of
a two-layer SEI and a 3-D ion map with a LiF-rich patch, and an XPS sputter series.

The stopping powers are smooth illustrative curves of the right size (tritons in a
graphite electrode lose ≈ 55 keV/µm), not evaluated data: use SRIM or tables for real
samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import erf

from battlab.datasets._base import Demo

__all__ = ["make_ndp_profile", "make_ndp_plating_series", "make_sims_profile", "make_sims_map",
           "make_xps_depth_series", "triton_stopping_table"]


def _meta(name):
    return {"format": "synthetic", "source_name": f"demo: {name}", "sha256": None}


# --------------------------------------------------------------------------- NDP


def triton_stopping_table(*, s_surface_keV_per_um: float = 55.0, exponent: float = 0.75) -> pd.DataFrame:
    """Illustrative triton stopping power in a graphite electrode: ``S = S0 (2727 keV / E)^p``."""
    from battlab.depth.ndp import stopping_table

    e = np.arange(100.0, 3001.0, 50.0)
    tab = stopping_table(e, s_surface_keV_per_um * (2727.0 / e) ** exponent)
    tab.attrs["battlab"] = _meta("triton stopping power in graphite (illustrative)")
    return tab


_ALPHA_STOPPING = 330.0  # keV/µm, constant: only the α line's position matters in the demo


def _detector_counts(edges_keV, energies_keV, weights, fwhm_keV):
    """Expected counts per channel of particles at ``energies`` with Gaussian resolution."""
    sigma = fwhm_keV / (2 * np.sqrt(2 * np.log(2)))
    z = (edges_keV[None, :] - energies_keV[:, None]) / (np.sqrt(2) * sigma)
    cdf = 0.5 * (1 + erf(z))
    return (weights[:, None] * np.diff(cdf, axis=1)).sum(axis=0)


def _ndp_spectrum(conc_of_depth, *, stopping, fluence, solid_angle, abundance, channels, offset, gain, fwhm,
                  max_depth_um=12.0, dx_um=0.005):
    from battlab.depth.ndp import LI6_CROSS_SECTION_B, NDP_LINES_KEV, depth_to_energy

    x = np.arange(dx_um / 2, max_depth_um, dx_um)
    n = conc_of_depth(x)
    per_atom = fluence * LI6_CROSS_SECTION_B * 1e-24 * solid_angle * abundance
    weights = per_atom * n * dx_um * 1e-4
    e_t = depth_to_energy(x, stopping, initial_energy_keV=NDP_LINES_KEV["triton"])
    e_a = NDP_LINES_KEV["alpha"] - _ALPHA_STOPPING * x
    ch = np.arange(channels, dtype=float)
    edges = offset + gain * (np.arange(channels + 1) - 0.5)
    out = _detector_counts(edges, e_t, weights, fwhm)
    alive = e_a > 0
    out += _detector_counts(edges, e_a[alive], weights[alive], fwhm)
    return ch, offset + gain * ch, out


def _steps(x, levels, bounds):
    """Piecewise-constant profile: ``levels[i]`` between ``bounds[i]`` and ``bounds[i+1]``."""
    out = np.zeros_like(x, dtype=float)
    for lev, lo, hi in zip(levels, bounds[:-1], bounds[1:], strict=True):
        out[(x >= lo) & (x < hi)] = lev
    return out


def make_ndp_profile(*, surface_um: float = 1.0, electrode_um: float = 8.0, surface_cm3: float = 4.0e22,
                     bulk_cm3: float = 1.5e22, fluence_n_cm2: float = 1e12, solid_angle_fraction: float = 1e-3,
                     li6_abundance: float = 0.0759, fwhm_keV: float = 15.0, noise: bool = True, rng=11) -> Demo:
    """NDP spectrum of lithium through a Li-rich surface layer (SEI + deposits) on a lithiated graphite electrode.

    Li concentration: ``surface_cm3`` from 0 to ``surface_um``, ``bulk_cm3`` down to
    ``electrode_um`` (the copper current collector holds none). Tritons (2727 keV) lose
    energy with :func:`triton_stopping_table`; α particles (2055 keV, 330 keV/µm) give a
    second, shallower line below. Detector: 1024 channels, E = 5 keV + 3 keV × channel,
    ``fwhm_keV`` Gaussian resolution; Poisson counts unless ``noise`` is false.

    Returns
    -------
    Demo
        ``data``: ``{"spectrum": DataArray over energy_keV (with channel), "stopping": table}``.
        ``truth``: ``profile`` (depth_um, li_atoms_cm3), ``interfaces_um``,
        ``inventory_atoms_cm2`` per layer and total, ``fluence_n_cm2``,
        ``solid_angle_fraction``, ``li6_abundance``, ``calibration``, ``fwhm_keV``.
    """
    from battlab.depth.ndp import make_ndp_spectra

    stopping = triton_stopping_table()
    bounds = [0.0, surface_um, electrode_um, np.inf]

    def conc(x):
        return _steps(x, [surface_cm3, bulk_cm3, 0.0], bounds)

    cal = {"offset_keV": 5.0, "gain_keV_per_channel": 3.0}
    ch, e, expected = _ndp_spectrum(conc, stopping=stopping, fluence=fluence_n_cm2, solid_angle=solid_angle_fraction,
                                    abundance=li6_abundance, channels=1024, offset=cal["offset_keV"],
                                    gain=cal["gain_keV_per_channel"], fwhm=fwhm_keV)
    counts = np.random.default_rng(rng).poisson(expected).astype(float) if noise else expected
    spectrum = make_ndp_spectra(e, counts, channel=ch, meta=_meta("NDP SEI + graphite"), calibration=cal)
    fine = np.arange(0.0, electrode_um + 2.0, 0.01)
    layers = {"surface layer": (0.0, surface_um), "graphite": (surface_um, electrode_um)}
    inventory = {"surface layer": surface_cm3 * surface_um * 1e-4,
                 "graphite": bulk_cm3 * (electrode_um - surface_um) * 1e-4}
    inventory["total"] = sum(inventory.values())
    truth = {"profile": pd.DataFrame({"depth_um": fine, "li_atoms_cm3": conc(fine)}),
             "interfaces_um": [surface_um, electrode_um], "layers_um": layers, "inventory_atoms_cm2": inventory,
             "fluence_n_cm2": fluence_n_cm2, "solid_angle_fraction": solid_angle_fraction,
             "li6_abundance": li6_abundance, "calibration": cal, "fwhm_keV": fwhm_keV, "expected": expected}
    return Demo(data={"spectrum": spectrum, "stopping": stopping}, truth=truth,
                description="NDP: Li through a 1 µm Li-rich surface layer on 7 µm of lithiated graphite")


def make_ndp_plating_series(*, n_spectra: int = 8, interval_s: float = 1800.0, electrode_um: float = 8.0,
                            plating_um: float = 0.5, bulk_final_cm3: float = 1.5e22,
                            plated_final_cm3: float = 4.6e22, fluence_n_cm2: float = 1e12, rng=12) -> Demo:
    """Operando NDP while a graphite electrode fills and then lithium plates on its surface.

    For the first half of the series the electrode's Li concentration rises linearly to
    ``bulk_final_cm3``; in the second half lithium accumulates in the top ``plating_um``
    (up to ``plated_final_cm3``, lithium metal) while the inside stays full.

    Returns
    -------
    Demo
        ``data``: ``{"spectra": DataArray (time, energy_keV), "stopping": table}``;
        ``truth``: ``layers_um``, ``inventory`` (per spectrum, atoms/cm² per layer),
        ``plating_starts_index``, ``fluence_n_cm2``, ``solid_angle_fraction``, ``li6_abundance``.
    """
    from battlab.depth.ndp import make_ndp_spectra

    stopping = triton_stopping_table()
    gen = np.random.default_rng(rng)
    half = n_spectra // 2
    spectra, rows = [], []
    for i in range(n_spectra):
        bulk = bulk_final_cm3 * min(1.0, (i + 1) / half)
        plated = plated_final_cm3 * max(0.0, (i - half + 1) / (n_spectra - half))
        surface = max(bulk, plated)

        def conc(x, surface=surface, bulk=bulk):
            return _steps(x, [surface, bulk, 0.0], [0.0, plating_um, electrode_um, np.inf])

        ch, e, expected = _ndp_spectrum(conc, stopping=stopping, fluence=fluence_n_cm2, solid_angle=1e-3,
                                        abundance=0.0759, channels=1024, offset=5.0, gain=3.0, fwhm=15.0)
        spectra.append(gen.poisson(expected).astype(float))
        rows.append({"time_s": i * interval_s, "surface_atoms_cm2": surface * plating_um * 1e-4,
                     "inside_atoms_cm2": bulk * (electrode_um - plating_um) * 1e-4})
    series = make_ndp_spectra(e, np.array(spectra), channel=ch, times_s=[r["time_s"] for r in rows],
                              meta=_meta("NDP plating series"), calibration={"offset_keV": 5.0,
                                                                             "gain_keV_per_channel": 3.0})
    truth = {"layers_um": {"surface": (0.0, plating_um), "inside": (plating_um, electrode_um)},
             "inventory": pd.DataFrame(rows), "plating_starts_index": half, "fluence_n_cm2": fluence_n_cm2,
             "solid_angle_fraction": 1e-3, "li6_abundance": 0.0759}
    return Demo(data={"spectra": series, "stopping": stopping}, truth=truth,
                description="Operando NDP: graphite fills, then Li plates on the surface")


# --------------------------------------------------------------------------- ToF-SIMS

#: Plateau count rates (counts per sputter step) of each fragment in each layer.
SIMS_YIELDS = {
    "C2H-": (5000.0, 300.0, 200.0),
    "CHO2-": (2000.0, 100.0, 20.0),
    "LiF-": (200.0, 8000.0, 100.0),
    "LiO-": (300.0, 1500.0, 200.0),
    "C6-": (50.0, 100.0, 6000.0),
}
SIMS_LAYERS = ("organic (outer)", "LiF-rich (inner)", "graphite")


def _layer_weights(depth, interfaces, sigma):
    """Fractions of each layer at ``depth`` for interfaces smeared by erf of width ``sigma``."""
    steps = [0.5 * (1 + erf((depth - z) / (np.sqrt(2) * sigma))) for z in interfaces]
    out = [1 - steps[0]]
    for k in range(1, len(steps)):
        out.append(steps[k - 1] - steps[k])
    out.append(steps[-1])
    return np.array(out)


def _sims_counts(depth, interfaces, sigma, yields=SIMS_YIELDS):
    w = _layer_weights(depth, interfaces, sigma)
    return {f: np.tensordot(np.asarray(v), w, axes=(0, 0)) for f, v in yields.items()}


def make_sims_profile(*, organic_nm: float = 12.0, inner_nm: float = 25.0, rate_nm_s: float = 0.1,
                      step_s: float = 2.0, total_s: float = 600.0, mixing_nm: float = 1.5, noise: bool = True,
                      rng=21) -> Demo:
    """ToF-SIMS depth profile of a two-layer SEI on graphite.

    Organic outer SEI (C₂H⁻, CHO₂⁻) ``organic_nm`` thick over a LiF-rich inner SEI
    (LiF⁻, LiO⁻) ``inner_nm`` thick on graphite (C₆⁻); counts are the layer plateaus of
    :data:`SIMS_YIELDS` mixed at each interface by an error function of width
    ``mixing_nm``. Sputter rate ``rate_nm_s``; the crater depth is rate × total time.

    Returns
    -------
    Demo
        ``data``: DataFrame ``sputter_time_s`` + fragments; ``truth``: ``rate_nm_s``,
        ``crater_depth_nm``, ``interfaces_nm``, ``thickness_nm`` per layer, ``markers``.
    """
    t = np.arange(0.0, total_s + step_s / 2, step_s)
    depth = t * rate_nm_s
    interfaces = [organic_nm, organic_nm + inner_nm]
    counts = _sims_counts(depth, interfaces, mixing_nm)
    gen = np.random.default_rng(rng)
    frame = pd.DataFrame({"sputter_time_s": t})
    for f, c in counts.items():
        frame[f] = gen.poisson(c).astype(float) if noise else c
    frame.attrs["battlab"] = _meta("ToF-SIMS SEI depth profile")
    frame.attrs["fragments"] = list(SIMS_YIELDS)
    truth = {"rate_nm_s": rate_nm_s, "crater_depth_nm": rate_nm_s * t[-1], "interfaces_nm": interfaces,
             "thickness_nm": {SIMS_LAYERS[0]: organic_nm, SIMS_LAYERS[1]: inner_nm},
             "markers": {SIMS_LAYERS[0]: "C2H-", SIMS_LAYERS[1]: "LiF-"}, "mixing_nm": mixing_nm}
    return Demo(data=frame, truth=truth, description="ToF-SIMS: organic outer SEI over LiF-rich inner SEI")


def make_sims_map(*, size_px: int = 32, n_scans: int = 20, depth_per_scan_nm: float = 2.5, pixel_size_um: float = 0.5,
                  patch_radius_px: float = 6.0, patch_lif_factor: float = 3.0, organic_nm: float = 12.0,
                  inner_nm: float = 25.0, mixing_nm: float = 1.5) -> Demo:
    """A noise-free 3-D ToF-SIMS ion map (fragment × scan × y × x) with a LiF-rich patch.

    Every pixel has the layer stack of :func:`make_sims_profile`; inside a disc of
    ``patch_radius_px`` the LiF⁻ yield of the inner layer is ``patch_lif_factor`` × higher.
    Counts of each scan are the profile at the scan's mid depth.

    Returns
    -------
    Demo
        ``data``: DataArray (fragment, depth, y_um, x_um); ``truth``: ``patch_mask``,
        ``inside`` and ``outside`` per-scan counts per fragment, ``depth_per_scan_nm``,
        ``interfaces_nm``.
    """
    from battlab.depth.sims import ion_maps

    depth = (np.arange(n_scans) + 0.5) * depth_per_scan_nm
    interfaces = [organic_nm, organic_nm + inner_nm]
    outside = _sims_counts(depth, interfaces, mixing_nm)
    patch_yields = dict(SIMS_YIELDS)
    lif = SIMS_YIELDS["LiF-"]
    patch_yields["LiF-"] = (lif[0], lif[1] * patch_lif_factor, lif[2])
    inside = _sims_counts(depth, interfaces, mixing_nm, patch_yields)
    yy, xx = np.mgrid[:size_px, :size_px]
    c = (size_px - 1) / 2
    mask = (yy - c) ** 2 + (xx - c) ** 2 <= patch_radius_px ** 2
    arrays = {f: np.where(mask[None], inside[f][:, None, None], outside[f][:, None, None]) for f in SIMS_YIELDS}
    stack = ion_maps(arrays, pixel_size_um=pixel_size_um, depth_per_scan_nm=depth_per_scan_nm)
    stack.attrs["battlab"] = _meta("ToF-SIMS 3-D map with a LiF-rich patch")
    truth = {"patch_mask": mask, "inside": inside, "outside": outside, "depth_per_scan_nm": depth_per_scan_nm,
             "interfaces_nm": interfaces, "patch_lif_factor": patch_lif_factor}
    return Demo(data=stack, truth=truth, description="ToF-SIMS 3-D map: LiF-rich patch in the inner SEI")


# --------------------------------------------------------------------------- XPS

#: Atomic fractions (C, O, F, Li) of each layer and the species split inside each element.
XPS_LAYERS = {
    "organic (outer)": {"C": 0.55, "O": 0.30, "F": 0.05, "Li": 0.10},
    "LiF-rich (inner)": {"C": 0.10, "O": 0.10, "F": 0.38, "Li": 0.42},
    "graphite": {"C": 0.85, "O": 0.03, "F": 0.04, "Li": 0.08},
}
_SPECIES = {  # region -> per layer: fraction of the element's signal in each default SEI component
    "C 1s": [(0.35, 0.35, 0.15, 0.15), (0.40, 0.20, 0.10, 0.30), (0.90, 0.05, 0.03, 0.02)],
    "O 1s": [(0.05, 0.50, 0.45), (0.50, 0.40, 0.10), (0.30, 0.40, 0.30)],
    "F 1s": [(0.40, 0.60), (0.90, 0.10), (0.70, 0.30)],
    "Li 1s": [(0.20, 0.50, 0.30), (0.15, 0.10, 0.75), (0.40, 0.30, 0.30)],
}
_RANGES = {"C 1s": (278.0, 296.0), "O 1s": (522.0, 540.0), "F 1s": (678.0, 694.0), "Li 1s": (48.0, 62.0)}
_ELEMENT = {"C 1s": "C", "O 1s": "O", "F 1s": "F", "Li 1s": "Li"}


def make_xps_depth_series(*, sputter_time_s=(0, 40, 80, 120, 160, 200, 260, 320, 400, 500), rate_nm_s: float = 0.05,
                          organic_nm: float = 6.0, inner_nm: float = 10.0, mixing_nm: float = 1.5,
                          scale: float = 4.0e5, step_eV: float = 0.1, noise: bool = True, rng=31) -> Demo:
    """XPS core levels (C 1s, O 1s, F 1s, Li 1s) after each sputter step through a two-layer SEI.

    The composition at each step's depth (rate × time) mixes :data:`XPS_LAYERS` with
    error-function interfaces; every element's area is ``scale × atomic fraction × RSF``
    (Scofield, as :func:`battlab.spectra.composition` assumes) split over the default SEI
    components, each peak pseudo-Voigt (FWHM 1.3 eV, η 0.3) on an exact Shirley
    background (:func:`battlab.datasets.spectra.shirley_spectrum`).

    Returns
    -------
    Demo
        ``data``: ``{region: DataArray (step, binding_energy_eV)}``; ``truth``: ``atomic``
        (step, sputter_time_s, depth_nm, ``<el>_at_pct``), ``rate_nm_s``, ``interfaces_nm``.
    """
    from battlab.datasets.spectra import shirley_spectrum
    from battlab.depth.xps_depth import make_xps_depth_series as assemble
    from battlab.spectra.io import make_spectrum
    from battlab.spectra.xps import RSF_SCOFIELD, SEI_COMPONENTS

    times = np.asarray(sputter_time_s, float)
    depth = times * rate_nm_s
    w = _layer_weights(depth, [organic_nm, organic_nm + inner_nm], mixing_nm)  # (layer, step)
    layer_fracs = list(XPS_LAYERS.values())
    gen = np.random.default_rng(rng)
    spectra = {r: [] for r in _RANGES}
    atomic_rows = []
    for i in range(times.size):
        frac = {el: sum(w[k, i] * layer_fracs[k][el] for k in range(3)) for el in ("C", "O", "F", "Li")}
        atomic_rows.append({"step": i, "sputter_time_s": times[i], "depth_nm": depth[i],
                            **{f"{el}_at_pct": 100 * v for el, v in frac.items()}})
        for region, (lo, hi) in _RANGES.items():
            el = _ELEMENT[region]
            area = scale * frac[el] * RSF_SCOFIELD[el]
            split = sum(w[k, i] * np.asarray(_SPECIES[region][k]) for k in range(3))
            peaks = [(area * s, comp["center"], 1.3, 0.3) for s, comp in zip(split, SEI_COMPONENTS[region],
                                                                              strict=True)]
            be = np.arange(lo, hi + step_eV / 2, step_eV)
            clean, _ = shirley_spectrum(be, peaks, low_level=0.02 * scale * RSF_SCOFIELD[el] + 200.0,
                                        step_per_area=0.1)
            y = gen.poisson(clean).astype(float) if noise else clean
            spectra[region].append(make_spectrum(be, y, technique="xps", units="counts", region=region,
                                                 photon_energy_eV=1486.6))
    series = assemble(spectra, sputter_time_s=times, meta=_meta("XPS sputter depth series"))
    truth = {"atomic": pd.DataFrame(atomic_rows), "rate_nm_s": rate_nm_s,
             "interfaces_nm": [organic_nm, organic_nm + inner_nm]}
    return Demo(data=series, truth=truth, description="XPS depth series: organic SEI → LiF-rich SEI → graphite")
