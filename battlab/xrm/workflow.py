"""One call from a greyscale volume (or a XANES stack) to every table the app and CLI show.

Volume analysis runs in two tiers. Phase fractions, porosity and the per-slice profile
are chunked dask reductions over the whole volume (any size). Connectivity, surface
area, pore/particle sizes, particle shapes and tortuosity need voxels in memory: they
run on the whole volume when it has at most ``max_voxels_in_memory`` voxels, otherwise
on its central sub-volume of that size (the notes say so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["VolumeAnalysis", "analyse_volume", "XanesAnalysis", "analyse_xanes", "label_particles_2d"]


@dataclass
class VolumeAnalysis:
    """Result of :func:`analyse_volume`: ``tables`` (name -> DataFrame), the lazy
    ``labels``, the in-memory ``sub_labels`` the detailed metrics used, ``thickness``
    (local-thickness map of the pore phase), ``options`` and ``notes``."""

    tables: dict
    labels: object
    sub_labels: object
    thickness: object = None
    options: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _central(labels, max_voxels):
    n = int(np.prod(labels.shape))
    if n <= max_voxels:
        return labels, None
    edge = int(round(max_voxels ** (1 / 3)))
    sl = {d: slice(max(0, (labels.sizes[d] - edge) // 2), max(0, (labels.sizes[d] - edge) // 2) + edge)
          for d in ("z", "y", "x")}
    return labels.isel(sl), sl


def analyse_volume(volume, *, method: str = "multiotsu", classes: int = 3, thresholds=None, pore_phase: int = 0,
                   solid_phase: int | None = None, min_size_voxels: int = 5, axis: str = "z",
                   max_voxels_in_memory: int = 96 ** 3, tortuosity_axes=("z", "y", "x"),
                   particle_min_distance_um: float | None = None, phase_names: dict | None = None,
                   label_edits=(), progress=None, on_progress=None) -> VolumeAnalysis:
    """Segment a volume and measure its microstructure.

    Parameters
    ----------
    volume : DataArray (z, y, x)
        From :func:`battlab.xrm.open_volume` / :func:`battlab.xrm.make_volume`.
    method, classes, thresholds
        Passed to :func:`battlab.xrm.segment`.
    pore_phase : int
        Phase number of the pores (0 = darkest).
    solid_phase : int, optional
        Phase of the particles for the particle table (default: the brightest).
    min_size_voxels : int
        Islands smaller than this are reassigned (in-memory tier only).
    axis : {"z", "y", "x"}
        Through-thickness axis of the profile.
    max_voxels_in_memory : int
        Size limit of the in-memory tier.
    tortuosity_axes : sequence
        Axes of the diffusion simulation (empty: skip).
    particle_min_distance_um : float, optional
        Watershed seed spacing (about the smallest particle radius); default 4 voxels.
    label_edits : sequence of dict
        Manual phase labels applied after thresholding, in order: each dict holds the
        keywords of :func:`battlab.xrm.label_polygon` (``vertices_um``, ``phase``,
        ``axis``, ``slices``).
    progress : callable(str), optional
        Called with a message before each step (the app's status line).
    on_progress : callable(float, str), optional
        Called with the fraction of the whole analysis done (0–1, weighted by each
        step's typical cost, advancing inside the local-thickness and diffusion loops)
        and the current step's message: a progress bar. Ends with 1.0.

    Returns
    -------
    VolumeAnalysis
    """
    from battlab.xrm import metrics as m
    from battlab.xrm.segment import clean_labels, label_polygon, segment, split_particles
    from battlab.xrm.tortuosity import tortuosity

    # Typical share of the run time of each step (tortuosity and local thickness dominate).
    weights = {"threshold": 0.05, "fractions": 0.05, "clean": 0.05, "connectivity": 0.05, "surface": 0.05,
               "thickness": 0.25, "particles": 0.1, "tortuosity": 0.4}
    starts = dict(zip(weights, np.cumsum([0.0, *list(weights.values())[:-1]]), strict=True))
    current = {"step": "threshold", "message": ""}

    def fraction(f):
        if on_progress is not None:
            step = current["step"]
            on_progress(float(min(1.0, starts[step] + weights[step] * min(max(f, 0.0), 1.0))), current["message"])

    def say(msg, step=None):
        checkpoint()  # between steps an app can stop a run its user has superseded
        if step is not None:
            current["step"], current["message"] = step, msg
            fraction(0.0)
        if progress is not None:
            progress(msg)

    if "voxel_size_um" not in volume.attrs:
        raise InvalidParameterError("the volume carries no voxel size; open it with battlab.xrm.open_volume.")
    notes = []
    say("thresholding (histogram over all chunks)…", "threshold")
    labels = segment(volume, method=method, classes=classes, thresholds=thresholds)
    for edit in label_edits:
        labels = label_polygon(labels, **edit)
    n_phases = int(labels.attrs["n_phases"])
    if not 0 <= pore_phase < n_phases:
        raise InvalidParameterError(f"pore_phase {pore_phase} does not exist: the segmentation has phases "
                                    f"0–{n_phases - 1}.")
    solid = n_phases - 1 if solid_phase is None else int(solid_phase)
    names = dict(phase_names or {})
    names.setdefault(pore_phase, "pore")
    for k in range(n_phases):
        names.setdefault(k, f"phase{k}")
    say("phase fractions and slice profile (chunk by chunk)…", "fractions")
    fractions = m.phase_fractions(labels, names=names)
    profile = m.slice_profile(labels, axis=axis, phases=range(n_phases), names=names)
    sub, where = _central(labels, int(max_voxels_in_memory))
    if where is not None:
        notes.append("connectivity, surface area, sizes, particles and tortuosity were computed on the central "
                     f"{sub.shape[0]}×{sub.shape[1]}×{sub.shape[2]} voxels (max_voxels_in_memory).")
    say("cleaning small islands…", "clean")
    sub = clean_labels(sub.compute(), min_size_voxels=min_size_voxels)
    vox = tuple(volume.attrs["voxel_size_um"])
    sub.attrs["voxel_size_um"] = vox
    summary = {"porosity": float(fractions.loc[fractions.phase == pore_phase, "volume_fraction"].sum()),
               "porosity_in_memory_tier": float(np.mean(sub.values == pore_phase)),
               "thresholds": ", ".join(f"{t:.4g}" for t in labels.attrs["thresholds"]),
               "voxel_size_um": vox[0] if len(set(vox)) == 1 else str(vox)}
    say("connectivity…", "connectivity")
    conn = m.connected_porosity(sub, pore_phase=pore_phase)
    say("surface area…", "surface")
    summary["specific_surface_area_per_um"] = m.specific_surface_area(sub, phase=pore_phase)
    thickness = None
    psd = pd.DataFrame(columns=["diameter_um", "volume_fraction", "cumulative"])
    if len(set(vox)) == 1 and np.any(sub.values == pore_phase):
        say("pore size distribution (local thickness)…", "thickness")
        thickness = m.local_thickness(sub, phase=pore_phase, on_progress=fraction)
        psd = m.size_distribution(thickness)
        summary["pore_d50_um"] = psd.attrs["d50_um"]
    else:
        notes.append("pore sizes need cubic voxels; skipped.")
    particles = pd.DataFrame()
    if solid != pore_phase and np.any(sub.values == solid):
        say("separating particles (watershed)…", "particles")
        dist = particle_min_distance_um if particle_min_distance_um is not None else 4 * min(vox)
        parts = split_particles(sub.values == solid, min_distance_um=dist, voxel_size_um=vox)
        particles = m.particle_table(parts)
        summary["n_particles"] = int(parts.attrs["n_particles"])
        inner = particles[~particles["touches_border"]]
        if len(inner):
            summary["median_particle_diameter_um"] = float(inner["equivalent_diameter_um"].median())
            summary["median_sphericity"] = float(inner["sphericity"].median())
    tort = pd.DataFrame(columns=["axis", "porosity", "D_eff_rel", "tortuosity_factor", "percolates", "unknowns"])
    if tortuosity_axes:
        say("tortuosity (steady-state diffusion solve)…", "tortuosity")
        tort = tortuosity(sub, axes=tuple(tortuosity_axes), diffusivity={pore_phase: 1.0}, tol=1e-6,
                          on_progress=fraction)
        for _, row in tort.iterrows():
            summary[f"tortuosity_{row['axis']}"] = row["tortuosity_factor"]
    tables = {"summary": pd.DataFrame([summary]), "phase_fractions": fractions, "slice_profile": profile,
              "connectivity": conn, "pore_size_distribution": psd, "particles": particles, "tortuosity": tort}
    options = {"method": method, "classes": classes, "thresholds": labels.attrs["thresholds"],
               "pore_phase": pore_phase, "solid_phase": solid, "min_size_voxels": min_size_voxels, "axis": axis,
               "max_voxels_in_memory": max_voxels_in_memory, "tortuosity_axes": list(tortuosity_axes),
               "manual_labels": labels.attrs.get("manual_labels", []),
               "voxel_size_um": vox}
    if on_progress is not None:
        on_progress(1.0, "done")
    return VolumeAnalysis(tables, labels, sub, thickness, options, notes)


@dataclass
class XanesAnalysis:
    """Result of :func:`analyse_xanes`: ``tables``, ``maps`` (name -> (y, x) map),
    ``normalized`` stack, ``lcf`` (from :func:`battlab.xrm.lcf_maps`), ``particles``
    (labels), ``pca`` result, ``options`` and ``notes``."""

    tables: dict
    maps: dict
    normalized: object
    lcf: dict
    particles: object
    pca: object = None
    options: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def label_particles_2d(step_map, *, min_pixels: int = 10):
    """Particles of a XANES field of view: connected sample pixels (edge step present)."""
    from skimage.measure import label

    from battlab.xrm.segment import drop_small_labels
    from battlab.xrm.xanes import _map

    inside = np.isfinite(np.asarray(step_map.values))
    lab, _ = drop_small_labels(label(inside, connectivity=1), min_size=min_pixels)
    return _map(step_map, lab, "particle", "particle id")


def analyse_xanes(stack, references: dict, *, charged: str | None = None, e0: float | None = None,
                  pre=(-20.0, -8.0), post=(15.0, 70.0), min_step_fraction: float = 0.1, n_pca: int = 4,
                  particles=None) -> XanesAnalysis:
    """Normalise a XANES stack and map edge energy, white line and state of charge.

    Returns
    -------
    XanesAnalysis
        ``tables``: ``summary``, ``particles`` (per-particle SOC), ``soc_histogram``,
        ``pixels`` (one row per sample pixel: position, edge energy, SOC, fractions,
        r-factor), ``pca``; ``maps``: ``edge_step``, ``edge_energy``,
        ``white_line_energy``, ``white_line_height``, ``soc``, ``r_factor`` and the
        fraction maps.
    """
    from battlab.xrm import xanes as x

    norm, step = x.normalize_stack(stack, e0=e0, pre=pre, post=post, min_step_fraction=min_step_fraction)
    edge = x.edge_energy_map(norm)
    wl_e, wl_h = x.white_line_map(norm)
    lcf = x.lcf_maps(norm, references, charged=charged)
    parts = label_particles_2d(step) if particles is None else particles
    per = x.particle_soc(lcf["soc"], parts)
    hist = x.soc_histogram(lcf["soc"])
    notes = []
    pca_result = None
    try:
        pca_result, _ = x.stack_pca(norm, n_components=n_pca)
        pca_table = pd.DataFrame({"component": [f"pc{i + 1}" for i in range(len(pca_result.explained_variance_ratio))],
                                  "explained_variance_ratio": pca_result.explained_variance_ratio})
        pca_table.attrs["n_significant"] = pca_result.n_significant
    except MissingDataError as exc:
        notes.append(f"PCA skipped: {exc}")
        pca_table = pd.DataFrame(columns=["component", "explained_variance_ratio"])
    maps = {"edge_step": step, "edge_energy": edge, "white_line_energy": wl_e, "white_line_height": wl_h,
            "soc": lcf["soc"], "r_factor": lcf["r_factor"]}
    maps.update({f"fraction_{k}": v for k, v in lcf["fractions"].items()})
    yy, xx = np.meshgrid(stack["y_um"].to_numpy(), stack["x_um"].to_numpy(), indexing="ij")
    inside = np.isfinite(lcf["soc"].values)
    pixels = pd.DataFrame({"y_um": yy[inside], "x_um": xx[inside], "particle": np.asarray(parts.values)[inside]})
    for name in ("edge_step", "edge_energy", "white_line_energy", "soc", "r_factor"):
        pixels[name] = maps[name].values[inside]
    soc_vals = lcf["soc"].values[inside]
    summary = {"e0_eV": norm.attrs["e0_eV"], "n_sample_pixels": int(inside.sum()), "n_particles": int(len(per)),
               "mean_soc": float(np.mean(soc_vals)) if soc_vals.size else np.nan,
               "median_r_factor": float(np.nanmedian(lcf["r_factor"].values)),
               "charged_reference": lcf["soc"].attrs["charged"],
               "pca_significant_components": pca_result.n_significant if pca_result else np.nan}
    tables = {"summary": pd.DataFrame([summary]), "particles": per, "soc_histogram": hist, "pixels": pixels,
              "pca": pca_table}
    options = {"charged": lcf["soc"].attrs["charged"], "references": list(references), "e0_eV": norm.attrs["e0_eV"],
               "pre": tuple(pre), "post": tuple(post), "min_step_fraction": min_step_fraction}
    return XanesAnalysis(tables, maps, norm, lcf, parts, pca_result, options, notes)
