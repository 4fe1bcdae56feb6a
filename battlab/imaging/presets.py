"""Presets for imaging-only techniques, and the few analyses specific to them.

The image stacks and volumes of neutron radiography/tomography, MRI, X-ray CT and
electron holography have the same shape as the movies and volumes battlab already
handles, so they go through the same tools (movie/kymograph/drift in
:mod:`battlab.imaging` and the TEM app, volume tools in :mod:`battlab.xrm` and the X-ray
microscopy app). What differs is what a grey level *means*, its unit and how to show it;
:data:`IMAGING_PRESETS` records that, and :func:`apply_preset` stamps it on a DataArray.

Technique-specific steps:

* Neutron radiography — Beer–Lambert with open-beam and dark-current normalisation
  (:func:`radiograph_attenuation`, which uses :func:`battlab.xrm.normalize_projections`),
  differences to the first frame (:func:`attenuation_change`, the operando I/I₀ images),
  per-region attenuation over time (:func:`roi_attenuation`) and attenuation → areal
  density N = Δ(−ln T)/σ with a user-given cross-section (:func:`areal_density`).
* ⁷Li MRI chemical-shift imaging — per-pixel window integrals over the shift axis with the
  NMR windows :data:`battlab.spectra.nmr.LI_WINDOWS_PPM` (:func:`csi_signal_maps`) and the
  Li-metal share of the signal over time (:func:`li_metal_signal_fraction`).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["IMAGING_PRESETS", "NEUTRON_CROSS_SECTIONS_BARN", "apply_preset", "areal_density", "attenuation_change",
           "csi_signal_maps", "display_limits", "imaging_preset", "li_metal_signal_fraction",
           "radiograph_attenuation", "roi_attenuation"]

#: Technique → what an image means, its unit, default display and the battlab tools that open it.
#: ``percentiles`` are the default display limits; ``invert`` draws high values dark.
IMAGING_PRESETS = {
    "X-ray CT": {
        "quantity": "linear attenuation coefficient μ (reconstructed grey level)",
        "meaning": "density and atomic number: pores dark, binder/carbon grey, active particles bright",
        "units": "1/cm", "dims": ("z", "y", "x"), "percentiles": (1.0, 99.0), "cmap": "gray", "invert": False,
        "pixel_size_um": (0.02, 5.0), "opens_with": "battlab.xrm (volumes), battlab.apps.XRMApp 'Volume' tab",
    },
    "neutron radiography": {
        "quantity": "attenuation −ln(I/I₀) = Σ·x after open-beam and dark-current normalisation",
        "meaning": "Li and H attenuate neutrons strongly: bright = more Li/electrolyte along the beam; "
                   "differences to the first frame show Li redistribution and electrolyte consumption or gas",
        "units": "-ln(I/I0)", "dims": ("time", "y", "x"), "percentiles": (1.0, 99.0), "cmap": "magma",
        "invert": False, "pixel_size_um": (10.0, 100.0),
        "opens_with": "battlab.imaging (movie, drift, kymograph), battlab.apps.TEMApp 'Movie' tab",
    },
    "neutron tomography": {
        "quantity": "neutron attenuation coefficient Σ",
        "meaning": "3-D Li/H distribution: electrolyte and lithiated regions bright, metal housing faint",
        "units": "1/cm", "dims": ("z", "y", "x"), "percentiles": (0.5, 99.5), "cmap": "magma", "invert": False,
        "pixel_size_um": (10.0, 100.0), "opens_with": "battlab.xrm (volumes), battlab.apps.XRMApp 'Volume' tab",
    },
    "MRI 1H": {
        "quantity": "¹H signal intensity (e.g. 3-D FLASH magnitude)",
        "meaning": "electrolyte bright; Li metal, dendrites and separator fibres dark (no ¹H signal); "
                   "segment with a threshold of 0.2·I_max",
        "units": "a.u.", "dims": ("z", "y", "x"), "percentiles": (0.5, 99.5), "cmap": "viridis", "invert": False,
        "pixel_size_um": (20.0, 200.0), "opens_with": "battlab.xrm (volumes), battlab.apps.XRMApp 'Volume' tab",
    },
    "MRI 7Li CSI": {
        "quantity": "⁷Li signal per position and chemical shift",
        "meaning": "Li metal (Knight shift ≈ 245–270 ppm) vs diamagnetic Li in electrolyte/SEI (≈ 0 ppm); "
                   "window integrals give metal and electrolyte maps per time",
        "units": "a.u.", "dims": ("time", "x", "shift_ppm"), "axis": "shift_ppm", "axis_units": "ppm",
        "percentiles": (0.5, 99.5), "cmap": "viridis", "invert": False, "pixel_size_um": (20.0, 200.0),
        "opens_with": "battlab.imaging.presets.csi_signal_maps; spectra per position with battlab.spectra",
    },
    "electron holography phase": {
        "quantity": "phase shift φ of the electron wave = C_E·∫V dz",
        "meaning": "projected electrostatic potential: mean inner potential × thickness plus charge "
                   "layers; a step across an interface is a potential drop",
        # unwrapped phase: a sequential map (a cyclic one suits only wrapped phase)
        "units": "rad", "dims": ("y", "x"), "percentiles": (0.5, 99.5), "cmap": "viridis", "invert": False,
        "pixel_size_um": (0.0002, 0.01),
        "opens_with": "battlab.tem.holography, battlab.apps.TEMApp 'Holography' tab, `battlab holography`",
    },
}

#: Thermal-neutron (2200 m/s) cross-sections, barn, as starting values for :func:`areal_density`;
#: use the value for your beam's spectrum and isotopic composition.
NEUTRON_CROSS_SECTIONS_BARN = {
    "Li (natural, absorption)": 70.5,
    "6Li (absorption)": 940.0,
    "H (bound, total scattering ≈)": 82.0,
}


def imaging_preset(name: str) -> dict:
    """A copy of one entry of :data:`IMAGING_PRESETS` (name as listed)."""
    if name not in IMAGING_PRESETS:
        raise InvalidParameterError(f"unknown imaging preset {name!r}; choose one of {list(IMAGING_PRESETS)}.")
    return {"name": name, **copy.deepcopy(IMAGING_PRESETS[name])}


def display_limits(data, *, percentiles=(1.0, 99.0), max_samples: int = 2_000_000) -> tuple[float, float]:
    """Display limits from percentiles of a strided sample of the data (never loads a big array whole)."""
    lo, hi = (float(v) for v in percentiles)
    if not 0 <= lo < hi <= 100:
        raise InvalidParameterError(f"percentiles must satisfy 0 ≤ low < high ≤ 100, got {percentiles!r}.")
    arr = getattr(data, "data", data)
    shape = np.shape(arr)
    if not shape or int(np.prod(shape)) == 0:
        raise MissingDataError("no pixels to set the contrast from.")
    step = max(1, int(np.ceil((np.prod(shape) / max_samples) ** (1 / len(shape)))))
    sample = np.asarray(arr[(slice(None, None, step),) * len(shape)], float)
    sample = sample[np.isfinite(sample)]
    if not sample.size:
        raise MissingDataError("the data holds no finite values.")
    vlo, vhi = np.percentile(sample, [lo, hi])
    if vhi <= vlo:
        vhi = vlo + (abs(vlo) * 1e-6 or 1.0)
    return float(vlo), float(vhi)


def apply_preset(data, name: str, *, percentiles=None, units: str | None = None):
    """Label an image, movie or volume with a technique preset (attrs only; data unchanged).

    Parameters
    ----------
    data : xarray.DataArray
    name : str
        A key of :data:`IMAGING_PRESETS`.
    percentiles : (float, float), optional
        Override the preset's display percentiles.
    units : str, optional
        The unit of the values. Default: the data's own ``units`` attr when it has one
        (raw counts stay counts), else the preset's (the unit of the technique's
        calibrated image, always kept as ``preset_units``).

    Returns
    -------
    xarray.DataArray
        A shallow copy with ``technique``, ``units``, ``preset_units``, ``long_name``,
        ``display_clim``, ``display_cmap``, ``display_invert`` and ``display_percentiles``
        in attrs.
    """
    if not hasattr(data, "attrs") or not hasattr(data, "dims"):
        raise InvalidParameterError("apply_preset needs an xarray.DataArray (open the file with a battlab reader).")
    p = imaging_preset(name)
    pct = tuple(percentiles) if percentiles is not None else p["percentiles"]
    out = data.copy(deep=False)
    out.attrs = dict(data.attrs)
    out.attrs.update(technique=name, units=units or data.attrs.get("units") or p["units"], preset_units=p["units"],
                     long_name=p["quantity"],
                     display_clim=display_limits(data, percentiles=pct), display_cmap=p["cmap"],
                     display_invert=bool(p["invert"]), display_percentiles=pct)
    return out


# --- neutron radiography ----------------------------------------------------------------
def radiograph_attenuation(frames, *, open_beam, dark=None, min_transmission: float = 1e-4):
    """Attenuation movie −ln((I − I_dark)/(I_open − I_dark)) from raw radiographs.

    Parameters
    ----------
    frames : DataArray (time, y, x) or array
        Raw counts; the DataArray's coordinates and attrs are kept.
    open_beam, dark : array (y, x) or a stack of them (averaged)
        Open-beam (flat) and dark-current images.
    min_transmission : float
        Clip before the logarithm (dead pixels, noise in opaque parts).

    Returns
    -------
    xarray.DataArray
        dims ``(time, y, x)``, units ``-ln(I/I0)``, preset "neutron radiography".
    """
    import xarray as xr

    from battlab.xrm.recon import normalize_projections

    raw = np.asarray(getattr(frames, "values", frames), float)
    if raw.ndim == 2:
        raw = raw[None]
    if raw.ndim != 3:
        raise InvalidParameterError(f"radiographs must be (time, y, x); got shape {raw.shape}.")
    # the same Beer–Lambert flat/dark correction as tomographic projections; angles are unused
    att = normalize_projections(raw, flat=open_beam, dark=dark, angles_deg=np.zeros(raw.shape[0]),
                                min_transmission=min_transmission).values
    if isinstance(frames, xr.DataArray) and frames.ndim == 3:
        out = frames.copy(data=att)
        out.attrs = dict(frames.attrs)
    else:
        out = xr.DataArray(att, dims=("time", "y", "x"),
                           coords={"time_s": ("time", np.arange(att.shape[0], dtype=float))})
    out.name = "attenuation"
    out.attrs.update(units="-ln(I/I0)", technique="neutron radiography", kind="movie",
                     long_name=IMAGING_PRESETS["neutron radiography"]["quantity"])
    return out


def attenuation_change(attenuation, *, reference_frame: int = 0):
    """Attenuation minus that of a reference frame: Δ(−ln T) = −ln(I/I_ref) per frame.

    Positive where attenuating matter (Li, electrolyte) arrived since the reference frame.
    """
    if "time" not in getattr(attenuation, "dims", ()):
        raise InvalidParameterError("attenuation_change needs a (time, y, x) DataArray (radiograph_attenuation).")
    n = attenuation.sizes["time"]
    if not -n <= int(reference_frame) < n:
        raise InvalidParameterError(f"reference_frame {reference_frame} is outside the {n} frames.")
    out = attenuation - attenuation.isel(time=int(reference_frame))
    out.attrs = dict(attenuation.attrs)
    out.attrs.update(units="Δ(-ln(I/I0))", reference_frame=int(reference_frame))
    return out.rename("attenuation_change")


def areal_density(attenuation, *, cross_section_barn: float, molar_mass_g_mol: float | None = None):
    """Areal density along the beam from an attenuation (or its change): N = (−ln T)/σ.

    Parameters
    ----------
    attenuation : float, array or DataArray
        −ln T (or Δ(−ln T) for a change in areal density).
    cross_section_barn : float
        Total removal cross-section of the element seen, barn (1 b = 1e-24 cm²); see
        :data:`NEUTRON_CROSS_SECTIONS_BARN` for starting values. Required: it changes the
        answer in proportion.
    molar_mass_g_mol : float, optional
        With it, the result is in mg/cm² instead of atoms/cm².
    """
    sigma = float(cross_section_barn)
    if not (np.isfinite(sigma) and sigma > 0):
        raise InvalidParameterError(f"cross_section_barn must be positive, got {cross_section_barn!r}.")
    n = attenuation / (sigma * 1e-24)  # atoms per cm²
    unit = "atoms/cm2"
    if molar_mass_g_mol is not None:
        m = float(molar_mass_g_mol)
        if not (np.isfinite(m) and m > 0):
            raise InvalidParameterError(f"molar_mass_g_mol must be positive, got {molar_mass_g_mol!r}.")
        n = n / 6.02214076e23 * m * 1e3
        unit = "mg/cm2"
    if hasattr(n, "dims"):
        n = n.rename("areal_density")
        n.attrs.update(units=unit, cross_section_barn=sigma)
    return n


def roi_attenuation(attenuation, rois: dict, *, reference_frame: int = 0) -> pd.DataFrame:
    """Mean attenuation of rectangular regions in every frame, and its change.

    Parameters
    ----------
    attenuation : DataArray (time, y, x)
        From :func:`radiograph_attenuation`.
    rois : dict name -> (y0, y1, x0, x1)
        Pixel rectangles (end exclusive).

    Returns
    -------
    DataFrame
        One row per frame and region: ``frame``, ``time_s``, ``roi``, ``attenuation``,
        ``delta_attenuation`` (vs the reference frame) and ``relative_change``
        (ΔΣ/Σ₀, the relative change of the attenuation coefficient).
    """
    if "time" not in getattr(attenuation, "dims", ()):
        raise InvalidParameterError("roi_attenuation needs a (time, y, x) DataArray.")
    if not rois:
        raise MissingDataError("give at least one region: {'anode': (y0, y1, x0, x1)}.")
    ny, nx = attenuation.sizes["y"], attenuation.sizes["x"]
    times = attenuation["time_s"].to_numpy() if "time_s" in attenuation.coords else np.arange(attenuation.sizes["time"])
    rows = []
    for name, box in rois.items():
        try:
            y0, y1, x0, x1 = (int(v) for v in box)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"region {name!r}: give (y0, y1, x0, x1) in px, got {box!r}.") from None
        if not (0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
            raise InvalidParameterError(f"region {name!r} {box} is empty or outside the {ny}×{nx} image.")
        mean = np.asarray(attenuation.isel(y=slice(y0, y1), x=slice(x0, x1)).mean(("y", "x")).values, float)
        ref = mean[int(reference_frame)]
        for i, v in enumerate(mean):
            rows.append({"frame": i, "time_s": float(times[i]), "roi": name, "attenuation": v,
                         "delta_attenuation": v - ref, "relative_change": (v - ref) / ref if ref else np.nan})
    out = pd.DataFrame(rows)
    out.attrs["battlab"] = {"analysis": "battlab.imaging.presets.roi_attenuation", "rois": dict(rois),
                            "reference_frame": int(reference_frame)}
    return out


# --- 7Li MRI chemical-shift imaging -----------------------------------------------------
def csi_signal_maps(csi, windows=None):
    """Window integrals over the chemical shift at every position and time of a CSI data set.

    Parameters
    ----------
    csi : DataArray with a ``shift_ppm`` dimension
        e.g. (time, x, shift_ppm) or (time, y, x, shift_ppm).
    windows : dict name -> (low, high) ppm, optional
        Default :data:`battlab.spectra.nmr.LI_WINDOWS_PPM` (Li metal and diamagnetic).

    Returns
    -------
    xarray.DataArray
        The same dims without ``shift_ppm`` plus a leading ``window`` dimension:
        signal maps (intensity × ppm) per window.
    """
    import xarray as xr

    from battlab.peaks import check_window
    from battlab.spectra.nmr import LI_WINDOWS_PPM

    if "shift_ppm" not in getattr(csi, "dims", ()):
        raise InvalidParameterError("csi_signal_maps needs a DataArray with a 'shift_ppm' dimension "
                                    "(one ⁷Li spectrum per position).")
    windows = dict(LI_WINDOWS_PPM if windows is None else windows)
    ppm = np.asarray(csi["shift_ppm"].to_numpy(), float)
    maps = []
    for name, win in windows.items():
        lo, hi = check_window(win, what=f"window {name!r}")
        sel = (ppm >= lo) & (ppm <= hi)
        if sel.sum() < 3:
            raise MissingDataError(f"window {name!r} ({lo:g}–{hi:g} ppm) holds {int(sel.sum())} points of the "
                                   f"{ppm.min():g}–{ppm.max():g} ppm axis; move or widen it.")
        part = csi.isel(shift_ppm=np.flatnonzero(sel)).sortby("shift_ppm")
        maps.append(part.integrate("shift_ppm").expand_dims(window=[name]))
    out = xr.concat(maps, dim="window")
    out.name = "csi_signal"
    out.attrs = {"units": "a.u. ppm", "technique": csi.attrs.get("technique", "MRI 7Li CSI"),
                 "windows_ppm": {k: tuple(map(float, v)) for k, v in windows.items()}}
    return out


def li_metal_signal_fraction(csi, *, metal_window=None, electrolyte_window=None,
                             baseline: str = "linear") -> pd.DataFrame:
    """Share of the ⁷Li signal in the Li-metal window over time, summed over the image.

    The image is summed over every spatial dimension and each resulting spectrum is
    integrated with :func:`battlab.spectra.nmr.integrate_windows` (linear baseline per
    window by default). The metal fraction is metal / (metal + electrolyte): it grows as
    metal deposits, independent of the receiver gain. The skin depth limits how much of
    bulk metal is seen (see :mod:`battlab.spectra.nmr`).

    Returns
    -------
    DataFrame
        ``time``, ``elapsed_s`` (when present), ``li_metal``, ``electrolyte`` (window
        integrals) and ``metal_fraction``.
    """
    from battlab.spectra.nmr import LI_WINDOWS_PPM, integrate_windows

    if "shift_ppm" not in getattr(csi, "dims", ()):
        raise InvalidParameterError("li_metal_signal_fraction needs a DataArray with a 'shift_ppm' dimension.")
    space = [d for d in csi.dims if d not in ("time", "shift_ppm")]
    total = csi.sum(space) if space else csi
    windows = {"li_metal": metal_window or LI_WINDOWS_PPM["Li metal"],
               "electrolyte": electrolyte_window or LI_WINDOWS_PPM["diamagnetic"]}
    table = integrate_windows(total, windows, baseline=baseline)
    denom = table["li_metal"] + table["electrolyte"]
    table["metal_fraction"] = np.where(denom > 0, table["li_metal"] / denom.where(denom > 0), np.nan)
    table.attrs["battlab"] = {"analysis": "battlab.imaging.presets.li_metal_signal_fraction",
                              "windows_ppm": windows, "baseline": baseline}
    return table.drop(columns=["spectrum"])
