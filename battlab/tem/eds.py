"""EDS (energy-dispersive X-ray spectroscopy) in the (S)TEM: spectra and spectrum images.

* :func:`calibrate_eds_energy` — offset and gain from two known lines;
* :func:`line_intensity` — net counts of one X-ray line: a window of ±``window_fwhm`` ×
  the detector FWHM at that energy, with the background under it from windows either side
  (linear or power law); a side window that would sit on another tabulated line of the
  elements analysed is dropped;
* :func:`line_table` / :func:`cliff_lorimer` — net counts per element and thin-film
  Cliff–Lorimer quantification, C_A/C_B = k_AB · I_A/I_B;
* :func:`eds_element_maps` — the same line integration for every pixel of a spectrum
  image, chunk by chunk when the cube is dask-backed (never loaded whole), returned as a
  :mod:`battlab.elements` map stack so its ratio, fraction and phase tools apply;
* :func:`composition_maps` — Cliff–Lorimer at.% maps via
  :func:`battlab.elements.analysis.fraction_maps` (k-factors as sensitivities).

PCA/NMF of an EDS spectrum image is :func:`battlab.tem.eels.decompose_spectrum_image`
(one implementation for both spectroscopies).

Energies are tabulated X-ray emission energies (eV, rounded to 1 eV). The default
k-factors (:data:`K_FACTORS`, relative to Si Kα = 1) are APPROXIMATE values of the size
reported for 200 kV thin-film measurements with a Si-drift detector; they depend on the
detector, its window and the voltage, so measure them on a standard of known composition
and pass your own ``k_factors=`` for quantitative work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["K_FACTORS", "XRAY_LINES", "calibrate_eds_energy", "cliff_lorimer", "composition_maps",
           "detector_fwhm_eV", "eds_element_maps", "line_intensity", "line_table", "line_windows"]

#: element -> {line: energy in eV} (K and L lines of elements met in Li-ion cells)
XRAY_LINES = {
    "C": {"Ka": 277}, "N": {"Ka": 392}, "O": {"Ka": 525}, "F": {"Ka": 677}, "Na": {"Ka": 1041},
    "Mg": {"Ka": 1254}, "Al": {"Ka": 1487, "Kb": 1557}, "Si": {"Ka": 1740, "Kb": 1836},
    "P": {"Ka": 2013, "Kb": 2139}, "S": {"Ka": 2307, "Kb": 2464}, "Cl": {"Ka": 2622, "Kb": 2816},
    "Ti": {"Ka": 4511, "Kb": 4932, "La": 452}, "V": {"Ka": 4952, "Kb": 5427, "La": 511},
    "Mn": {"Ka": 5899, "Kb": 6490, "La": 637}, "Fe": {"Ka": 6404, "Kb": 7058, "La": 705},
    "Co": {"Ka": 6930, "Kb": 7649, "La": 776}, "Ni": {"Ka": 7478, "Kb": 8265, "La": 852},
    "Cu": {"Ka": 8048, "Kb": 8905, "La": 930}, "Zn": {"Ka": 8639, "Kb": 9572, "La": 1012},
}

#: APPROXIMATE Cliff–Lorimer k-factors k_(X,Si) of the K lines (see the module note): replace
#: them by values measured on a standard.
K_FACTORS = {"C": 4.0, "N": 3.2, "O": 2.0, "F": 1.6, "Na": 1.2, "Mg": 1.0, "Al": 0.95, "Si": 1.0, "P": 1.05,
             "S": 1.05, "Cl": 1.1, "Ti": 1.1, "V": 1.15, "Mn": 1.25, "Fe": 1.3, "Co": 1.4, "Ni": 1.45, "Cu": 1.6,
             "Zn": 1.7}


def detector_fwhm_eV(energy_eV, *, fwhm_mn_ka_eV: float = 130.0):
    """Detector resolution at ``energy_eV``: FWHM² = FWHM(Mn Kα)² + 2.5 eV·(E − 5899 eV).

    The 2.5 eV factor is 8 ln2 · ε · F for silicon (ε = 3.8 eV per pair, Fano factor ≈
    0.1); 130 eV at Mn Kα is a typical silicon-drift detector.
    """
    e = np.asarray(energy_eV, float)
    return np.sqrt(np.clip(fwhm_mn_ka_eV ** 2 + 2.5 * (e - 5899.0), 30.0 ** 2, None))


def _line_energy(element: str, line: str = "Ka") -> float:
    if element not in XRAY_LINES:
        raise InvalidParameterError(f"no X-ray lines tabulated for {element!r}; known: {', '.join(XRAY_LINES)}.")
    lines = XRAY_LINES[element]
    if line not in lines:
        raise InvalidParameterError(f"{element} has no {line} line in the table ({', '.join(lines)}).")
    return float(lines[line])


def _parse(item):
    """'Ni' -> ('Ni', 'Ka'); 'Mn La' -> ('Mn', 'La')."""
    parts = str(item).split()
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "Ka")


def _axis(spectrum):
    if "energy_eV" not in getattr(spectrum, "coords", {}):
        raise MissingDataError("the EDS spectrum has no energy_eV axis (open it with battlab.tem.open_tem, or "
                               "build a DataArray with an 'energy' dim and an energy_eV coordinate).")
    if spectrum.dims[-1] != "energy":
        raise InvalidParameterError("energy must be the last dimension of an EDS spectrum or spectrum image.")
    return spectrum["energy_eV"].to_numpy().astype(float)


def line_windows(lines, *, window_fwhm: float = 1.0, fwhm_mn_ka_eV: float = 130.0, others=None) -> pd.DataFrame:
    """Signal and background windows (eV) of each line.

    The signal window is the line energy ± ``window_fwhm`` × FWHM; each background window
    has the width of one FWHM and touches the signal window. A side whose window comes
    within one FWHM of another tabulated line of ``others`` (default: the lines analysed)
    is not used.
    """
    parsed = [_parse(x) for x in lines]
    if not parsed:
        raise InvalidParameterError("no lines given: name elements such as ['O', 'Mn', 'Co', 'Ni'].")
    near = {_parse(x)[0] for x in others} if others else {p[0] for p in parsed}
    blockers = [(el, ln, e) for el in sorted(near) for ln, e in XRAY_LINES.get(el, {}).items()]
    rows = []
    for el, ln in parsed:
        e0 = _line_energy(el, ln)
        fw = float(detector_fwhm_eV(e0, fwhm_mn_ka_eV=fwhm_mn_ka_eV))
        half = window_fwhm * fw
        left, right = (e0 - half - fw, e0 - half), (e0 + half, e0 + half + fw)
        use = []
        for side, (lo, hi) in (("left", left), ("right", right)):
            clash = [f"{b} {bl}" for b, bl, eb in blockers if (b, bl) != (el, ln)
                     and lo - detector_fwhm_eV(eb, fwhm_mn_ka_eV=fwhm_mn_ka_eV) < eb
                     < hi + detector_fwhm_eV(eb, fwhm_mn_ka_eV=fwhm_mn_ka_eV)]
            if not clash:
                use.append(side)
        rows.append({"element": el, "line": ln, "energy_eV": e0, "fwhm_eV": fw, "signal_lo_eV": e0 - half,
                     "signal_hi_eV": e0 + half, "left_lo_eV": left[0], "left_hi_eV": left[1], "right_lo_eV": right[0],
                     "right_hi_eV": right[1], "background_sides": "+".join(use or ["left", "right"]),
                     "overlap_warning": "" if use else "lines on both sides: background biased"})
    return pd.DataFrame(rows)


def _net_counts(y, e, row, background):
    """Net counts in the signal window for spectra ``y`` (..., energy): a vectorised background fit."""
    sig = (e >= row["signal_lo_eV"]) & (e <= row["signal_hi_eV"])
    if not sig.any():
        raise MissingDataError(f"{row['element']} {row['line']} at {row['energy_eV']:g} eV is outside the "
                               f"spectrum ({e.min():g}–{e.max():g} eV).")
    bg = np.zeros_like(e, dtype=bool)
    for side in row["background_sides"].split("+"):
        bg |= (e >= row[f"{side}_lo_eV"]) & (e <= row[f"{side}_hi_eV"])
    bg &= e > 0
    if bg.sum() < 2:
        raise MissingDataError(f"no background channels beside {row['element']} {row['line']}: the spectrum ends "
                               "there or the channels are too coarse.")
    yb = y[..., bg]
    if background == "powerlaw":
        lx, ly = np.log(e[bg]), np.log(np.clip(yb, 1e-12, None))
    elif background == "linear":
        lx, ly = e[bg], yb
    else:
        raise InvalidParameterError("background must be 'linear' or 'powerlaw'.")
    if "+" in row["background_sides"]:
        xm = lx.mean()
        slope = ((lx - xm) * (ly - ly.mean(axis=-1, keepdims=True))).sum(axis=-1) / ((lx - xm) ** 2).sum()
    else:  # one side only: a flat level (a slope from one narrow window extrapolates badly)
        xm, slope = lx.mean(), np.zeros(ly.shape[:-1])
    icpt = ly.mean(axis=-1) - slope * xm
    xs = np.log(e[sig]) if background == "powerlaw" else e[sig]
    model = icpt[..., None] + slope[..., None] * xs
    if background == "powerlaw":
        model = np.exp(model)
    return (y[..., sig] - model).sum(axis=-1), model.sum(axis=-1)


def calibrate_eds_energy(spectrum, lines=("O Ka", "Ni Ka"), *, search_eV: float = 300.0, positions_eV=None):
    """Energy offset and gain from two known lines.

    Each line's peak is searched within ±``search_eV`` of where the current axis puts it
    (or of ``positions_eV[i]``) and refined by a parabola through log counts (a Gaussian's
    top); the axis is then mapped linearly so the two measured peaks land on their
    tabulated energies.

    Returns
    -------
    (calibrated, info) : DataArray, dict
        The spectrum (or spectrum image) with the corrected ``energy_eV``; info holds
        ``offset_eV`` and ``gain`` (E_true = offset + gain·E_old) and the measured peaks.
    """
    e = _axis(spectrum)
    if len(lines) != 2:
        raise InvalidParameterError("give exactly two lines, e.g. ('O Ka', 'Ni Ka'), far apart in energy.")
    y = np.asarray(spectrum.values if spectrum.ndim == 1 else spectrum.sum(dim=[d for d in spectrum.dims
                                                                                 if d != "energy"]).values, float)
    found = []
    for i, item in enumerate(lines):
        el, ln = _parse(item)
        true = _line_energy(el, ln)
        guess = float(positions_eV[i]) if positions_eV is not None else true
        sel = np.nonzero(np.abs(e - guess) <= search_eV)[0]
        if sel.size < 3:
            raise MissingDataError(f"{item}: no channels within {search_eV:g} eV of {guess:g} eV.")
        k = sel[np.argmax(y[sel])]
        k = int(np.clip(k, 1, e.size - 2))
        ly = np.log(np.clip(y[k - 1:k + 2], 1e-12, None))
        den = ly[0] - 2 * ly[1] + ly[2]
        frac = 0.5 * (ly[0] - ly[2]) / den if den < 0 else 0.0
        found.append((true, float(np.interp(k + frac, np.arange(e.size), e))))
    (t1, m1), (t2, m2) = found
    if abs(m2 - m1) < 1e-9:
        raise InvalidParameterError("the two lines were found at the same energy: pick lines far apart.")
    gain = (t2 - t1) / (m2 - m1)
    offset = t1 - gain * m1
    out = spectrum.assign_coords(energy_eV=("energy", offset + gain * e))
    out["energy_eV"].attrs["units"] = "eV"
    out.attrs = {**spectrum.attrs, "energy_calibration": {"offset_eV": offset, "gain": gain, "lines": list(lines)}}
    return out, {"offset_eV": float(offset), "gain": float(gain), "measured_eV": [m1, m2], "tabulated_eV": [t1, t2]}


def line_intensity(spectrum, line: str, *, background: str = "linear", window_fwhm: float = 1.0,
                   fwhm_mn_ka_eV: float = 130.0, others=None) -> dict:
    """Net counts of one line (``"Ni"`` = Ni Kα, or ``"Mn La"``) in a single spectrum."""
    e = _axis(spectrum)
    if spectrum.ndim != 1:
        raise InvalidParameterError("line_intensity takes one spectrum; use eds_element_maps for a spectrum image.")
    row = line_windows([line], window_fwhm=window_fwhm, fwhm_mn_ka_eV=fwhm_mn_ka_eV,
                       others=others or [line]).iloc[0]
    y = np.asarray(spectrum.values, float)
    net, bg = _net_counts(y, e, row, background)
    sig = (e >= row["signal_lo_eV"]) & (e <= row["signal_hi_eV"])
    gross = float(y[sig].sum())
    return {**row.to_dict(), "net_counts": float(net), "background_counts": float(bg),
            # Poisson: the net has the variance of gross + background estimate
            "net_sigma": float(np.sqrt(max(gross, 0) + max(float(bg), 0))), "background_model": background}


def line_table(spectrum, elements=("O", "Mn", "Co", "Ni"), *, background: str = "linear",
               window_fwhm: float = 1.0, fwhm_mn_ka_eV: float = 130.0) -> pd.DataFrame:
    """:func:`line_intensity` for several elements (``"Ni"`` or ``"Ni La"``), overlaps checked among them."""
    rows = [line_intensity(spectrum, el, background=background, window_fwhm=window_fwhm,
                           fwhm_mn_ka_eV=fwhm_mn_ka_eV, others=list(elements)) for el in elements]
    return pd.DataFrame(rows)


def cliff_lorimer(intensities, *, k_factors: dict | None = None) -> pd.DataFrame:
    """Thin-film composition from net line counts: C_A ∝ k_A · I_A, normalised to 100 at.%.

    Parameters
    ----------
    intensities : dict or DataFrame
        element -> net counts, or a :func:`line_table` (columns ``element``,
        ``net_counts``, ``net_sigma``).
    k_factors : dict, optional
        element -> k relative to one common reference; defaults :data:`K_FACTORS`
        (approximate, see the module note). Missing elements are an error.

    Returns
    -------
    DataFrame
        ``element``, ``net_counts``, ``k_factor``, ``at_pct`` and ``at_pct_sigma``
        (counting statistics only, not the k-factor uncertainty).
    """
    if isinstance(intensities, pd.DataFrame):
        counts = dict(zip(intensities["element"], intensities["net_counts"], strict=True))
        sig = dict(zip(intensities["element"], intensities.get("net_sigma", pd.Series(np.nan, index=intensities.index)),
                       strict=True))
    else:
        counts, sig = {str(k): float(v) for k, v in dict(intensities).items()}, {}
    if not counts:
        raise MissingDataError("no line intensities to quantify.")
    ks = {**K_FACTORS, **(k_factors or {})}
    missing = [el for el in counts if el not in ks]
    if missing:
        raise InvalidParameterError(f"no k-factor for {', '.join(missing)}: pass k_factors={{'{missing[0]}': …}}.")
    if any(float(ks[el]) <= 0 for el in counts):
        raise InvalidParameterError("k-factors must be positive.")
    weighted = {el: ks[el] * max(c, 0.0) for el, c in counts.items()}
    total = sum(weighted.values())
    if total <= 0:
        raise MissingDataError("no element has positive net counts: nothing to quantify.")
    rows = []
    for el, c in counts.items():
        frac = weighted[el] / total
        rel = sig.get(el, np.nan) / c if c > 0 else np.nan
        rows.append({"element": el, "net_counts": c, "k_factor": float(ks[el]), "at_pct": 100 * frac,
                     # the element's own counting error dominates its fraction's
                     "at_pct_sigma": 100 * frac * (1 - frac) * rel})
    out = pd.DataFrame(rows)
    out.attrs["k_factors_note"] = ("defaults are approximate 200 kV values relative to Si; measure k on a standard"
                                   if not k_factors else "k-factors given by the user")
    return out


def _map_block(block, *, e, rows, background):
    return np.stack([_net_counts(np.asarray(block, float), e, row, background)[0] for row in rows], axis=-1)


def eds_element_maps(spectrum_image, elements=("O", "Mn", "Co", "Ni"), *, background: str = "linear",
                     window_fwhm: float = 1.0, fwhm_mn_ka_eV: float = 130.0, pixel_size_nm: float | None = None,
                     compute: bool = True):
    """Net line counts of every pixel of a spectrum image ``(y, x, energy)``.

    Only the channels of the signal and background windows are read, chunk by chunk
    over scan positions when the cube is dask-backed (the energy axis of a chunk is never
    larger than the windows), so memory is bounded by one chunk.

    Returns
    -------
    xarray.DataArray
        A :mod:`battlab.elements` map stack: dims ``(element, y, x)``, ``y_um``/``x_um``
        coordinates, attrs ``pixel_size_um`` and the windows; lazy if ``compute=False``.
    """
    import xarray as xr

    e = _axis(spectrum_image)
    if spectrum_image.ndim != 3:
        raise InvalidParameterError("expected a spectrum image (y, x, energy); use line_table for one spectrum.")
    px = pixel_size_nm or spectrum_image.attrs.get("pixel_size_nm")
    if not px:
        raise MissingDataError("the spectrum image has no pixel size: give pixel_size_nm=.")
    names = [f"{el} {ln}" if ln != "Ka" else el for el, ln in (_parse(x) for x in elements)]
    table = line_windows(list(elements), window_fwhm=window_fwhm, fwhm_mn_ka_eV=fwhm_mn_ka_eV)
    rows = [r for _, r in table.iterrows()]
    need = np.zeros(e.size, dtype=bool)
    for r in rows:
        need |= (e >= r["left_lo_eV"]) & (e <= r["right_hi_eV"])
    if not need.any():
        raise MissingDataError("none of the lines lies inside the spectrum's energy range.")
    idx = np.nonzero(need)[0]
    # only the needed channels, as one contiguous energy chunk per scan block
    sub = spectrum_image.isel(energy=idx)
    maps = xr.apply_ufunc(_map_block, sub, input_core_dims=[["energy"]], output_core_dims=[["element"]],
                          dask="parallelized", output_dtypes=[float],
                          dask_gufunc_kwargs={"output_sizes": {"element": len(rows)}, "allow_rechunk": True},
                          kwargs={"e": e[idx], "rows": rows, "background": background})
    maps = maps.assign_coords(element=names).transpose("element", "y", "x")
    ny, nx = maps.sizes["y"], maps.sizes["x"]
    px_um = float(px) / 1e3
    maps = maps.drop_vars([c for c in maps.coords if c != "element"]).assign_coords(
        y_um=("y", (np.arange(ny) + 0.5) * px_um), x_um=("x", (np.arange(nx) + 0.5) * px_um))
    maps.name = "net counts"
    maps.attrs = {"units": "counts", "pixel_size_um": px_um, "scan_size_um": [nx * px_um, ny * px_um],
                  "source_name": spectrum_image.attrs.get("source_name"), "background_model": background,
                  "windows": table.to_dict("records")}
    return maps.compute() if compute else maps


def composition_maps(maps, *, k_factors: dict | None = None, elements=None, min_counts: float = 0.0):
    """Cliff–Lorimer at.% maps from :func:`eds_element_maps` (each pixel sums to 100 %).

    The k-factors enter :func:`battlab.elements.analysis.fraction_maps` as sensitivities
    1/k (counts per atom fraction), so the ratio and fraction tools of
    :mod:`battlab.elements` and this quantification are one calculation.
    """
    from battlab.elements.analysis import fraction_maps

    els = list(elements or maps["element"].values)
    ks = {**K_FACTORS, **(k_factors or {})}
    base = {el: el.split()[0] for el in els}
    missing = [el for el in els if base[el] not in ks]
    if missing:
        raise InvalidParameterError(f"no k-factor for {', '.join(missing)}: pass k_factors=.")
    frac = fraction_maps(maps.clip(min=0).assign_attrs(maps.attrs), elements=els, sensitivity={el: 1.0 / ks[base[el]] for el in els},
                         min_counts=min_counts)
    out = 100 * frac
    out.attrs = {**frac.attrs, "units": "at.%", "k_factors": {el: ks[base[el]] for el in els}}
    out.name = "composition"
    return out
