"""One call per step of a correlation: the functions the app, the notebook and the CLI share.

An :class:`~battlab.datasets.correlation.Experiment` holds the cycling record (master
clock), one results table per technique on its own instrument clock, and maps. The steps:

1. :func:`estimate_offsets` finds each instrument's clock offset from a signal that
   follows the charge passed;
2. :func:`on_timeline` puts every table on the cycling timeline with those offsets;
3. :func:`lithiation_estimates` / :func:`reality_check` compare the state of lithiation
   each technique reports (electrochemistry, optical colour, XRD phases);
4. :func:`common_table` puts everything on one time grid for statistics;
5. :func:`register_maps` places one map on another (e.g. an AFM scan in an X-ray
   slice) and :func:`particle_table` joins them particle by particle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.correlate import timeline as tl
from battlab.errors import CorruptFileError, InvalidParameterError, MissingDataError

__all__ = ["on_timeline", "estimate_offsets", "graphite_lithiation_from_xrd", "lithiation_estimates",
           "reality_check", "common_table", "DEFAULT_SIGNALS", "read_table", "register_maps", "particle_table",
           "read_map", "read_landmarks"]

#: The column of each technique table that follows the charge passed (for offsets). EIS is
#: left out: spectra are usually taken by the cycler itself (offset 0), and R_ct is not
#: monotonic in the charge.
DEFAULT_SIGNALS = {"optical": "thickness_um", "xrd": "x_xrd"}


def _table(experiment, name):
    if name not in experiment.tables:
        raise MissingDataError(f"no {name!r} table in this experiment (it has: {', '.join(experiment.tables)}).")
    return experiment.tables[name]


def _with_derived(name, table):
    """Add derived columns a technique table needs for correlation (XRD: lithiation)."""
    if {"fraction_graphite", "fraction_LiC12", "fraction_LiC6"} <= set(table.columns) and "x_xrd" not in table:
        table = table.assign(x_xrd=graphite_lithiation_from_xrd(table))
    return table


def graphite_lithiation_from_xrd(table: pd.DataFrame, *, pristine_deg: float = 26.55,
                                 dilute_end_deg: float = 26.20, dilute_end_x: float = 0.2) -> np.ndarray:
    """State of lithiation x in LixC6 from graphite XRD phase fractions (lever rule).

    ``x = f_g·x_g + 0.5·f_LiC12 + 1.0·f_LiC6``: LiC12 and LiC6 carry x = 0.5 and 1; the
    graphite-like (dilute-stage) phase carries x_g from its (002) position, shifting
    linearly from ``pristine_deg`` (x = 0) to ``dilute_end_deg`` (x = ``dilute_end_x``)
    in the solid-solution region (Cu Kα1 angles). Without a ``graphite_002_deg`` column,
    x_g = ``dilute_end_x`` wherever LiC12 is present and 0 otherwise.
    """
    need = {"fraction_graphite", "fraction_LiC12", "fraction_LiC6"}
    if not need <= set(table.columns):
        raise MissingDataError("graphite lithiation from XRD needs fraction_graphite, fraction_LiC12 and "
                               "fraction_LiC6 (battlab.diffraction.phase_fractions).")
    fg, f12, f6 = (table[c].to_numpy(dtype=float) for c in sorted(need, key=["fraction_graphite",
                                                                              "fraction_LiC12",
                                                                              "fraction_LiC6"].index))
    if "graphite_002_deg" in table:
        pos = table["graphite_002_deg"].to_numpy(dtype=float)
        xg = np.clip((pristine_deg - pos) / (pristine_deg - dilute_end_deg), 0, 1) * dilute_end_x
        xg = np.where(np.isfinite(xg), xg, np.where(f12 > 0, dilute_end_x, 0.0))
    else:
        xg = np.where(f12 > 0, dilute_end_x, 0.0)
    return fg * xg + 0.5 * f12 + 1.0 * f6


def estimate_offsets(experiment, *, signals: dict | None = None, echem_column: str = "charge_mAh",
                     max_offset_s: float | None = None) -> pd.DataFrame:
    """Clock offset of each technique by cross-correlating a signal with the charge passed.

    Parameters
    ----------
    experiment : Experiment
    signals : dict of str to str, optional
        Table name → column that follows ``echem_column`` (default
        :data:`DEFAULT_SIGNALS` for the tables present).

    Returns
    -------
    DataFrame
        One row per table: ``dataset``, ``signal``, ``clock_offset_s``,
        ``resolution_s``, ``correlation`` (|r| at the optimum; below ~0.9 the estimate
        is doubtful and the offset should be set by hand).
    """
    signals = signals if signals is not None else {k: v for k, v in DEFAULT_SIGNALS.items()
                                                   if k in experiment.tables}
    rows = []
    for name, column in signals.items():
        table = _with_derived(name, _table(experiment, name))
        if column not in table:
            raise MissingDataError(f"the {name} table has no {column!r} column.")
        tcol = experiment.time_columns.get(name, "time_s")
        est = tl.estimate_clock_offset(table[tcol], table[column], experiment.cycling, method="xcorr",
                                       echem_column=echem_column, max_offset_s=max_offset_s)
        rows.append({"dataset": name, "signal": column, "clock_offset_s": est["clock_offset_s"],
                     "resolution_s": est["resolution_s"], "correlation": est["correlation"]})
    return pd.DataFrame(rows)


def on_timeline(experiment, *, offsets: dict | None = None, lithiation_is_negative_current: bool = True) -> dict:
    """Every technique table joined onto the cycling timeline.

    Parameters
    ----------
    offsets : dict of str to float, optional
        Clock offset per table (cycler time = instrument time + offset); default
        ``experiment.clock_offsets_s``.
    lithiation_is_negative_current : bool
        For the ``x_echem`` column (state of lithiation from the charge passed, 0–1 per
        cycle): a graphite or silicon half cell lithiates on negative current.

    Returns
    -------
    dict of str to DataFrame
        ``"cycling"`` (the :func:`~battlab.correlate.timeline.charge_timeline`) and each
        table with ``test_time_s``, voltage, current, cycle labels, charge, ``soc`` and
        ``x_echem`` added (rows outside the cycling record dropped, with a warning).
    """
    offsets = {**experiment.clock_offsets_s, **(offsets or {})}
    out = {"cycling": _x_echem(tl.charge_timeline(experiment.cycling), lithiation_is_negative_current)}
    for name, table in experiment.tables.items():
        tcol = experiment.time_columns.get(name, "time_s")
        offset = float(offsets.get(name, 0.0))
        if not np.isfinite(offset):
            raise InvalidParameterError(f"the clock offset of {name} must be a finite number of seconds.")
        aligned = tl.align_to_cycling(_with_derived(name, table), experiment.cycling, clock_offset_s=offset,
                                      time_column=tcol)
        out[name] = _x_echem(aligned, lithiation_is_negative_current)
    return out


def _x_echem(table, negative):
    return table.assign(x_echem=(1.0 - table["soc"]) if negative else table["soc"])


def lithiation_estimates(aligned: dict) -> pd.DataFrame:
    """Each technique's state of lithiation on one table (long form).

    Returns
    -------
    DataFrame
        ``test_time_s``, ``technique``, ``x`` (0–1) and ``x_echem`` at the same instant:
        electrochemistry (charge passed), optical (colour lithiation index) and XRD
        (lever rule over the staging phases), whichever are present.
    """
    parts = []
    sources = {"electrochemistry": ("cycling", "x_echem"), "optical": ("optical", "lithiation_index"),
               "xrd": ("xrd", "x_xrd")}
    for technique, (name, column) in sources.items():
        if name in aligned and column in aligned[name]:
            t = aligned[name]
            parts.append(pd.DataFrame({"test_time_s": t["test_time_s"].to_numpy(), "technique": technique,
                                       "x": t[column].to_numpy(dtype=float),
                                       "x_echem": t["x_echem"].to_numpy(dtype=float)}))
    if not parts:
        raise MissingDataError("no technique here reports a state of lithiation.")
    return pd.concat(parts, ignore_index=True)


def reality_check(aligned: dict, *, tolerance: float = 0.05) -> pd.DataFrame:
    """Does each technique's state of lithiation agree with the charge passed?

    Each technique is compared with the electrochemical x at its own sampling instants
    (Bland–Altman, :func:`battlab.correlate.population.agreement`).

    Returns
    -------
    DataFrame
        One row per technique: ``n``, ``mean_difference`` (x − x_echem), ``sd_difference``,
        ``rms_difference``, 95 % limits of agreement (``loa_low``, ``loa_high``),
        ``pearson_r`` and a plain ``verdict``: consistent (limits within ±tolerance),
        follows the charge but offset or lagging (r ≥ 0.9), or inconsistent.
    """
    from battlab.correlate.population import agreement

    est = lithiation_estimates(aligned)
    rows = []
    for technique, part in est.groupby("technique", sort=False):
        if technique == "electrochemistry" or part[["x", "x_echem"]].dropna().shape[0] < 3:
            continue
        pair = agreement(part, ["x_echem", "x"], tolerance=tolerance).iloc[0]
        r = float(pair["r"])
        if pair["agrees"]:
            verdict = f"consistent with the charge passed (within ±{tolerance:g})"
        elif np.isfinite(r) and r >= 0.9:
            verdict = "follows the charge but is offset or lags (kinetics, calibration)"
        else:
            verdict = "inconsistent: check calibration, region imaged or clock offset"
        rows.append({"technique": technique, "n": int(pair["n"]), "mean_difference": pair["mean_difference"],
                     "sd_difference": pair["sd_difference"], "rms_difference": pair["rms_difference"],
                     "loa_low": pair["loa_low"], "loa_high": pair["loa_high"], "pearson_r": r, "verdict": verdict})
    return pd.DataFrame(rows)


def common_table(aligned: dict, *, columns: dict, every_s: float | None = None,
                 method: str = "interpolate") -> pd.DataFrame:
    """Chosen columns of the aligned tables on one time grid (for statistics and plots).

    ``columns`` maps table name → list of columns (e.g. ``{"cycling": ["voltage_V"],
    "optical": ["thickness_um"], "xrd": ["x_xrd"]}``). See
    :func:`~battlab.correlate.timeline.on_common_times`.
    """
    tables = {}
    for name, cols in columns.items():
        if name not in aligned:
            raise MissingDataError(f"no {name!r} table on the timeline.")
        tables[name] = aligned[name][["test_time_s", *cols]]
    return tl.on_common_times(tables, every_s=every_s, method=method)


def read_table(source, *, name: str | None = None, time_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read an exported results table (CSV) of any battlab app and find its time column.

    Parameters
    ----------
    source : path or bytes
        The CSV file, or its bytes (then ``name`` is the file name, for messages).
    time_column : str, optional
        The column holding the instrument's time in seconds; by default the first of
        ``time_s``, ``test_time_s``, ``elapsed_s``, ``sensor_time_s`` present.

    Returns
    -------
    (DataFrame, str)
        The table and the name of its time column.
    """
    import csv
    import io
    from pathlib import Path

    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "the table"
        if not len(source):
            raise InvalidParameterError(f"{label} is empty.")
        if b"\x00" in bytes(source[:65536]):
            raise InvalidParameterError(f"{label} is not a text table (it holds binary data); export the results "
                                        "as CSV.")
        raw = bytes(source)
    else:
        path = Path(source)
        label = path.name
        raw = None
    if Path(label).suffix.lower() not in (".csv", ".txt", ".tsv"):
        raise InvalidParameterError(f"{label}: give a results table as CSV (exported by a battlab app or CLI).")
    from battlab.io.small_table import MAX_TABLE_LINE_CHARS, check_table_lines

    # Lines are checked before pandas sniffs the delimiter: on a line of megabytes that runs for minutes.
    raw = path.read_bytes() if raw is None else raw  # read once, for the check and for pandas
    check_table_lines(raw.split(b"\n"), name=label, what="results table", max_chars=4 * MAX_TABLE_LINE_CHARS)
    try:
        table = pd.read_csv(io.BytesIO(raw), comment="#", sep=None, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise InvalidParameterError(f"{label} is not a readable CSV table ({exc}).") from exc
    candidates = [time_column] if time_column else ["time_s", "test_time_s", "elapsed_s", "sensor_time_s"]
    for c in candidates:
        if c in table and pd.api.types.is_numeric_dtype(table[c]):
            if not np.isfinite(table[c].to_numpy(dtype=float)).any():
                break
            return table, c
    raise MissingDataError(f"{label} has no time column in seconds (looked for {', '.join(candidates)}); "
                           "name it with time_column=.")


def register_maps(experiment, *, reference: str = "xray_absorption", moving: str = "afm_height",
                  fit_scale: bool = True, feature: str = "intensity", angle_range_deg=(-180.0, 180.0)):
    """Place a fine map inside a coarser one: rotation, scale and offset.

    A thin call of :func:`battlab.correlate.space.register_similarity` on two images of
    the experiment. Returns its :class:`~battlab.correlate.space.Registration`
    (``transform``: moving µm → reference µm; ``confidence``: NCC after refinement).
    """
    from battlab.correlate.space import register_similarity

    for name in (reference, moving):
        if name not in experiment.images:
            raise MissingDataError(f"no {name!r} map in this experiment (it has: {', '.join(experiment.images)}).")
    return register_similarity(experiment.images[reference], experiment.images[moving], fit_scale=fit_scale,
                               feature=feature, angle_range_deg=angle_range_deg)


def particle_table(experiment, registration, *, segment_on: str = "xray_absorption", value_maps=None,
                   interior_px: int = 1, min_area_px: int = 6) -> pd.DataFrame:
    """Per-particle values of registered maps (e.g. X-ray SOC and AFM modulus).

    Particles are segmented on ``segment_on`` (Otsu threshold, connected regions of at
    least ``min_area_px``), shrunk by ``interior_px`` so that edge pixels (a blend of
    particle and surroundings after resampling) stay out, and every map of
    ``value_maps`` is averaged per particle on that grid; maps on another grid are first
    resampled through ``registration`` (anti-aliased). Particles not fully inside every
    map's field of view are dropped.

    Parameters
    ----------
    value_maps : dict of str to str, optional
        Column name → image name; default ``{"soc": "xray_soc", "modulus_GPa": "afm_modulus"}``.

    Returns
    -------
    DataFrame
        One row per particle: ``label``, ``area_um2``, ``x_um``, ``y_um`` and one column
        per value map (its mean over the particle's interior).
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    from battlab.correlate.space import region_table, resample_to

    value_maps = value_maps or {"soc": "xray_soc", "modulus_GPa": "afm_modulus"}
    grid = experiment.images[segment_on]
    values = np.asarray(grid.to_numpy(), dtype=float)
    mask = values > threshold_otsu(values[np.isfinite(values)])
    if interior_px > 0:
        mask = ndimage.binary_erosion(mask, iterations=int(interior_px))
    labels, n = ndimage.label(mask)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    labels[np.isin(labels, np.flatnonzero(sizes < min_area_px))] = 0
    table = None
    for column, image_name in value_maps.items():
        if image_name not in experiment.images:
            raise MissingDataError(f"no {image_name!r} map in this experiment.")
        img = experiment.images[image_name]
        same = img.shape == grid.shape and np.allclose(img["x_um"], grid["x_um"]) and \
            np.allclose(img["y_um"], grid["y_um"])
        on_grid = img if same else resample_to(img, grid, registration.transform)
        part = region_table(labels, on_grid, names=(column, "unused"))
        part = part[part[f"count_{column}"] == part["count"]]  # wholly inside this map's field of view
        part = part[["label", "area_um2", "x_um", "y_um", f"mean_{column}"]].rename(
            columns={f"mean_{column}": column})
        table = part if table is None else table.merge(part[["label", column]], on="label")
    return table.reset_index(drop=True)


def read_map(path, *, pixel_size_um: float, name: str | None = None):
    """A 2-D map from a TIFF page, a CSV/TXT grid of numbers or a ``.npy`` array, calibrated.

    For instrument formats use the technique's reader (``battlab.afm.read_afm``,
    ``battlab.xrm.open_volume`` …), which keep the file's own calibration; this reads
    exported maps, whose pixel size must be given.

    Returns
    -------
    xarray.DataArray
        Dims ("y", "x"), coords ``y_um``/``x_um`` (see
        :func:`battlab.correlate.space.as_image`).
    """
    from pathlib import Path

    from battlab.correlate.space import as_image
    from battlab.io.arrays import load_npy, read_tiff_array

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist.")
    try:
        if suffix in (".tif", ".tiff"):
            values = read_tiff_array(path, first_page=True)
        elif suffix == ".npy":
            values = load_npy(path)
        elif suffix in (".csv", ".txt", ".tsv", ".asc"):
            text = path.read_text(errors="strict")
            lines = text.splitlines()
            if not lines:
                raise MissingDataError(f"{path.name} is empty; a map is a grid of numbers, one row per line.")
            if "\x00" in text:
                raise CorruptFileError(f"{path.name} holds binary bytes; a map exported as text is a grid of "
                                       "numbers.")
            delimiter = "," if "," in lines[0] else None
            values = np.loadtxt(path, delimiter=delimiter, comments="#", ndmin=2)
        else:
            raise InvalidParameterError(f"{path.name}: give a map as TIFF, CSV/TXT (a grid of numbers) or .npy.")
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InvalidParameterError(f"{path.name} is not a readable 2-D map ({exc}).") from exc
    values = np.asarray(values, dtype=float)
    if values.ndim == 3 and values.shape[-1] in (3, 4):
        values = values[..., :3].mean(axis=-1)  # RGB(A) → grey
    if values.ndim != 2 or min(values.shape) < 8:
        raise InvalidParameterError(f"{path.name} holds a {values.shape} array; a map needs at least 8 × 8 pixels.")
    return as_image(values, pixel_size_um=pixel_size_um, name=name or path.stem).assign_attrs(source_name=path.name)


def read_landmarks(path) -> pd.DataFrame:
    """Landmark pairs from a CSV with x_moving_um, y_moving_um, x_reference_um, y_reference_um."""
    from pathlib import Path

    from battlab.io.small_table import read_small_csv

    table = read_small_csv(path, what="landmark table", comment="#")
    need = ["x_moving_um", "y_moving_um", "x_reference_um", "y_reference_um"]
    missing = [c for c in need if c not in table]
    if missing:
        raise MissingDataError(f"the landmark table lacks {', '.join(missing)} (one row per point pair, in µm).")
    values = table[need].apply(pd.to_numeric, errors="coerce")
    bad = [c for c in need if (values[c].isna() & table[c].notna()).any()]
    if bad:
        raise CorruptFileError(f"{Path(path).name}: column {bad[0]!r} holds values that are not numbers; give "
                               "each landmark's coordinates in µm.")
    return values.astype(float)
