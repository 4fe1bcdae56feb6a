"""Neutron depth profiling (NDP) of lithium: ⁶Li(n,α)³H.

A thermal neutron captured by ⁶Li gives an α particle (2055 keV) and a triton
(2727 keV) back to back. A particle born at depth x leaves the surface with
``E(x) = E0 − ∫_0^x S dx``, so its measured energy gives the depth:
``x(E) = ∫_E^{E0} dE' / S(E')`` with ``S = −dE/dx`` the stopping power of the host
(keV/µm; from SRIM or tables — battlab does not compute it). The counts in a
depth interval Δx give the ⁶Li concentration
``n = counts / (Φ · σ · (Ω/4π) · Δx)`` (Φ neutron fluence, σ capture cross-section,
Ω/4π the detector's solid-angle fraction including its efficiency), and the lithium
concentration ``n / a₆`` with the ⁶Li abundance a₆.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from battlab.depth.profiles import numeric_column, read_table
from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError

__all__ = ["NDP_LINES_KEV", "LI6_CROSS_SECTION_B", "LI6_NATURAL_ABUNDANCE", "read_stopping_table",
           "read_ndp_spectra", "channel_to_energy", "calibrate_energy", "energy_to_depth", "depth_to_energy",
           "depth_resolution_um", "ndp_depth_profile", "ndp_series", "layer_inventory", "difference_profiles"]

#: Kinetic energies of the ⁶Li(n,α)³H products, keV.
NDP_LINES_KEV = {"alpha": 2055.0, "triton": 2727.0}
#: ⁶Li thermal-neutron (2200 m/s) capture cross-section, barn.
LI6_CROSS_SECTION_B = 940.0
#: Natural isotopic abundance of ⁶Li (atom fraction).
LI6_NATURAL_ABUNDANCE = 0.0759

_BARN_CM2 = 1e-24
_UM_CM = 1e-4


# --------------------------------------------------------------------------- inputs


def read_stopping_table(source, *, name: str | None = None) -> pd.DataFrame:
    """A stopping-power table: energy (keV) against stopping power (keV/µm).

    Parameters
    ----------
    source : path, bytes or DataFrame
        Two numeric columns: energy (keV; a header saying MeV is converted) and the
        electronic + nuclear stopping power of the host for the particle, keV/µm.

    Returns
    -------
    DataFrame
        ``energy_keV``, ``stopping_keV_per_um`` sorted by energy.
    """
    frame = read_table(source, name=name, what="stopping-power table")
    cols = list(frame.columns)
    e = numeric_column(frame, cols[0], what="stopping-power table")
    s = numeric_column(frame, cols[1], what="stopping-power table")
    if "mev" in cols[0].lower():
        e = e * 1e3
    return stopping_table(e, s, meta=frame.attrs.get("battlab"))


def stopping_table(energy_keV, stopping_keV_per_um, *, meta=None) -> pd.DataFrame:
    """Validate and sort a stopping table given as two arrays (see :func:`read_stopping_table`)."""
    e = np.asarray(energy_keV, float)
    s = np.asarray(stopping_keV_per_um, float)
    good = np.isfinite(e) & np.isfinite(s)
    e, s = e[good], s[good]
    if e.size < 2:
        raise MissingDataError("a stopping-power table needs at least two rows of energy (keV) and keV/µm.")
    if np.any(s <= 0):
        raise InvalidParameterError("stopping powers must be > 0 keV/µm; check the column order and units.")
    order = np.argsort(e)
    e, s = e[order], s[order]
    if np.any(np.diff(e) == 0):
        raise InvalidParameterError("the stopping-power table repeats an energy; keep one row per energy.")
    out = pd.DataFrame({"energy_keV": e, "stopping_keV_per_um": s})
    out.attrs["battlab"] = dict(meta or {"source_name": "table given in code", "sha256": None, "format": "table"})
    return out


def channel_to_energy(channel, *, offset_keV: float, gain_keV_per_channel: float, quadratic_keV: float = 0.0):
    """Energy of a detector channel: ``E = offset + gain·ch + quadratic·ch²`` (keV)."""
    if not gain_keV_per_channel > 0:
        raise InvalidParameterError(f"the energy gain must be > 0 keV/channel, got {gain_keV_per_channel}.")
    ch = np.asarray(channel, float)
    return offset_keV + gain_keV_per_channel * ch + quadratic_keV * ch ** 2


def calibrate_energy(channels, energies_keV) -> dict:
    """Linear energy calibration from peaks of known energy (e.g. the surface α and triton edges).

    Returns
    -------
    dict
        ``offset_keV`` and ``gain_keV_per_channel`` for :func:`channel_to_energy`.
    """
    ch = np.asarray(channels, float)
    en = np.asarray(energies_keV, float)
    if ch.size < 2 or ch.shape != en.shape or np.unique(ch).size < 2:
        raise InvalidParameterError("an energy calibration needs at least two peaks at different channels.")
    gain, offset = np.polyfit(ch, en, 1)
    return {"offset_keV": float(offset), "gain_keV_per_channel": float(gain)}


def _time_label(text: str):
    m = re.search(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)
    return float(m.group()) if m else None


def read_ndp_spectra(source, *, name: str | None = None, offset_keV: float | None = None,
                     gain_keV_per_channel: float | None = None, quadratic_keV: float = 0.0):
    """NDP energy spectra from a CSV export: channel or energy, then one counts column per spectrum.

    Parameters
    ----------
    source : path, bytes or DataFrame
        First column ``channel`` (needs the calibration) or energy in keV (a header
        naming MeV is converted). Every further numeric column is one spectrum; a header
        holding a number (``t=600 s``, ``600``) gives that spectrum's time in s.
    offset_keV, gain_keV_per_channel, quadratic_keV : float
        Energy calibration of the channels (:func:`channel_to_energy`); a given
        calibration also overrides an energy column's values when the file has channels.

    Returns
    -------
    DataArray
        Counts over ``energy_keV`` (with a ``channel`` coordinate when known); a file with
        several spectra gives dims ``(time, energy_keV)`` and a ``time_s`` coordinate.
    """
    frame = read_table(source, name=name, what="NDP spectrum")
    cols = list(frame.columns)
    first = cols[0].lower()
    channel = None
    if "chan" in first or first in ("ch", "bin", "index"):
        channel = numeric_column(frame, cols[0], what="NDP spectrum")
        if gain_keV_per_channel is None:
            raise MissingDataError("this NDP spectrum is in channels: give the energy calibration "
                                   "(offset_keV and gain_keV_per_channel), e.g. from calibrate_energy on the "
                                   "surface α (2055 keV) and triton (2727 keV) edges.")
        energy = channel_to_energy(channel, offset_keV=offset_keV or 0.0, gain_keV_per_channel=gain_keV_per_channel,
                                   quadratic_keV=quadratic_keV)
    else:
        energy = numeric_column(frame, cols[0], what="NDP spectrum")
        if "mev" in first:
            energy = energy * 1e3
    counts_cols = [c for c in cols[1:] if pd.to_numeric(frame[c], errors="coerce").notna().any()]
    if not counts_cols:
        raise MissingDataError("the NDP spectrum has no counts column.")
    counts = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in counts_cols]).T
    meta = frame.attrs.get("battlab", {})
    return make_ndp_spectra(energy, counts, channel=channel, times_s=[_time_label(c) for c in counts_cols],
                            meta=meta, calibration={"offset_keV": offset_keV, "gain_keV_per_channel":
                                                    gain_keV_per_channel, "quadratic_keV": quadratic_keV})


def make_ndp_spectra(energy_keV, counts, *, channel=None, times_s=None, meta=None, calibration=None):
    """Counts as a labelled DataArray over ``energy_keV`` (2-D counts give a ``time`` dim)."""
    e = np.asarray(energy_keV, float)
    c = np.atleast_2d(np.asarray(counts, float))
    if c.shape[1] != e.size:
        raise InvalidParameterError(f"{c.shape[1]} counts per spectrum for {e.size} energies.")
    order = np.argsort(e)
    coords = {"energy_keV": e[order]}
    if channel is not None:
        coords["channel"] = ("energy_keV", np.asarray(channel, float)[order])
    attrs = {"units": "counts", "long_name": "NDP counts", "kind": "ndp",
             "battlab": dict(meta or {"source_name": "data given in code", "sha256": None, "format": "array"}),
             "calibration": calibration or {}}
    if c.shape[0] == 1:
        return xr.DataArray(c[0, order], dims=("energy_keV",), coords=coords, attrs=attrs)
    times = list(times_s) if times_s is not None else [None] * c.shape[0]
    if any(t is None for t in times) or len(set(times)) != len(times):
        times = list(range(c.shape[0]))
        attrs["notes"] = ["spectrum headers give no distinct times: time_s is the spectrum index"]
    coords["time_s"] = ("time", np.asarray(times, float))
    coords["time"] = np.arange(c.shape[0])
    return xr.DataArray(c[:, order], dims=("time", "energy_keV"), coords=coords, attrs=attrs)


# --------------------------------------------------------------------------- depth scale


def _stopping_arrays(stopping):
    if np.isscalar(stopping):
        s = float(stopping)
        if not s > 0:
            raise InvalidParameterError(f"stopping power must be > 0 keV/µm, got {stopping}.")
        return None, s
    if isinstance(stopping, pd.DataFrame):
        tab = stopping if "energy_keV" in stopping else read_stopping_table(stopping)
    else:
        e, s = stopping
        tab = stopping_table(e, s)
    return (tab["energy_keV"].to_numpy(float), tab["stopping_keV_per_um"].to_numpy(float)), None


def _depth_grid(table, e0, e_low):
    """Depth x(E) on a fine energy grid from e0 down to e_low (trapezoid in 1/S)."""
    e_tab, s_tab = table
    if e_low < e_tab[0] - 1e-9 or e0 > e_tab[-1] + 1e-9:
        warnings.warn(f"the stopping table covers {e_tab[0]:g}–{e_tab[-1]:g} keV but {e_low:g}–{e0:g} keV is "
                      "needed; its end values are used outside it.", BattlabWarning, stacklevel=3)
    grid = np.union1d(np.linspace(e_low, e0, 4001), e_tab[(e_tab > e_low) & (e_tab < e0)])[::-1]
    inv = 1.0 / np.interp(grid, e_tab, s_tab)
    depth = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * -np.diff(grid))])
    return grid, depth


def energy_to_depth(energy_keV, stopping, *, initial_energy_keV: float = NDP_LINES_KEV["triton"]):
    """Depth (µm) at which a particle of ``initial_energy_keV`` was born, from its measured energy.

    Parameters
    ----------
    energy_keV : array_like
        Measured energies.
    stopping : float or DataFrame or (energies, stopping powers)
        A constant stopping power (keV/µm) or a table (:func:`read_stopping_table`),
        interpolated linearly.
    initial_energy_keV : float
        Energy at birth: :data:`NDP_LINES_KEV` ``["triton"]`` or ``["alpha"]``.

    Returns
    -------
    ndarray
        ``x(E) = ∫_E^{E0} dE'/S(E')``; energies above E0 (detector broadening of
        surface counts) get negative depths ``(E0 − E)/S(E0)``.
    """
    e = np.asarray(energy_keV, float)
    e0 = float(initial_energy_keV)
    table, const = _stopping_arrays(stopping)
    if const is not None:
        return (e0 - e) / const
    finite = e[np.isfinite(e)]
    e_low = min(float(finite.min()) if finite.size else e0, e0) - 1e-6
    grid, depth = _depth_grid(table, e0, e_low)
    below = np.interp(-e, -grid, depth)  # grid descends; negate for np.interp
    s0 = float(np.interp(e0, *table))
    return np.where(e > e0, (e0 - e) / s0, below)


def depth_to_energy(depth_um, stopping, *, initial_energy_keV: float = NDP_LINES_KEV["triton"],
                    max_energy_loss_keV: float | None = None):
    """Exit energy (keV) of a particle born at ``depth_um`` (inverse of :func:`energy_to_depth`)."""
    x = np.asarray(depth_um, float)
    e0 = float(initial_energy_keV)
    table, const = _stopping_arrays(stopping)
    if const is not None:
        return e0 - const * x
    e_low = e0 - (max_energy_loss_keV if max_energy_loss_keV is not None else 0.999 * (e0 - table[0][0]))
    grid, depth = _depth_grid(table, e0, max(e_low, 1e-3))
    return np.interp(x, depth, grid)


def depth_resolution_um(stopping, *, energy_resolution_keV: float, depth_um=0.0,
                        initial_energy_keV: float = NDP_LINES_KEV["triton"]):
    """Depth resolution (FWHM, µm) from the detector's energy resolution: ``ΔE / S(E(x))``.

    Straggling grows with depth and is not included, so this is a lower bound deeper in.
    """
    if not energy_resolution_keV > 0:
        raise InvalidParameterError(f"energy resolution must be > 0 keV, got {energy_resolution_keV}.")
    table, const = _stopping_arrays(stopping)
    if const is not None:
        return np.full(np.shape(depth_um), energy_resolution_keV / const)
    e = depth_to_energy(depth_um, stopping, initial_energy_keV=initial_energy_keV)
    return energy_resolution_keV / np.interp(e, *table)


# --------------------------------------------------------------------------- profiles


def _particle_energy(particle):
    if isinstance(particle, str):
        if particle not in NDP_LINES_KEV:
            raise InvalidParameterError(f"unknown NDP particle {particle!r}; use 'triton' or 'alpha'.")
        return NDP_LINES_KEV[particle]
    return float(particle)


def _default_window(e0):
    # The triton spectrum is clean above the α line; the α spectrum sits below it.
    if e0 == NDP_LINES_KEV["triton"]:
        return (NDP_LINES_KEV["alpha"] + 50.0, e0 + 150.0)
    return (50.0, e0 + 150.0)


def _channel_edges(e):
    mid = 0.5 * (e[1:] + e[:-1])
    return np.concatenate([[e[0] - (mid[0] - e[0])], mid, [e[-1] + (e[-1] - mid[-1])]])


def ndp_depth_profile(spectrum, stopping, *, particle="triton", energy_window_keV=None, bin_um: float = 0.25,
                      max_depth_um: float | None = None, fluence_n_cm2: float | None = None,
                      solid_angle_fraction: float | None = None, cross_section_b: float = LI6_CROSS_SECTION_B,
                      li6_abundance: float = LI6_NATURAL_ABUNDANCE,
                      energy_resolution_keV: float | None = None) -> pd.DataFrame:
    """Lithium concentration against depth from one NDP energy spectrum.

    Each channel's energy interval maps to a depth interval through the stopping
    power; the cumulative counts are interpolated at the depth-bin edges, so counts are
    conserved. Counts above the surface energy (detector broadening) are added to the
    first bin.

    Parameters
    ----------
    spectrum : DataArray over ``energy_keV``
        Counts per channel (:func:`read_ndp_spectra`).
    stopping : float or DataFrame
        Stopping power of the host for the particle (keV/µm), constant or a table.
    particle : {"triton", "alpha"} or float
        Which line (or its birth energy, keV).
    energy_window_keV : (float, float), optional
        Channels used; default above the α line for tritons (no overlap).
    bin_um : float
        Depth-bin width, µm. Choose it ≥ the depth resolution.
    max_depth_um : float, optional
        Deepest bin edge; default the depth of the window's low end.
    fluence_n_cm2, solid_angle_fraction : float, optional
        Neutron fluence (n/cm²) and detector solid-angle fraction Ω/4π (× efficiency).
        With both, ``li_atoms_cm3`` is absolute; without, ``relative_concentration`` is
        counts per µm scaled to a maximum of 1.
    cross_section_b, li6_abundance : float
        ⁶Li capture cross-section (barn) and ⁶Li atom fraction of the lithium
        (0.0759 natural; near 0.95 for ⁶Li-enriched electrodes).
    energy_resolution_keV : float, optional
        Detector FWHM; adds the depth resolution to the notes.

    Returns
    -------
    DataFrame
        ``depth_um`` (bin centre), ``depth_low_um``, ``depth_high_um``, ``counts``,
        ``counts_per_um`` and ``li_atoms_cm3`` or ``relative_concentration``.
        ``attrs["battlab"]`` records the parameters and notes.
    """
    if "energy_keV" not in getattr(spectrum, "dims", ()):
        raise InvalidParameterError("an NDP spectrum must be a DataArray over energy_keV (read_ndp_spectra).")
    if spectrum.ndim != 1:
        raise InvalidParameterError("ndp_depth_profile takes one spectrum; use ndp_series for a time series.")
    if not bin_um > 0:
        raise InvalidParameterError(f"bin_um must be > 0, got {bin_um}.")
    spectrum = spectrum.sortby("energy_keV")  # channels may come in either order
    e0 = _particle_energy(particle)
    lo, hi = energy_window_keV if energy_window_keV is not None else _default_window(e0)
    if not lo < hi:
        raise InvalidParameterError(f"energy window must be (low, high) keV with low < high, got {(lo, hi)}.")
    e = spectrum["energy_keV"].to_numpy().astype(float)
    counts = np.nan_to_num(spectrum.to_numpy().astype(float))
    keep = (e >= lo) & (e <= hi)
    if keep.sum() < 3:
        raise MissingDataError(f"fewer than 3 channels between {lo:g} and {hi:g} keV; widen the energy window.")
    e, counts = e[keep], counts[keep]
    edges_e = _channel_edges(e)
    depth_edges = energy_to_depth(edges_e, stopping, initial_energy_keV=e0)  # decreasing with energy
    # walk from the highest energy (shallowest) down
    d = depth_edges[::-1]
    cum = np.concatenate([[0.0], np.cumsum(counts[::-1])])
    above = float(np.interp(0.0, d, cum)) if d[0] < 0 else 0.0
    deepest = float(d[-1]) if max_depth_um is None else float(max_depth_um)
    if not deepest > 0:
        raise InvalidParameterError("the energy window reaches no depth below the surface.")
    n_bins = max(1, int(np.floor(deepest / bin_um + 1e-9)))
    edges = np.arange(n_bins + 1) * bin_um
    binned = np.diff(np.interp(edges, d, cum))
    binned[0] += above
    out = pd.DataFrame({"depth_um": 0.5 * (edges[1:] + edges[:-1]), "depth_low_um": edges[:-1],
                        "depth_high_um": edges[1:], "counts": binned, "counts_per_um": binned / bin_um})
    quantitative = fluence_n_cm2 is not None and solid_angle_fraction is not None
    if quantitative:
        for label, v in (("fluence_n_cm2", fluence_n_cm2), ("solid_angle_fraction", solid_angle_fraction),
                         ("cross_section_b", cross_section_b), ("li6_abundance", li6_abundance)):
            if not (np.isfinite(v) and v > 0):
                raise InvalidParameterError(f"{label} must be > 0, got {v}.")
        per_atom_cm = fluence_n_cm2 * cross_section_b * _BARN_CM2 * solid_angle_fraction * li6_abundance
        out["li_atoms_cm3"] = out["counts"] / (per_atom_cm * bin_um * _UM_CM)
    else:
        top = out["counts_per_um"].max()
        out["relative_concentration"] = out["counts_per_um"] / top if top > 0 else np.nan
    notes = [f"depth from the {particle} line (E0 = {e0:g} keV) over {lo:g}–{hi:g} keV"]
    if above > 0:
        notes.append(f"{above:.0f} counts above the surface energy (detector broadening) were added to the first bin")
    if energy_resolution_keV:
        r0 = float(depth_resolution_um(stopping, energy_resolution_keV=energy_resolution_keV,
                                       initial_energy_keV=e0))
        r1 = float(depth_resolution_um(stopping, energy_resolution_keV=energy_resolution_keV,
                                       depth_um=deepest, initial_energy_keV=e0))
        notes.append(f"depth resolution (detector {energy_resolution_keV:g} keV FWHM, no straggling): "
                     f"{r0:.2f} µm at the surface, {r1:.2f} µm at {deepest:.1f} µm")
        if bin_um < r0:
            notes.append("bins are finer than the depth resolution: neighbouring bins are correlated")
    out.attrs["battlab"] = {"analysis": "battlab.depth.ndp_depth_profile", "quantity":
                            "li_atoms_cm3" if quantitative else "relative_concentration",
                            "parameters": {"particle": particle, "initial_energy_keV": e0,
                                           "energy_window_keV": [lo, hi], "bin_um": bin_um,
                                           "max_depth_um": deepest, "fluence_n_cm2": fluence_n_cm2,
                                           "solid_angle_fraction": solid_angle_fraction,
                                           "cross_section_b": cross_section_b, "li6_abundance": li6_abundance,
                                           "energy_resolution_keV": energy_resolution_keV},
                            "notes": notes}
    return out


def _quantity(profile):
    return "li_atoms_cm3" if "li_atoms_cm3" in profile else "relative_concentration"


def layer_inventory(profile: pd.DataFrame, layers: dict) -> pd.DataFrame:
    """Lithium per layer: counts and (when absolute) atoms/cm² between depth bounds.

    Parameters
    ----------
    profile : DataFrame
        From :func:`ndp_depth_profile`.
    layers : dict of name -> (top_um, bottom_um)
        E.g. ``{"surface (plating)": (0, 1), "electrode": (1, 8)}``. Bins are split in
        proportion to their overlap.

    Returns
    -------
    DataFrame
        ``layer``, ``top_um``, ``bottom_um``, ``counts``, ``fraction`` (of all counts in
        the profile), and ``li_atoms_cm2`` when the profile is absolute.
    """
    if not layers:
        raise InvalidParameterError("give at least one layer as name=(top_um, bottom_um).")
    lo = profile["depth_low_um"].to_numpy(float)
    hi = profile["depth_high_um"].to_numpy(float)
    counts = profile["counts"].to_numpy(float)
    total = counts.sum()
    rows = []
    for name, (top, bottom) in layers.items():
        if not bottom > top:
            raise InvalidParameterError(f"layer {name!r}: bottom ({bottom}) must be deeper than top ({top}).")
        overlap = np.clip(np.minimum(hi, bottom) - np.maximum(lo, top), 0, None) / (hi - lo)
        row = {"layer": name, "top_um": float(top), "bottom_um": float(bottom),
               "counts": float((counts * overlap).sum())}
        row["fraction"] = row["counts"] / total if total > 0 else np.nan
        if "li_atoms_cm3" in profile:
            row["li_atoms_cm2"] = float((profile["li_atoms_cm3"].to_numpy() * overlap * (hi - lo) * _UM_CM).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def ndp_series(spectra, stopping, *, layers: dict | None = None, echem: pd.DataFrame | None = None,
               clock_offset_s: float = 0.0, **profile_options):
    """Depth profiles of a time (or SOC) series of NDP spectra.

    Parameters
    ----------
    spectra : DataArray ``(time, energy_keV)``
    stopping : float or DataFrame
    layers : dict, optional
        Layers for :func:`layer_inventory` per spectrum (e.g. surface vs inside, to tell
        lithium plating on the surface from lithium stored inside the electrode).
    echem : DataFrame, optional
        Canonical cycling table: voltage, capacity and SOC at each spectrum are added
        (:func:`battlab.correlate.timeline.echem_at`, spectrum ``time_s`` + offset =
        cycler test time).
    clock_offset_s : float
        Cycler test time at ``time_s = 0``.
    **profile_options
        Passed to :func:`ndp_depth_profile` (bin, window, fluence …).

    Returns
    -------
    profiles : DataArray ``(time, depth_um)``
        Concentration (atoms/cm³ or counts per µm) with ``time_s``.
    table : DataFrame
        One row per spectrum: ``time_s``, ``total_counts`` (integrated, the short-circuit
        precursor of the seed review), ``window_counts`` and per layer
        ``counts_<layer>`` / ``fraction_<layer>`` (and ``li_atoms_cm2_<layer>``).
    """
    if spectra.ndim == 1:
        spectra = spectra.expand_dims(time=[0]).assign_coords(time_s=("time", [0.0]))
    if "time" not in spectra.dims or "energy_keV" not in spectra.dims:
        raise InvalidParameterError("an NDP series must be a DataArray over (time, energy_keV).")
    if "time_s" in spectra.coords:
        times = spectra["time_s"].to_numpy().astype(float)
    else:
        times = np.arange(spectra.sizes["time"], dtype=float)
    profiles, rows = [], []
    for i in range(spectra.sizes["time"]):
        prof = ndp_depth_profile(spectra.isel(time=i), stopping, **profile_options)
        profiles.append(prof)
        row = {"time_s": times[i], "total_counts": float(np.nansum(spectra.isel(time=i).to_numpy())),
               "window_counts": float(prof["counts"].sum())}
        if layers:
            inv = layer_inventory(prof, layers)
            for r in inv.itertuples():
                row[f"counts_{r.layer}"] = r.counts
                row[f"fraction_{r.layer}"] = r.fraction
                if "li_atoms_cm2" in inv:
                    row[f"li_atoms_cm2_{r.layer}"] = r.li_atoms_cm2
        rows.append(row)
    q = "li_atoms_cm3" if "li_atoms_cm3" in profiles[0] else "counts_per_um"
    n = min(len(p) for p in profiles)
    arr = xr.DataArray(np.stack([p[q].to_numpy()[:n] for p in profiles]), dims=("time", "depth_um"),
                       coords={"time": np.arange(len(profiles)), "time_s": ("time", times),
                               "depth_um": profiles[0]["depth_um"].to_numpy()[:n]},
                       attrs={"units": "atoms/cm³" if q == "li_atoms_cm3" else "counts/µm", "long_name":
                              "Li concentration" if q == "li_atoms_cm3" else "NDP counts per µm", "kind": "ndp",
                              "battlab": dict(spectra.attrs.get("battlab", {})),
                              "parameters": profiles[0].attrs["battlab"]["parameters"]})
    table = pd.DataFrame(rows)
    if echem is not None:
        from battlab.correlate.timeline import echem_at

        joined = echem_at(times, echem, clock_offset_s=clock_offset_s, label="NDP spectra")
        for col in ("test_time_s", "voltage_V", "current_A", "cycle", "capacity_mAh", "soc"):
            if col in joined:
                table[col] = joined[col].to_numpy()
    table.attrs["battlab"] = {"analysis": "battlab.depth.ndp_series", "notes": profiles[0].attrs["battlab"]["notes"]}
    return arr, table


def difference_profiles(profiles, *, reference: int = 0):
    """Profiles minus the profile at index ``reference`` (the seed's cycle-difference "B − A" images)."""
    if "time" not in profiles.dims:
        raise InvalidParameterError("difference_profiles needs a (time, depth_um) series from ndp_series.")
    if not -profiles.sizes["time"] <= reference < profiles.sizes["time"]:
        raise InvalidParameterError(f"reference index {reference} is outside 0…{profiles.sizes['time'] - 1}.")
    out = profiles - profiles.isel(time=reference, drop=True)  # keep every spectrum's time_s
    out.attrs = dict(profiles.attrs, long_name=f"change since spectrum {reference}")
    return out
