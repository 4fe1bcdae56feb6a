"""One call from loaded spectra to every table the spectroscopy app and ``battlab spectra`` show.

The per-technique analysis (Raman D/G and bands, FTIR bands, XPS component fits and
composition, XAS edge/white line and end-member LCF, NMR window integrals and Li metal,
Mössbauer hyperfine sites and fractions, EPR g/width/double integral and line fits)
runs on spectra that were first smoothed, baseline-corrected and normalised with the
same options, so the app, the command line and a notebook give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab.errors import BattlabError, InvalidParameterError, MissingDataError
from battlab.series import curve_axis

__all__ = ["SpectraAnalysis", "analyse_spectra", "as_regions", "preprocess", "technique_of"]


def technique_of(data) -> str:
    """The technique a spectrum, series or dict of regions states (``attrs["technique"]``)."""
    first = next(iter(data.values())) if isinstance(data, dict) else data
    if first is None or not hasattr(first, "attrs"):
        raise MissingDataError("no spectra given.")
    return first.attrs.get("technique", "generic")


def as_regions(data) -> dict:
    """``{name: (time, axis) series}`` from a spectrum, a series or a dict of spectra (XPS regions).

    A single spectrum becomes a series of one (time from its metadata, else 1970-01-01)
    so that every analysis sees the same shape.
    """
    from battlab.spectra.io import stack_spectra

    if isinstance(data, dict):
        if not data:
            raise MissingDataError("the file holds no spectra.")
        items = data
    else:
        items = {str(data.attrs.get("region") or data.attrs.get("technique", "spectra")): data}
    out = {}
    for name, spec in items.items():
        if not hasattr(spec, "dims"):
            raise InvalidParameterError(f"{name!r} is not a spectrum.")
        if "time" in spec.dims:
            out[name] = spec
            continue
        stamp = spec.attrs.get("battlab", {}).get("start_time_utc")
        out[name] = stack_spectra([spec], times=[stamp or "1970-01-01T00:00:00Z"])
    return out


def preprocess(series, *, smoothing_points: int = 0, smoothing_order: int = 3, baseline: dict | None = None,
               normalization: str = "none", normalization_window=None):
    """Smooth, subtract a baseline and normalise (in that order).

    Parameters
    ----------
    series : DataArray
        A spectrum or a (time, axis) series.
    smoothing_points : int
        Savitzky–Golay window in points; 0 = no smoothing.
    smoothing_order : int
        Savitzky–Golay polynomial order.
    baseline : dict, optional
        ``{"method": ..., **options}`` for :func:`battlab.spectra.analysis.baseline`; None or
        method "none" = no baseline.
    normalization : {"none", "max", "area", "band", "snv", "edge"}
    normalization_window : (float, float), optional

    Returns
    -------
    processed, baseline : DataArray, DataArray
        The processed data and the baseline that was subtracted (zeros when none).
    """
    from battlab.spectra.analysis import baseline as _baseline
    from battlab.spectra.analysis import normalize, smooth

    out = series
    if smoothing_points and smoothing_points > smoothing_order + 1:
        out = smooth(out, window_points=int(smoothing_points), order=int(smoothing_order))
    options = dict(baseline or {"method": "none"})
    method = options.pop("method", "none")
    base = _baseline(out, method=method, **options) if method != "none" else out * 0.0
    out = out - base
    out.attrs = dict(series.attrs)
    if normalization and normalization != "none":
        out = normalize(out, method=normalization, window=normalization_window)
    return out, base


@dataclass
class SpectraAnalysis:
    """Result of :func:`analyse_spectra`.

    Attributes
    ----------
    technique : str
    regions : dict of name -> DataArray
        The raw (time, axis) series per region.
    processed, baselines : dict of name -> DataArray
        After :func:`preprocess`, and the baselines subtracted.
    tables : dict of name -> DataFrame
        Every result table (the CSV files of an export).
    pca : dict of name -> battlab.series.PCAResult
        Per region with at least three spectra.
    fits : dict of name -> list of SpectrumFit
        XPS component fits of every spectrum of the region (in time order).
    notes : list of str
        Analyses that could not run, and why.
    echem : dict of name -> DataFrame
        Per region, the cell's electrochemistry at each spectrum
        (:func:`battlab.series.curve_echem`) when a cycling table was given.
    """

    technique: str
    regions: dict
    processed: dict
    baselines: dict
    tables: dict = field(default_factory=dict)
    pca: dict = field(default_factory=dict)
    fits: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    echem: dict = field(default_factory=dict)


def analyse_spectra(data, *, technique: str | None = None, windows: dict | None = None,
                    baseline: dict | None = None, smoothing_points: int | None = None,
                    normalization: str = "none", normalization_window=None, model: str | None = None,
                    components: dict | None = None, references: dict | None = None,
                    calibration_umol_per_area: float | None = None, min_snr: float = 3.0,
                    n_pca: int = 5, echem: pd.DataFrame | None = None, clock_offset_s: float = 0.0,
                    time_basis: str = "auto", technique_options: dict | None = None) -> SpectraAnalysis:
    """Pre-process spectra and run the analyses of their technique.

    Parameters
    ----------
    data : DataArray or dict of DataArray
        A spectrum, a (time, axis) series, or named regions (XPS).
    technique : str, optional
        Default: what the data state.
    windows : dict name -> (low, high), optional
        Band windows (Raman/FTIR tracking, NMR integration), axis units; default the
        technique preset (:data:`battlab.spectra.presets.PRESETS`).
    baseline : dict, optional
        ``{"method": ..., **options}``; default the preset. XPS and XAS analyses take the
        raw data (their backgrounds are part of the fit/normalisation).
    smoothing_points : int, optional
        Savitzky–Golay points; default the preset (0 = off).
    normalization : str
        See :func:`preprocess`.
    model : str, optional
        Band shape; default the preset.
    components : dict region -> components, optional
        XPS components per region; default :data:`battlab.spectra.xps.SEI_COMPONENTS`
        for regions named like "C 1s".
    references : dict name -> DataArray, optional
        XAS end members for the linear-combination fit; default the first and the last
        spectrum of the series.
    calibration_umol_per_area : float, optional
        NMR: µmol of Li per unit integral for absolute Li-metal amounts.
    min_snr : float
        Bands weaker than this count as absent.
    n_pca : int
        Principal components reported.
    echem : DataFrame, optional
        Cycling table of the cell: every per-spectrum table (bands, I_D/I_G, edge, LCF,
        integrals, Li metal, PCA scores, XPS composition) then also gets the cell's state
        at each spectrum (:data:`battlab.series.ECHEM_COLUMNS`: voltage, current, cycle,
        charge, ``capacity_mAh`` counted from the first spectrum, ``soc``).
    clock_offset_s, time_basis
        How the spectra's clock meets the cycler's (see :func:`battlab.series.curve_echem`).
    technique_options : dict, optional
        Mössbauer: ``sites`` (see :func:`battlab.spectra.mossbauer.fit_mossbauer`),
        ``fit_baseline``, ``weights``, ``shift_reference_mm_s``. EPR: ``components``,
        ``line_shape`` ("dysonian"/"lorentzian"), ``frequency_GHz``, ``fit`` (bool),
        ``baseline_fraction``, ``acquisition``, ``reference`` (a spectrum),
        ``reference_spins``, ``reference_acquisition`` (see
        :func:`battlab.spectra.epr.epr_series`). Defaults: the technique preset.

    Returns
    -------
    SpectraAnalysis
    """
    from battlab.series import pca as _pca
    from battlab.spectra.presets import preset

    technique = technique or technique_of(data)
    regions = as_regions(data)
    pre = preset(technique) if technique != "generic" else {"baseline": {"method": "none"}, "windows": {}}
    windows = dict(pre.get("windows", {}) if windows is None else windows)
    base_opts = dict(pre.get("baseline") or {"method": "none"}) if baseline is None else dict(baseline)
    if technique in ("xps", "xas"):
        base_opts = {"method": "none"}  # the Shirley/Tougaard fit background or the edge normalisation does it
    if smoothing_points is None:
        smoothing_points = (pre.get("smoothing") or {}).get("window_points", 0)
    model = model or pre.get("model", "pseudo_voigt")
    result = SpectraAnalysis(technique=technique, regions=regions, processed={}, baselines={},
                             options={"technique": technique, "windows": windows, "baseline": base_opts,
                                      "smoothing_points": smoothing_points, "normalization": normalization,
                                      "normalization_window": normalization_window, "model": model,
                                      "min_snr": min_snr})
    for name, series in regions.items():
        processed, base = preprocess(series, smoothing_points=smoothing_points, baseline=base_opts,
                                     normalization=normalization, normalization_window=normalization_window)
        result.processed[name] = processed
        result.baselines[name] = base
        if series.sizes["time"] >= 3:
            # Unsmoothed: smoothing correlates the noise, which would then pass for signal.
            unsmoothed = processed if not smoothing_points else preprocess(
                series, baseline=base_opts, normalization=normalization,
                normalization_window=normalization_window)[0]
            try:
                result.pca[name] = _pca(unsmoothed, n_components=n_pca, center=technique != "xas")
            except BattlabError as exc:
                result.notes.append(f"{name}: PCA skipped ({exc})")
    prefix = (lambda name: f"{name}_") if len(regions) > 1 else (lambda name: "")
    runner = {"raman": _raman, "ftir": _bands, "nmr": _nmr, "xas": _xas, "xps": _xps, "mossbauer": _mossbauer,
              "epr": _epr}.get(technique, _bands)
    if technique in ("mossbauer", "epr"):
        extra = {k: v for k, v in pre.items() if k in _TECHNIQUE_OPTION_KEYS[technique]}
        extra.update(technique_options or {})
        if components is not None and "sites" not in extra and technique == "mossbauer":
            extra["sites"] = components
        result.options.update({k: v for k, v in extra.items() if k != "reference"})
    else:
        extra = {}
    runner(result, windows=windows, model=model, min_snr=min_snr, components=components, references=references,
           calibration=calibration_umol_per_area, prefix=prefix, options=extra)
    for name, res in result.pca.items():
        scores = res.scores.copy()
        result.tables[f"{prefix(name)}pca_scores"] = scores
        comps = res.components.copy()
        comps.attrs["battlab"] = {"explained_variance_ratio": res.explained_variance_ratio.tolist(),
                                  "n_significant": res.n_significant}
        result.tables[f"{prefix(name)}pca_components"] = comps
    if echem is not None:
        _attach_echem(result, echem, clock_offset_s=clock_offset_s, time_basis=time_basis, prefix=prefix)
    return result


def _attach_echem(result, echem, *, clock_offset_s, time_basis, prefix):
    """Electrochemistry columns on every table that has one row per spectrum (by index or time)."""
    from battlab.series import add_echem, curve_echem

    for name, series in result.regions.items():
        result.echem[name] = curve_echem(series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis,
                                         label=f"{name} spectra" if len(result.regions) > 1 else "spectra")
    first = next(iter(result.regions))
    for key, table in list(result.tables.items()):
        if "spectrum" not in table and "time" not in table:
            continue  # loadings and other tables not indexed by spectrum
        region = next((n for n in sorted(result.regions, key=len, reverse=True)
                       if prefix(n) and key.startswith(prefix(n))), first)
        result.tables[key] = add_echem(table, result.echem[region], index="spectrum")
    alignment = result.echem[first].attrs["battlab"]["alignment"]
    result.options["alignment"] = {k: alignment.get(k) for k in ("time_basis", "clock_offset_s")}


def _valid_windows(series, windows):
    axis = curve_axis(series)
    x = series[axis].to_numpy()
    return {k: v for k, v in windows.items() if min(v) < np.nanmax(x) and max(v) > np.nanmin(x)}


def _bands(result, *, windows, model, min_snr, prefix, **_):
    from battlab.spectra.analysis import track_bands

    for name, series in result.processed.items():
        usable = _valid_windows(series, windows)
        if not usable:
            result.notes.append(f"{name}: no band window lies inside the data range; add one.")
            continue
        result.tables[f"{prefix(name)}bands"] = track_bands(series, usable, model=model, min_snr=min_snr)


def _raman(result, *, windows, model, min_snr, prefix, **kw):
    from battlab.spectra.raman import d_to_g_ratio, ratio_from_bands

    _bands(result, windows=windows, model=model, min_snr=min_snr, prefix=prefix)
    if "D" in windows and "G" in windows:
        for name, series in result.processed.items():
            bands = result.tables.get(f"{prefix(name)}bands")
            try:
                if bands is not None and {"D", "G"} <= set(bands["band"]):
                    # The band table already holds the D and G fits: the same windows, model and
                    # baseline as d_to_g_ratio would use, so they are not fitted twice.
                    table = ratio_from_bands(bands, single="time" not in series.dims, d_window=windows["D"],
                                             g_window=windows["G"], model=model)
                else:
                    table = d_to_g_ratio(series, d_window=windows["D"], g_window=windows["G"], model=model,
                                         min_snr=min_snr)
                result.tables[f"{prefix(name)}d_to_g"] = table
            except BattlabError as exc:
                result.notes.append(f"{name}: I_D/I_G not computed ({exc})")


def _nmr(result, *, windows, calibration, prefix, **_):
    from battlab.spectra.nmr import integrate_windows, lithium_metal_amount

    for name, series in result.processed.items():
        usable = _valid_windows(series, windows)
        if not usable:
            result.notes.append(f"{name}: no integration window lies inside the data range.")
            continue
        result.tables[f"{prefix(name)}integrals"] = integrate_windows(series, usable)
        metal = next((v for k, v in usable.items() if "metal" in k.lower()), None)
        if metal is not None:
            result.tables[f"{prefix(name)}li_metal"] = lithium_metal_amount(
                series, window=metal, calibration_umol_per_area=calibration)


def _xas(result, *, references, prefix, **_):
    from battlab.spectra.xas import xas_lcf, xas_series_table

    for name, series in result.regions.items():
        result.tables[f"{prefix(name)}edge"] = xas_series_table(series)
        refs = references
        if refs is None and series.sizes["time"] >= 3:
            refs = {"first": series.isel(time=0), "last": series.isel(time=-1)}
        if refs:
            try:
                result.tables[f"{prefix(name)}lcf"] = xas_lcf(series, refs).weights
            except BattlabError as exc:
                result.notes.append(f"{name}: linear-combination fit skipped ({exc})")


#: Options the Mössbauer and EPR analyses take from the preset and ``technique_options``.
_TECHNIQUE_OPTION_KEYS = {
    "mossbauer": ("sites", "fit_baseline", "weights", "shift_reference_mm_s"),
    "epr": ("components", "line_shape", "frequency_GHz", "fit", "baseline_fraction", "integration_half_width_mT",
            "acquisition", "reference",
            "reference_spins", "reference_acquisition"),
}


def _mossbauer(result, *, prefix, options, **_):
    from battlab.spectra.mossbauer import mossbauer_series

    for name, series in result.regions.items():
        try:
            sites, fractions, _fits = mossbauer_series(
                series, options.get("sites"), baseline=options.get("fit_baseline", "constant"),
                weights=options.get("weights", "poisson"),
                shift_reference_mm_s=float(options.get("shift_reference_mm_s", 0.0)))
        except BattlabError as exc:
            result.notes.append(f"{name}: Mössbauer fit failed ({exc})")
            continue
        result.fits[name] = _fits
        result.tables[f"{prefix(name)}mossbauer_sites"] = sites
        result.tables[f"{prefix(name)}site_fractions"] = fractions
    result.notes.append("site fractions are spectral-area ratios (equal recoil-free fractions assumed); "
                        "isomer shifts are relative to α-Fe when the velocity was calibrated on α-Fe.")


def _epr(result, *, prefix, options, **_):
    from battlab.spectra.epr import epr_series

    for name, series in result.regions.items():
        try:
            summary, comps, fits = epr_series(
                series, components=options.get("components"), line_shape_model=options.get("line_shape", "dysonian"),
                frequency_GHz=options.get("frequency_GHz"), fit=bool(options.get("fit", True)),
                baseline_fraction=float(options.get("baseline_fraction", 0.1)),
                integration_half_width_mT=options.get("integration_half_width_mT"),
                acquisition=options.get("acquisition"), reference=options.get("reference"),
                reference_spins=options.get("reference_spins"),
                reference_acquisition=options.get("reference_acquisition"))
        except BattlabError as exc:
            result.notes.append(f"{name}: EPR analysis failed ({exc})")
            continue
        result.fits[name] = fits
        result.tables[f"{prefix(name)}epr"] = summary
        if comps is not None:
            result.tables[f"{prefix(name)}epr_components"] = comps
    if not any(np.isfinite(t["g"]).any() for k, t in result.tables.items() if k.endswith("epr")):
        result.notes.append("no microwave frequency known: g not computed (give frequency_GHz).")


def _xps(result, *, components, model, prefix, **_):
    from battlab.spectra.xps import SEI_COMPONENTS, composition, fit_xps

    rows, fits_by_spectrum = [], {}
    for name, series in result.regions.items():
        comps = (components or {}).get(name)
        if comps is None:
            key = next((k for k in SEI_COMPONENTS if k.replace(" ", "").lower() in name.replace(" ", "").lower()),
                       None)
            axis = series["binding_energy_eV"].to_numpy()
            if key is None:
                # A single-region export (no region name): the region whose species all lie in its range.
                inside = [k for k, cs in SEI_COMPONENTS.items()
                          if all(axis.min() < c["center"] < axis.max() for c in cs)]
                if len(inside) == 1:
                    key = inside[0]
                    result.notes.append(f"{name}: fitted as {key} (the only known region inside "
                                        f"{axis.min():.1f}–{axis.max():.1f} eV).")
            if key is None:
                result.notes.append(f"{name}: no components known for this region; give components to fit it.")
                continue
            comps = key
        axis = series["binding_energy_eV"].to_numpy()
        if isinstance(comps, str):
            comps = [c for c in SEI_COMPONENTS[comps] if axis.min() < c["center"] < axis.max()]
        for i in range(series.sizes["time"]):
            try:
                fit = fit_xps(series.isel(time=i), comps, model=model)
            except BattlabError as exc:
                result.notes.append(f"{name}, spectrum {i}: fit failed ({exc})")
                result.fits.setdefault(name, []).append(None)
                continue
            fit.table["region"] = name
            result.fits.setdefault(name, []).append(fit)
            fits_by_spectrum.setdefault(i, []).append(fit)
            table = fit.table.copy()
            table.insert(0, "spectrum", i)
            rows.append(table)
    if rows:
        result.tables["components"] = pd.concat(rows, ignore_index=True)
        comp = []
        for i, fits in fits_by_spectrum.items():
            c = composition(fits)
            c.insert(0, "spectrum", i)
            comp.append(c)
        result.tables["composition"] = pd.concat(comp, ignore_index=True)
