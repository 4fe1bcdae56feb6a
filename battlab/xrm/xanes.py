"""XANES imaging: an image at every energy across an absorption edge → chemical maps.

The stack is a DataArray ``(energy_eV, y, x)`` of absorbance (−ln I/I0) with ``y_um``
and ``x_um`` coordinates. Every pixel's spectrum is normalised the way
:func:`battlab.spectra.normalize_xas` normalises one spectrum (same pre/post-edge
polynomials, solved for all pixels at once), then mapped: edge energy (half step),
white-line energy and height, and a non-negative linear-combination fit against two
or more reference spectra (:func:`battlab.series.linear_combination_fit`) whose
fraction of the charged end member is a state-of-charge map. PCA of the pixel spectra
(:func:`battlab.series.pca`) counts how many components the stack holds.

Maps are 2-D DataArrays ``(y, x)`` with ``y_um``, ``x_um`` and attrs ``pixel_size_um``
and ``units``; pixels outside the sample (edge step below ``min_step_fraction`` of the
largest) are NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["make_xanes_stack_array", "normalize_stack", "edge_energy_map", "white_line_map", "lcf_maps",
           "particle_soc", "soc_histogram", "stack_pca", "sample_mask"]


def make_xanes_stack_array(data, *, energies_eV, pixel_size_um: float):
    """Wrap an (energy, y, x) array as a calibrated XANES stack."""
    import xarray as xr

    arr = np.asarray(data, float)
    e = np.asarray(energies_eV, float)
    if arr.ndim != 3 or arr.shape[0] != e.size:
        raise InvalidParameterError(f"a XANES stack is (energy, y, x) with one image per energy; got shape "
                                    f"{arr.shape} for {e.size} energies.")
    if pixel_size_um is None or not np.isfinite(pixel_size_um) or pixel_size_um <= 0:
        raise InvalidParameterError("pixel_size_um is required: the pixel size at the sample in µm.")
    order = np.argsort(e)
    ny, nx = arr.shape[1:]
    out = xr.DataArray(arr[order], dims=("energy_eV", "y", "x"),
                       coords={"energy_eV": e[order], "y_um": ("y", np.arange(ny) * pixel_size_um),
                               "x_um": ("x", np.arange(nx) * pixel_size_um)},
                       name="absorbance", attrs={"units": "-ln(I/I0)", "pixel_size_um": float(pixel_size_um)})
    out["energy_eV"].attrs["units"] = "eV"
    return out


def _check(stack):
    if not hasattr(stack, "dims") or tuple(stack.dims) != ("energy_eV", "y", "x"):
        raise InvalidParameterError("expected a XANES stack DataArray with dims (energy_eV, y, x) "
                                    "(see battlab.xrm.make_xanes_stack_array).")
    if stack.sizes["energy_eV"] < 8:
        raise MissingDataError(f"the stack has {stack.sizes['energy_eV']} energies; at least 8 are needed.")


def _map(stack, values, name, units, **attrs):
    import xarray as xr

    px = float(stack.attrs.get("pixel_size_um", np.nan))
    out = xr.DataArray(values, dims=("y", "x"), name=name,
                       coords={"y_um": stack["y_um"], "x_um": stack["x_um"]},
                       attrs={"units": units, "pixel_size_um": px, **attrs})
    for c in ("y_um", "x_um"):
        out[c].attrs["units"] = "µm"
    return out


def _poly_eval(coef, x):
    # coef (order+1, n_pixels), highest power first -> values (n_x, n_pixels)
    return np.vander(np.atleast_1d(x), coef.shape[0]) @ coef


def normalize_stack(stack, *, e0: float | None = None, pre=(-20.0, -8.0), post=(15.0, 70.0), pre_order: int = 0,
                    post_order: int = 1, min_step_fraction: float = 0.1):
    """Pre-edge subtraction and edge-step normalisation of every pixel.

    Parameters
    ----------
    e0 : float, optional
        Edge energy for the fit ranges (default: :func:`battlab.spectra.find_e0` of the
        mean spectrum of the stack).
    pre, post : (float, float)
        Fit ranges relative to ``e0``, eV (narrow defaults suit a ~90 eV XANES scan).
    pre_order, post_order : int
        Polynomial degrees. The pre-edge default is a constant: an imaging scan has
        only ~10 pre-edge energies, and a fitted slope extrapolated 70 eV past the edge
        adds more noise to each pixel than the slope it removes.
    min_step_fraction : float
        Pixels whose edge step is below this fraction of the 99th-percentile step are
        background (NaN).

    Returns
    -------
    (DataArray, DataArray)
        The normalised stack and the edge-step map; attrs ``e0_eV``.
    """
    from battlab.spectra.xas import edge_polynomials, find_e0

    _check(stack)
    e = stack["energy_eV"].to_numpy().astype(float)
    arr = stack.to_numpy().astype(float)
    ne, ny, nx = arr.shape
    flat = arr.reshape(ne, -1)
    finite = np.all(np.isfinite(flat), axis=0)
    if not finite.any():
        raise MissingDataError("no pixel has a complete, finite spectrum.")
    if e0 is None:
        mean = stack.isel(y=0, x=0).copy(data=np.nanmean(flat[:, finite], axis=1))
        e0 = find_e0(mean)
    fits = edge_polynomials(e, flat[:, finite], float(e0), pre=pre, post=post, pre_order=pre_order,
                            post_order=post_order)
    pre_curve = _poly_eval(fits["pre"], e - e0)
    step = (_poly_eval(fits["post"], 0.0) - _poly_eval(fits["pre"], 0.0))[0]
    steps = np.full(flat.shape[1], np.nan)
    steps[finite] = step
    ref = np.nanpercentile(steps, 99)
    if not np.isfinite(ref) or ref <= 0:
        raise MissingDataError("no pixel shows an absorption edge step at E0; check e0 and the energy range.")
    sample = finite.copy()
    sample[finite] = step > float(min_step_fraction) * ref
    norm = np.full(flat.shape, np.nan)
    good = sample[finite]
    norm[:, sample] = (flat[:, finite][:, good] - pre_curve[:, good]) / step[good]
    out = stack.copy(data=norm.reshape(ne, ny, nx))
    out.name = "normalized_mu"
    out.attrs.update(units="normalized mu(E)", e0_eV=float(e0), pre=tuple(pre), post=tuple(post),
                     pre_order=int(pre_order), post_order=int(post_order))
    step_map = _map(stack, np.where(sample, steps, np.nan).reshape(ny, nx), "edge_step", stack.attrs.get(
        "units", "absorbance"), e0_eV=float(e0))
    return out, step_map


def sample_mask(norm):
    """Pixels with a normalised spectrum (inside the sample), as a (y, x) bool array."""
    return np.all(np.isfinite(norm.to_numpy()), axis=0)


def edge_energy_map(norm, *, level: float = 0.5, search_eV=(-15.0, 15.0)):
    """Energy where each pixel's normalised μ first reaches ``level`` near E0, eV.

    Linear interpolation between the two energies around the crossing; pixels without a
    crossing in ``e0 + search_eV`` are NaN.
    """
    e = norm["energy_eV"].to_numpy().astype(float)
    e0 = float(norm.attrs.get("e0_eV", np.median(e)))
    arr = norm.to_numpy().reshape(e.size, -1)
    win = (e[:-1] >= e0 + min(search_eV)) & (e[1:] <= e0 + max(search_eV))
    below, above = arr[:-1] < level, arr[1:] >= level
    cross = below & above & win[:, None]
    has = cross.any(axis=0)
    i = np.argmax(cross, axis=0)
    cols = np.arange(arr.shape[1])
    y0, y1 = arr[i, cols], arr[i + 1, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        energy = e[i] + (level - y0) / (y1 - y0) * (e[i + 1] - e[i])
    energy[~has] = np.nan
    ny, nx = norm.sizes["y"], norm.sizes["x"]
    return _map(norm, energy.reshape(ny, nx), "edge_energy", "eV", level=level)


def white_line_map(norm, *, window_eV=(-5.0, 30.0)):
    """Energy (eV) and height of each pixel's white line (maximum of normalised μ near E0).

    Returns
    -------
    (DataArray, DataArray)
        White-line energy map and height map.
    """
    e = norm["energy_eV"].to_numpy().astype(float)
    e0 = float(norm.attrs.get("e0_eV", np.median(e)))
    sel = (e >= e0 + min(window_eV)) & (e <= e0 + max(window_eV))
    if sel.sum() < 3:
        raise MissingDataError("the white-line window holds fewer than three energies.")
    arr = norm.to_numpy()[sel].reshape(int(sel.sum()), -1)
    ok = np.all(np.isfinite(arr), axis=0)
    k = np.argmax(np.where(ok, arr, -np.inf), axis=0)
    energy = np.where(ok, e[sel][k], np.nan)
    height = np.where(ok, arr[k, np.arange(arr.shape[1])], np.nan)
    ny, nx = norm.sizes["y"], norm.sizes["x"]
    return (_map(norm, energy.reshape(ny, nx), "white_line_energy", "eV"),
            _map(norm, height.reshape(ny, nx), "white_line_height", "normalized mu(E)"))


def _normalized_references(norm, references):
    """References normalised exactly like the pixels (same E0, ranges and orders)."""
    import xarray as xr

    from battlab.spectra.xas import normalize_xas

    out = {}
    opts = {k: norm.attrs[k] for k in ("pre", "post", "pre_order", "post_order") if k in norm.attrs}
    for name, ref in references.items():
        if not hasattr(ref, "dims"):
            x, y = (np.asarray(v, float) for v in ref)
            ref = xr.DataArray(y, dims=("energy_eV",), coords={"energy_eV": x})
        out[name], _ = normalize_xas(ref, e0=norm.attrs.get("e0_eV"), **opts)
    return out


def lcf_maps(norm, references: dict, *, charged: str | None = None, window=None,
             normalize_references: bool = True):
    """Non-negative linear-combination fit of every pixel → fraction maps and residuals.

    Parameters
    ----------
    norm : DataArray (energy_eV, y, x)
        Normalised stack (:func:`normalize_stack`).
    references : dict of name -> DataArray over ``energy_eV`` (or (x, y))
        Two or more normalised end-member spectra.
    charged : str, optional
        Reference whose fraction is the state of charge (default: the last one).
    window : (float, float), optional
        Energy range fitted.
    normalize_references : bool
        Normalise the references with the stack's E0, ranges and orders first, so that
        pixels and references share one edge-step definition (recommended; turn off for
        references already normalised that way).

    Returns
    -------
    dict
        ``fractions``: name -> map (weights divided by their sum); ``soc``: the charged
        fraction map; ``r_factor``: map of Σ residual²/Σ data²; ``weight_sum``: map of
        the summed weights (≈ 1 for a well-normalised pixel); ``model``: fitted stack;
        ``references``: the reference spectra as fitted;
        ``table``: the per-pixel fit table.
    """
    import xarray as xr

    from battlab.series import linear_combination_fit

    if len(references) < 2:
        raise MissingDataError("a state-of-charge map needs at least two reference spectra.")
    charged = list(references)[-1] if charged is None else charged
    if charged not in references:
        raise InvalidParameterError(f"charged={charged!r} is not one of the references {list(references)}.")
    ne, ny, nx = norm.shape
    inside = sample_mask(norm).ravel()
    if not inside.any():
        raise MissingDataError("no pixel has a normalised spectrum to fit.")
    e = norm["energy_eV"].to_numpy()
    pixels = norm.to_numpy().reshape(ne, -1)[:, inside].T
    series = xr.DataArray(pixels, dims=("time", "energy_eV"),
                          coords={"time": np.flatnonzero(inside), "energy_eV": e})
    if normalize_references:
        references = _normalized_references(norm, references)
    fit = linear_combination_fit(series, references, normalize=True, window=window)
    table = fit.weights

    def full(values):
        out = np.full(ny * nx, np.nan)
        out[inside] = values
        return out.reshape(ny, nx)

    fractions = {name: _map(norm, full(table[f"{name}_fraction"].to_numpy()), f"{name}_fraction", "fraction")
                 for name in references}
    model = np.full((ne, ny * nx), np.nan)
    model[:, inside] = fit.model.T
    soc = fractions[charged].copy()
    soc.name, soc.attrs["charged"] = "soc", charged
    return {"fractions": fractions, "soc": soc, "references": references,
            "r_factor": _map(norm, full(table["r_factor"].to_numpy()), "r_factor", "1"),
            "weight_sum": _map(norm, full(table["sum"].to_numpy()), "weight_sum", "1"),
            "model": norm.copy(data=model.reshape(ne, ny, nx)), "table": table}


def particle_soc(soc, particles) -> pd.DataFrame:
    """Mean, spread and size of the SOC in each labelled particle.

    Returns
    -------
    DataFrame
        ``particle``, ``n_pixels``, ``area_um2``, ``mean_soc``, ``std_soc``,
        ``median_soc``.
    """
    s = np.asarray(getattr(soc, "values", soc), float)
    lab = np.asarray(getattr(particles, "values", particles)).astype(int)
    if s.shape != lab.shape:
        raise InvalidParameterError(f"the SOC map {s.shape} and the particle labels {lab.shape} differ in shape.")
    px = float(getattr(soc, "attrs", {}).get("pixel_size_um", np.nan))
    rows = []
    for k in np.unique(lab[lab > 0]):
        v = s[(lab == k) & np.isfinite(s)]
        if v.size == 0:
            continue
        rows.append({"particle": int(k), "n_pixels": int(v.size), "area_um2": v.size * px ** 2,
                     "mean_soc": float(v.mean()), "std_soc": float(v.std()), "median_soc": float(np.median(v))})
    return pd.DataFrame(rows, columns=["particle", "n_pixels", "area_um2", "mean_soc", "std_soc", "median_soc"])


def soc_histogram(soc, *, bins: int = 20) -> pd.DataFrame:
    """Pixel histogram of a SOC map over 0–1."""
    v = np.asarray(getattr(soc, "values", soc), float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise MissingDataError("the SOC map has no finite pixel.")
    counts, edges = np.histogram(np.clip(v, 0, 1), bins=int(bins), range=(0, 1))
    return pd.DataFrame({"soc": 0.5 * (edges[1:] + edges[:-1]), "pixels": counts, "fraction": counts / v.size})


def stack_pca(norm, *, n_components: int = 4):
    """PCA of the pixel spectra; returns the :class:`battlab.series.PCAResult` and score maps.

    Returns
    -------
    (PCAResult, dict of name -> map)
    """
    import xarray as xr

    from battlab.series import pca

    ne, ny, nx = norm.shape
    inside = sample_mask(norm).ravel()
    if inside.sum() < 3:
        raise MissingDataError("PCA needs at least three sample pixels.")
    pixels = norm.to_numpy().reshape(ne, -1)[:, inside].T
    series = xr.DataArray(pixels, dims=("time", "energy_eV"),
                          coords={"time": np.flatnonzero(inside), "energy_eV": norm["energy_eV"].to_numpy()})
    result = pca(series, n_components=n_components)
    maps = {}
    for name in result.scores.columns:
        if not name.startswith("pc"):
            continue
        full = np.full(ny * nx, np.nan)
        full[inside] = result.scores[name].to_numpy()
        maps[name] = _map(norm, full.reshape(ny, nx), f"{name}_score", "a.u.")
    return result, maps
