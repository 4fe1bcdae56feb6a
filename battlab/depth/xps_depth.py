"""XPS depth series: core-level spectra after each sputter step → atomic % against depth.

Each step's regions are fitted by :func:`battlab.spectra.fit_xps` (Shirley or Tougaard
background, SEI components) and combined by :func:`battlab.spectra.composition`
(areas over sensitivity factors); this module only adds the depth axis
(sputter time × rate). Preferential sputtering and ion-beam reduction (e.g. of
Li₂CO₃ to Li₂O) change the apparent chemistry; the numbers are as sputtered.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from battlab.depth.profiles import numeric_column, read_table
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["make_xps_depth_series", "read_xps_depth", "read_xps_depth_csv", "read_xps_depth_vamas",
           "xps_depth_profile", "xps_depth_long"]

_ETCH_TIME = re.compile(r"(?:etch|sputter)[^0-9]*([0-9]+(?:\.[0-9]*)?)\s*s\b", re.IGNORECASE)


def make_xps_depth_series(spectra: dict, *, sputter_time_s, meta=None) -> dict:
    """``{region: DataArray (step, binding_energy_eV)}`` from ``{region: [spectrum per step]}``.

    Parameters
    ----------
    spectra : dict of region -> list of DataArray
        One spectrum over ``binding_energy_eV`` per sputter step (same axis in a region).
    sputter_time_s : array_like
        Cumulative sputter time of each step, s (0 for the as-received surface).
    """
    times = np.asarray(sputter_time_s, float)
    out = {}
    for region, steps in spectra.items():
        if len(steps) != times.size:
            raise InvalidParameterError(f"{region}: {len(steps)} spectra for {times.size} sputter times.")
        series = xr.concat([s.reset_coords(drop=True) for s in steps], dim="step", join="exact",
                           combine_attrs="override")
        series = series.assign_coords(step=np.arange(times.size), sputter_time_s=("step", times))
        series.attrs["region"] = region
        if meta is not None:
            series.attrs["battlab"] = dict(meta)
        out[region] = series
    return out


def read_xps_depth_csv(source, *, name: str | None = None) -> dict:
    """An XPS depth series from a long CSV: ``region, sputter_time_s, binding_energy_eV, intensity``.

    One row per point; every (region, sputter time) pair is one spectrum. Column names
    are matched loosely (``time``, ``BE``, ``counts``).
    """
    from battlab.spectra.io import make_spectrum

    frame = read_table(source, name=name, what="XPS depth series")
    low = {c.lower(): c for c in frame.columns}

    def pick(*keys):
        for k in keys:
            for lc, c in low.items():
                if k in lc:
                    return c
        raise MissingDataError(f"the XPS depth CSV needs a column like {keys[0]!r}; it has {list(frame.columns)}.")

    rc, tc = pick("region", "level", "line"), pick("sputter", "time", "etch")
    bc, ic = pick("binding", "be", "energy"), pick("intensity", "counts", "cps")
    t = numeric_column(frame, tc, what="XPS depth series")
    be = numeric_column(frame, bc, what="XPS depth series")
    y = numeric_column(frame, ic, what="XPS depth series")
    regions = frame[rc].astype(str).str.strip().to_numpy()
    times = np.unique(t[np.isfinite(t)])
    meta = frame.attrs.get("battlab")
    spectra = {}
    for region in pd.unique(regions):
        steps = []
        for ti in times:
            sel = (regions == region) & (t == ti)
            if sel.sum() < 10:
                raise MissingDataError(f"{region} at {ti:g} s has {int(sel.sum())} points; every region needs a "
                                       "spectrum (≥ 10 points) at every sputter time.")
            steps.append(make_spectrum(be[sel], y[sel], technique="xps", units="counts", region=region, meta=meta))
        axes = {s.sizes["binding_energy_eV"] for s in steps}
        if len(axes) != 1:
            raise InvalidParameterError(f"{region}: the spectra of different steps have different lengths.")
        steps = [s.assign_coords(binding_energy_eV=steps[0]["binding_energy_eV"]) for s in steps]
        spectra[region] = steps
    return make_xps_depth_series(spectra, sputter_time_s=times, meta=meta)


def read_xps_depth_vamas(source, *, name: str | None = None, time_per_step_s: float | None = None,
                         sputter_times_s=None) -> dict:
    """An XPS depth series from a VAMAS (``.vms``) file: the n-th block of a region is sputter step n.

    Parameters
    ----------
    source : path or bytes
    time_per_step_s : float, optional
        Sputter time between steps (step n at n × this, the first at 0 s).
    sputter_times_s : sequence of float, optional
        The cumulative sputter time of every step. Without either, the times are read from
        block identifiers such as ``"C 1s / Etch Time 60 s"``.

    Returns
    -------
    dict of region -> DataArray ``(step, binding_energy_eV)``
    """
    from battlab.spectra.io import read_vamas

    blocks = read_vamas(source, name=name)
    regions: dict[str, list] = {}
    for spec in blocks.values():
        region = f"{spec.attrs.get('species', '')} {spec.attrs.get('transition', '')}".strip()
        regions.setdefault(region, []).append(spec)
    regions = {r: steps for r, steps in regions.items() if r.lower() != "survey" and "su1s" not in r.lower()}
    counts = {len(v) for v in regions.values()}
    if not regions:
        raise MissingDataError("the VAMAS file holds no core-level regions (only surveys).")
    if len(counts) != 1:
        raise MissingDataError(f"the regions have different numbers of sputter steps "
                               f"({ {r: len(v) for r, v in regions.items()} }); keep one block per region and step.")
    n = counts.pop()
    if sputter_times_s is not None:
        times = np.asarray(sputter_times_s, float)
        if times.size != n:
            raise InvalidParameterError(f"{times.size} sputter times for {n} steps per region.")
    elif time_per_step_s is not None:
        if not (np.isfinite(time_per_step_s) and time_per_step_s > 0):
            raise InvalidParameterError(f"time_per_step_s must be > 0, got {time_per_step_s}.")
        times = np.arange(n) * float(time_per_step_s)
    else:
        first = next(iter(regions.values()))
        found = [_ETCH_TIME.search(str(s.attrs.get("block_id", ""))) for s in first]
        if not all(found):
            raise MissingDataError("the VAMAS blocks do not state their sputter (etch) times; give "
                                   "time_per_step_s or sputter_times_s.")
        times = np.array([float(m.group(1)) for m in found])
    steps = {}
    for region, specs in regions.items():
        if any("binding_energy_eV" not in s.dims for s in specs):  # e.g. a block whose axis label was damaged
            raise MissingDataError(f"{region}: a block has no binding-energy axis (its abscissa is "
                                   f"{[d for s in specs for d in s.dims if 'binding' not in d][:1]}); the depth "
                                   "series needs binding energies.")
        axis = specs[0]["binding_energy_eV"]
        if any(s.sizes["binding_energy_eV"] != axis.size for s in specs):
            raise InvalidParameterError(f"{region}: the sputter steps have different energy grids.")
        steps[region] = [s.assign_coords(binding_energy_eV=axis) for s in specs]
    first = next(iter(steps.values()))[0]
    return make_xps_depth_series(steps, sputter_time_s=times, meta=first.attrs.get("battlab"))


def read_xps_depth(source, *, name: str | None = None, **options) -> dict:
    """An XPS depth series from a VAMAS file (:func:`read_xps_depth_vamas`) or a long CSV
    (:func:`read_xps_depth_csv`), by extension (or by the VAMAS header for bytes)."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "")
    if isinstance(source, (bytes, bytearray)):
        is_vms = bytes(source[:40]).startswith(b"VAMAS")
    else:
        is_vms = Path(label).suffix.lower() == ".vms"
    if is_vms:
        return read_xps_depth_vamas(source, name=name, **options)
    return read_xps_depth_csv(source, name=name)


def xps_depth_profile(series: dict, *, rate_nm_s: float | None = None, components: dict | None = None,
                      rsf: dict | None = None, background: str = "shirley", **fit_options):
    """Atomic % of each element (and each species) after every sputter step.

    Parameters
    ----------
    series : dict of region -> DataArray ``(step, binding_energy_eV)``
        With a ``sputter_time_s`` coordinate on ``step`` (:func:`make_xps_depth_series`).
    rate_nm_s : float, optional
        Sputter rate; adds ``depth_nm`` = rate × sputter time.
    components : dict of region -> components, optional
        Per region a :data:`battlab.spectra.SEI_COMPONENTS` key or a component list;
        default the region's name (``"C 1s"``, ``"F 1s"``, ``"O 1s"``, ``"Li 1s"``, ``"P 2p"``).
    rsf : dict, optional
        Sensitivity factors (default Scofield, :data:`battlab.spectra.RSF_SCOFIELD`).
    background : str
        XPS background (``"shirley"``, ``"tougaard"``, ``"linear"``).
    **fit_options
        Passed to :func:`battlab.spectra.fit_xps`.

    Returns
    -------
    atomic : DataFrame
        Wide: ``step``, ``sputter_time_s``, (``depth_nm``), then ``<element>_at_pct``.
    species : DataFrame
        Long: one row per step and fitted species with ``area``, ``fraction``,
        ``fraction_in_element`` and ``at_pct`` (of all species).
    """
    from battlab.spectra.xps import composition, fit_xps

    if not series:
        raise MissingDataError("no XPS regions given.")
    first = next(iter(series.values()))
    if "step" not in first.dims or "sputter_time_s" not in first.coords:
        raise InvalidParameterError("an XPS depth series is {region: DataArray (step, binding_energy_eV)} with "
                                    "sputter_time_s on step (make_xps_depth_series or read_xps_depth_csv).")
    n = first.sizes["step"]
    if any(s.sizes.get("step") != n for s in series.values()):
        raise InvalidParameterError("every region needs the same number of sputter steps.")
    if rate_nm_s is not None and not (np.isfinite(rate_nm_s) and rate_nm_s > 0):
        raise InvalidParameterError(f"the sputter rate must be > 0 nm/s, got {rate_nm_s}.")
    times = first["sputter_time_s"].to_numpy().astype(float)
    comps = components or {}
    rows, species = [], []
    for i in range(n):
        fits = [fit_xps(s.isel(step=i), comps.get(region, region), background=background, **fit_options)
                for region, s in series.items()]
        table = composition(fits, rsf=rsf)
        table.insert(0, "step", i)
        table.insert(1, "sputter_time_s", times[i])
        species.append(table)
        key = table["element"].fillna(table["region"])
        per_element = table.groupby(key)["fraction"].sum()
        row = {"step": i, "sputter_time_s": times[i]}
        row.update({f"{el}_at_pct": 100.0 * v for el, v in per_element.items()})
        rows.append(row)
    atomic = pd.DataFrame(rows)
    species = pd.concat(species, ignore_index=True)
    species["at_pct"] = 100.0 * species["fraction"]
    if rate_nm_s is not None:
        atomic.insert(2, "depth_nm", atomic["sputter_time_s"] * rate_nm_s)
        species.insert(2, "depth_nm", species["sputter_time_s"] * rate_nm_s)
    atomic.attrs["battlab"] = {"analysis": "battlab.depth.xps_depth_profile",
                               "parameters": {"rate_nm_s": rate_nm_s, "background": background,
                                              "regions": list(series), "rsf": rsf or "Scofield (Al Kα)"}}
    return atomic, species


def xps_depth_long(atomic: pd.DataFrame) -> pd.DataFrame:
    """Tidy form of the atomic table: one row per step and element."""
    ids = [c for c in ("step", "sputter_time_s", "depth_nm") if c in atomic]
    long = atomic.melt(id_vars=ids, var_name="element", value_name="at_pct")
    long["element"] = long["element"].str.replace("_at_pct", "", regex=False)
    return long
