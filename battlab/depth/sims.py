"""ToF-SIMS depth profiles and 3-D ion maps.

A depth profile is counts per secondary-ion fragment against sputter time. Depth is
``sputter rate × time``, with the rate from a crater depth measured afterwards
(profilometry), given directly, or from a reference layer whose interface depth is
known. Interfaces are where a marker fragment crosses halfway between its plateaus (or
where its gradient peaks); the distance between a marker's interfaces is its layer's
thickness (e.g. an organic outer SEI marked by C₂H⁻ over a LiF-rich inner SEI marked
by LiF⁻). Constant sputter rate through all layers is assumed: layers that sputter at
different rates need their own rates (see :func:`calibrate_depth`'s ``rate_nm_s``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from battlab.depth.profiles import find_interfaces, layer_bounds, numeric_column, read_table
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["read_sims_profile", "sims_fragments", "calibrate_depth", "normalize_profile", "fragment_ratio",
           "sims_interfaces", "layer_thicknesses", "sims_long", "ion_maps", "read_sims_maps", "ratio_map",
           "depth_slice", "lateral_average"]

_TIME_NAMES = ("sputter_time_s", "time", "sputter time", "t (s)", "time (s)", "sputter time (s)", "time_s")
_AXES = ("sputter_time_s", "depth_nm", "scan", "cycle")


def _is_axis(col: str) -> bool:
    c = col.lower().strip()
    return c in _TIME_NAMES or c.startswith(("time", "sputter", "depth", "scan", "cycle"))


def read_sims_profile(source, *, name: str | None = None, time_column: str | None = None,
                      time_per_scan_s: float | None = None) -> pd.DataFrame:
    """A ToF-SIMS depth profile exported as CSV: sputter time then one column per fragment.

    Parameters
    ----------
    source : path, bytes or DataFrame
        First column (or ``time_column``) sputter time in s, or scan number with
        ``time_per_scan_s``; the other numeric columns are fragment counts, named as in
        the export (``LiF-``, ``C2H-``, ``Li+``…).
    time_column : str, optional
        Name of the time column when it is not the first.
    time_per_scan_s : float, optional
        Sputter time per scan when the axis is a scan/cycle number.

    Returns
    -------
    DataFrame
        ``sputter_time_s`` then one column per fragment; ``attrs["battlab"]`` names the
        source and ``attrs["fragments"]`` lists the fragments.
    """
    frame = read_table(source, name=name, what="ToF-SIMS depth profile")
    cols = list(frame.columns)
    tcol = time_column if time_column is not None else cols[0]
    if tcol not in frame:
        raise MissingDataError(f"no column {tcol!r}; the columns are {cols}.")
    t = numeric_column(frame, tcol, what="ToF-SIMS depth profile")
    low = tcol.lower()
    if "scan" in low or "cycle" in low:
        if time_per_scan_s is None:
            raise MissingDataError(f"the axis {tcol!r} counts scans: give time_per_scan_s (sputter s per scan).")
        t = t * float(time_per_scan_s)
    elif "min" in low:
        t = t * 60.0
    fragments = [c for c in cols if c != tcol and not _is_axis(c)
                 and pd.to_numeric(frame[c], errors="coerce").notna().any()]
    if not fragments:
        raise MissingDataError("the profile has no fragment columns (one numeric column per ion).")
    out = pd.DataFrame({"sputter_time_s": t})
    for c in fragments:
        out[c] = pd.to_numeric(frame[c], errors="coerce").to_numpy(float)
    out = out[np.isfinite(out["sputter_time_s"])].sort_values("sputter_time_s", ignore_index=True)
    out.attrs["battlab"] = frame.attrs.get("battlab", {})
    out.attrs["fragments"] = fragments
    return out


def sims_fragments(profile: pd.DataFrame) -> list:
    """The fragment columns of a profile (everything but the axes)."""
    frags = profile.attrs.get("fragments")
    if frags:
        return [f for f in frags if f in profile]
    return [c for c in profile.columns if c not in _AXES and c != "total"]


def _check_fragment(profile, fragment):
    if fragment not in profile:
        raise MissingDataError(f"no fragment {fragment!r} in the profile; it has {sims_fragments(profile)}.")


def calibrate_depth(profile: pd.DataFrame, *, rate_nm_s: float | None = None, crater_depth_nm: float | None = None,
                    reference_depth_nm: float | None = None, reference_fragment: str | None = None,
                    reference_method: str = "half"):
    """Add ``depth_nm`` to a profile from one of three sputter-rate calibrations.

    Parameters
    ----------
    profile : DataFrame
        From :func:`read_sims_profile`.
    rate_nm_s : float, optional
        A known sputter rate, nm/s.
    crater_depth_nm : float, optional
        Crater depth measured after the profile (profilometry): rate = depth / total
        sputter time.
    reference_depth_nm, reference_fragment : optional
        A reference with a known interface: rate = known depth / time of the first
        interface of ``reference_fragment`` (halfway crossing or steepest gradient).

    Returns
    -------
    profile : DataFrame
        A copy with ``depth_nm`` after ``sputter_time_s``.
    calibration : dict
        ``method``, ``rate_nm_s`` and the inputs used.
    """
    given = [v is not None for v in (rate_nm_s, crater_depth_nm, reference_depth_nm)]
    if sum(given) != 1:
        raise InvalidParameterError("give exactly one calibration: rate_nm_s, crater_depth_nm, or "
                                    "reference_depth_nm with reference_fragment.")
    t = profile["sputter_time_s"].to_numpy(float)
    if rate_nm_s is not None:
        rate, cal = float(rate_nm_s), {"method": "sputter rate"}
    elif crater_depth_nm is not None:
        total = float(t.max() - min(0.0, t.min()))
        if not total > 0:
            raise InvalidParameterError("the profile has no sputter time to spread the crater depth over.")
        rate = float(crater_depth_nm) / total
        cal = {"method": "crater depth", "crater_depth_nm": float(crater_depth_nm), "total_time_s": total}
    else:
        if reference_fragment is None:
            raise MissingDataError("a reference calibration needs reference_fragment (the fragment whose "
                                   "interface is at reference_depth_nm).")
        _check_fragment(profile, reference_fragment)
        found = find_interfaces(t, profile[reference_fragment].to_numpy(float), method=reference_method)
        if found.empty:
            raise MissingDataError(f"{reference_fragment} shows no interface; pick the reference layer's marker.")
        t_int = float(found["position"].iloc[0])
        if not t_int > 0:
            raise InvalidParameterError("the reference interface is at zero sputter time.")
        rate = float(reference_depth_nm) / t_int
        cal = {"method": "reference interface", "reference_depth_nm": float(reference_depth_nm),
               "reference_fragment": reference_fragment, "interface_time_s": t_int}
    if not (np.isfinite(rate) and rate > 0):
        raise InvalidParameterError(f"the sputter rate must be > 0 nm/s, got {rate}.")
    out = profile.copy()
    out.insert(1, "depth_nm", t * rate)
    out.attrs = dict(profile.attrs)
    cal["rate_nm_s"] = rate
    out.attrs["calibration"] = cal
    return out, cal


def normalize_profile(profile: pd.DataFrame, *, to: str = "total") -> pd.DataFrame:
    """Fragment counts divided by the total counts of all fragments or by a matrix fragment.

    ``to="total"`` divides by the sum of every fragment at each sputter time (a
    primary-current drift cancels); ``to="<fragment>"`` by that fragment. Points where
    the divisor is zero become NaN.
    """
    frags = sims_fragments(profile)
    if to == "total":
        div = profile[frags].sum(axis=1).to_numpy(float)
    else:
        _check_fragment(profile, to)
        div = profile[to].to_numpy(float)
    out = profile.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for f in frags:
            out[f] = np.where(div > 0, profile[f].to_numpy(float) / np.where(div > 0, div, 1.0), np.nan)
    out.attrs = dict(profile.attrs, normalized_to=to)
    return out


def _safe_ratio(a, b):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def fragment_ratio(profile: pd.DataFrame, numerator: str, denominator: str) -> pd.Series:
    """Ratio of two fragments at every sputter time (NaN where the denominator is zero)."""
    _check_fragment(profile, numerator)
    _check_fragment(profile, denominator)
    return pd.Series(_safe_ratio(profile[numerator], profile[denominator]), index=profile.index,
                     name=f"{numerator}/{denominator}")


def _axis(profile, axis):
    if axis is None:
        axis = "depth_nm" if "depth_nm" in profile else "sputter_time_s"
    if axis not in profile:
        raise MissingDataError(f"the profile has no {axis!r}; calibrate the depth first (calibrate_depth).")
    return axis


def sims_interfaces(profile: pd.DataFrame, fragments=None, *, axis: str | None = None,
                    method: str = "half") -> pd.DataFrame:
    """Interfaces of each fragment's profile (see :func:`battlab.depth.profiles.find_interfaces`).

    Returns
    -------
    DataFrame
        ``fragment``, ``position`` (in ``axis`` units), ``axis``, ``direction``, ``level``.
    """
    axis = _axis(profile, axis)
    frames = []
    for f in ([fragments] if isinstance(fragments, str) else (fragments or sims_fragments(profile))):
        _check_fragment(profile, f)
        found = find_interfaces(profile[axis].to_numpy(float), profile[f].to_numpy(float), method=method)
        found.insert(0, "fragment", f)
        found.insert(2, "axis", axis)
        frames.append(found)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def layer_thicknesses(profile: pd.DataFrame, markers: dict, *, axis: str | None = None,
                      method: str = "half") -> pd.DataFrame:
    """Thickness of each layer from the fragment that marks it.

    Parameters
    ----------
    markers : dict of layer -> fragment (or "A/B" for a ratio)
        E.g. ``{"organic (outer)": "C2H-", "LiF-rich (inner)": "LiF-"}``.

    Returns
    -------
    DataFrame
        ``layer``, ``marker``, ``top``, ``bottom``, ``thickness`` and ``units``.
    """
    axis = _axis(profile, axis)
    x = profile[axis].to_numpy(float)
    rows = []
    for layer, marker in markers.items():
        if marker in profile:
            y = profile[marker].to_numpy(float)
        elif "/" in marker:
            y = fragment_ratio(profile, *marker.split("/", 1)).to_numpy()
        else:
            _check_fragment(profile, marker)
        top, bottom = layer_bounds(x, y, method=method)
        rows.append({"layer": layer, "marker": marker, "top": top, "bottom": bottom, "thickness": bottom - top,
                     "units": "nm" if axis == "depth_nm" else "s"})
    return pd.DataFrame(rows)


def sims_long(profile: pd.DataFrame) -> pd.DataFrame:
    """Tidy (long) form: one row per sputter time and fragment."""
    ids = [c for c in ("sputter_time_s", "depth_nm") if c in profile]
    return profile.melt(id_vars=ids, value_vars=sims_fragments(profile), var_name="fragment", value_name="counts")


# --------------------------------------------------------------------------- 3-D maps


def ion_maps(arrays: dict, *, pixel_size_um: float, depth_per_scan_nm: float | None = None):
    """Stack per-fragment ion images into one labelled array.

    Parameters
    ----------
    arrays : dict of fragment -> array ``(scan, y, x)`` or ``(y, x)``
        One 3-D stack (or 2-D map) per fragment, all of one shape.
    pixel_size_um : float
        Lateral pixel size, µm.
    depth_per_scan_nm : float, optional
        Sputtered depth per scan (rate × sputter time per scan); without it the depth
        axis is the scan number.

    Returns
    -------
    DataArray
        ``(fragment, depth, y, x)`` counts with ``depth_nm`` (or ``scan``), ``y_um`` and
        ``x_um`` coordinates.
    """
    if not arrays:
        raise MissingDataError("no ion maps given; give one stack per fragment.")
    if not (np.isfinite(pixel_size_um) and pixel_size_um > 0):
        raise InvalidParameterError(f"pixel_size_um must be > 0, got {pixel_size_um}.")
    stacks = {}
    for name, a in arrays.items():
        v = np.asarray(getattr(a, "values", a), float)
        if v.ndim == 2:
            v = v[None]
        if v.ndim != 3:
            raise InvalidParameterError(f"ion map {name!r} must be 2-D (y, x) or 3-D (scan, y, x), got {v.shape}.")
        stacks[name] = v
    shapes = {v.shape for v in stacks.values()}
    if len(shapes) != 1:
        raise InvalidParameterError(f"all ion maps need one shape, got {sorted(shapes)}.")
    nz, ny, nx = shapes.pop()
    coords = {"fragment": list(stacks), "y_um": np.arange(ny) * pixel_size_um, "x_um": np.arange(nx) * pixel_size_um,
              "scan": ("depth", np.arange(nz))}
    if depth_per_scan_nm is not None:
        if not depth_per_scan_nm > 0:
            raise InvalidParameterError(f"depth_per_scan_nm must be > 0, got {depth_per_scan_nm}.")
        coords["depth_nm"] = ("depth", (np.arange(nz) + 0.5) * float(depth_per_scan_nm))
    data = np.stack(list(stacks.values()))
    return xr.DataArray(data, dims=("fragment", "depth", "y_um", "x_um"), coords=coords,
                        attrs={"units": "counts", "kind": "sims_map", "pixel_size_um": float(pixel_size_um),
                               "depth_per_scan_nm": depth_per_scan_nm})


def read_sims_maps(sources: dict, *, pixel_size_um: float, depth_per_scan_nm: float | None = None):
    """Read one multi-page TIFF, ``.npy`` or HDF5 stack per fragment (read-only, no pickles).

    Parameters
    ----------
    sources : dict of fragment -> path or (path, dataset)
        ``(path, dataset)`` picks an HDF5 dataset (e.g. one file holding every fragment).

    Returns
    -------
    DataArray
        As :func:`ion_maps`, with the sources' names and sha256 in ``attrs["inputs"]``.
    """
    from battlab.provenance import file_input
    from battlab.xrm.io import open_volume

    arrays, inputs = {}, []
    for fragment, src in sources.items():
        path, dataset = (src if isinstance(src, tuple) else (src, None))
        vol = open_volume(Path(path), voxel_size_um=(1.0, pixel_size_um, pixel_size_um), dataset=dataset,
                          hash_source=False)
        arrays[fragment] = np.asarray(vol.values)
        inputs.append({**file_input(path), "dataset": dataset, "fragment": fragment})
    out = ion_maps(arrays, pixel_size_um=pixel_size_um, depth_per_scan_nm=depth_per_scan_nm)
    out.attrs["inputs"] = inputs
    return out


def _check_map_fragment(stack, fragment):
    if fragment not in list(stack["fragment"].values):
        raise MissingDataError(f"no fragment {fragment!r} in the maps; they hold {list(stack['fragment'].values)}.")


def _depth_sel(stack, depth_range):
    if depth_range is None:
        return stack
    lo, hi = depth_range
    key = "depth_nm" if "depth_nm" in stack.coords else "scan"
    d = stack[key].to_numpy()
    sel = (d >= lo) & (d <= hi)
    if not sel.any():
        raise MissingDataError(f"no scan between {lo} and {hi} ({key}).")
    return stack.isel(depth=np.nonzero(sel)[0])


def ratio_map(stack, numerator: str, denominator: str, *, depth_range=None, per_slice: bool = False):
    """Ratio of two fragments' maps (NaN where the denominator is zero).

    With ``per_slice`` the ratio is taken in every depth slice (3-D); otherwise the
    counts are summed over the depth range first (2-D map).
    """
    _check_map_fragment(stack, numerator)
    _check_map_fragment(stack, denominator)
    sub = _depth_sel(stack, depth_range)
    a, b = sub.sel(fragment=numerator), sub.sel(fragment=denominator)
    if not per_slice:
        a, b = a.sum("depth"), b.sum("depth")
    out = xr.DataArray(_safe_ratio(a.values, b.values), dims=a.dims, coords=a.coords,
                       attrs={"units": "ratio", "long_name": f"{numerator}/{denominator}"})
    return out.drop_vars("fragment", errors="ignore")


def depth_slice(stack, depth_nm: float):
    """The scan nearest ``depth_nm`` (or scan index when the stack has no depth scale)."""
    key = "depth_nm" if "depth_nm" in stack.coords else "scan"
    i = int(np.argmin(np.abs(stack[key].to_numpy() - float(depth_nm))))
    return stack.isel(depth=i)


def lateral_average(stack, *, roi=None, mask=None) -> pd.DataFrame:
    """Depth profile of the maps averaged laterally (whole field, a box or a mask).

    Parameters
    ----------
    roi : (y0, y1, x0, x1) in µm, optional
    mask : boolean array (y, x), optional

    Returns
    -------
    DataFrame
        ``scan``, ``depth_nm`` (when calibrated), then the mean counts per pixel of each
        fragment; usable by :func:`sims_interfaces` and :func:`layer_thicknesses`.
    """
    sub = stack
    if roi is not None:
        y0, y1, x0, x1 = roi
        sub = stack.sel(y_um=slice(y0, y1), x_um=slice(x0, x1))
        if sub.sizes["y_um"] == 0 or sub.sizes["x_um"] == 0:
            raise MissingDataError(f"the region {roi} holds no pixels.")
    if mask is not None:
        m = np.asarray(mask, bool)
        if m.shape != (sub.sizes["y_um"], sub.sizes["x_um"]):
            raise InvalidParameterError(f"mask shape {m.shape} does not match the maps {sub.shape[-2:]}.")
        if not m.any():
            raise MissingDataError("the mask selects no pixel.")
        mean = sub.where(xr.DataArray(m, dims=("y_um", "x_um"))).mean(("y_um", "x_um"))
    else:
        mean = sub.mean(("y_um", "x_um"))
    out = pd.DataFrame({"scan": stack["scan"].to_numpy()})
    if "depth_nm" in stack.coords:
        out["depth_nm"] = stack["depth_nm"].to_numpy()
    for f in stack["fragment"].values:
        out[str(f)] = mean.sel(fragment=f).to_numpy()
    out.attrs["fragments"] = [str(f) for f in stack["fragment"].values]
    return out
