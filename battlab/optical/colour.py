"""Colour classification of operando frames in CIELAB against an editable calibration table.

Graphite changes colour as it lithiates: grey (pristine) → dark blue (dilute stages) →
red (LiC12, stage 2) → gold (LiC6, stage 1). A calibration table lists one CIELAB
centroid per class plus the lithium content ``x`` in LixC6 that class stands for; pixels
go to the nearest centroid (CIE76 ΔE) or to ``"unclassified"`` when every centroid is
farther than the cutoff. The table is a plain DataFrame: edit it, or build it from
swatches of your own frames with :func:`calibrate_from_swatches`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError

__all__ = [
    "CALIBRATION_COLUMNS",
    "GRAPHITE_RGB",
    "UNCLASSIFIED",
    "calibrate_from_swatches",
    "classify_pixels",
    "default_calibration",
    "to_lab",
]

UNCLASSIFIED = "unclassified"
CALIBRATION_COLUMNS = ("stage", "L", "a", "b", "lithium_x", "electrode")

#: Default graphite classes as 8-bit sRGB (pristine grey, dark-blue dilute stages, red LiC12,
#: gold LiC6) and their neighbours in a side view (separator, copper current collector).
GRAPHITE_RGB = {
    "pristine": (112, 112, 112),
    "dilute": (38, 48, 110),
    "LiC12": (176, 42, 38),
    "LiC6": (222, 178, 58),
    "separator": (226, 226, 220),
    "collector": (150, 84, 44),
}
#: x in LixC6 that each electrode class stands for.
_LITHIUM_X = {"pristine": 0.0, "dilute": 0.25, "LiC12": 0.5, "LiC6": 1.0}
_GRAPHITE_DEFAULT = tuple((name, rgb, _LITHIUM_X.get(name, np.nan), name in _LITHIUM_X)
                          for name, rgb in GRAPHITE_RGB.items())


def to_lab(rgb) -> np.ndarray:
    """CIELAB of an (..., 3) RGB array (uint8/uint16 scaled to full range, floats taken as 0..1)."""
    from skimage.color import rgb2lab

    arr = np.asarray(rgb)
    if arr.shape[-1] != 3:
        raise InvalidParameterError("colour analysis needs RGB frames (3 channels); this movie has "
                                    f"{arr.shape[-1]}. Convert it to RGB or use thickness analysis only.")
    if arr.dtype.kind in "ui":
        arr = arr.astype(np.float32) / np.iinfo(arr.dtype).max
    return rgb2lab(np.clip(arr, 0.0, 1.0))


def _table(rows):
    out = []
    for stage, rgb, x, electrode in rows:
        lab = to_lab(np.asarray(rgb, dtype=np.uint8)[None, None, :])[0, 0]
        out.append({"stage": stage, "L": lab[0], "a": lab[1], "b": lab[2], "lithium_x": x, "electrode": electrode})
    return pd.DataFrame(out, columns=list(CALIBRATION_COLUMNS))


def default_calibration() -> pd.DataFrame:
    """The default graphite calibration table (edit freely; one row per class).

    Columns: ``stage``, CIELAB centroid ``L``, ``a``, ``b``, ``lithium_x`` (x in LixC6
    for electrode stages, NaN otherwise) and ``electrode`` (True for classes that belong
    to the electrode and count in stage fractions).
    """
    return _table(_GRAPHITE_DEFAULT)


def calibrate_from_swatches(frame, swatches: dict, *, lithium_x: dict | None = None,
                            electrode: dict | None = None) -> pd.DataFrame:
    """A calibration table from rectangular swatches of a frame known to show each class.

    Parameters
    ----------
    frame : (y, x, 3) array
        An RGB frame.
    swatches : dict
        Class name -> ``(y0, y1, x0, x1)`` pixel box (half-open) showing only that class.
    lithium_x : dict, optional
        Class -> x in LixC6 (default: the graphite values for known names, NaN otherwise).
    electrode : dict, optional
        Class -> whether it belongs to the electrode (default: True when it has a lithium_x).

    Returns
    -------
    DataFrame
        A calibration table like :func:`default_calibration`, centroid = mean CIELAB of
        each swatch, plus ``spread_dE`` (RMS ΔE of the swatch pixels about the centroid:
        a cutoff well above it keeps noise classified).
    """
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise InvalidParameterError("calibrate_from_swatches needs one (y, x, 3) frame.")
    defaults = {s: x for s, _, x, _ in _GRAPHITE_DEFAULT}
    rows = []
    for name, box in swatches.items():
        try:
            y0, y1, x0, x1 = (int(v) for v in box)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"swatch {name!r} must be (y0, y1, x0, x1) pixels.") from None
        patch = frame[max(y0, 0):y1, max(x0, 0):x1]
        if patch.size == 0:
            raise InvalidParameterError(f"swatch {name!r} {box} is empty or outside the {frame.shape[:2]} frame.")
        lab = to_lab(patch).reshape(-1, 3)
        centre = lab.mean(axis=0)
        x = (lithium_x or {}).get(name, defaults.get(name, np.nan))
        is_el = (electrode or {}).get(name, bool(np.isfinite(x)))
        rows.append({"stage": name, "L": centre[0], "a": centre[1], "b": centre[2], "lithium_x": x,
                     "electrode": is_el,
                     "spread_dE": float(np.sqrt(np.mean(np.sum((lab - centre) ** 2, axis=1))))})
    return pd.DataFrame(rows)


def _check_table(table):
    if not isinstance(table, pd.DataFrame) or not {"stage", "L", "a", "b"} <= set(table.columns) or table.empty:
        raise InvalidParameterError("the calibration table needs rows with columns stage, L, a, b "
                                    "(see battlab.optical.default_calibration()).")
    cents = table[["L", "a", "b"]].to_numpy(dtype=float)
    if not np.all(np.isfinite(cents)):
        raise InvalidParameterError("every calibration row needs finite L, a, b values.")
    return cents


def classify_pixels(rgb_or_lab, calibration: pd.DataFrame | None = None, *, max_delta_e: float = 25.0,
                    is_lab: bool = False) -> np.ndarray:
    """Nearest-centroid class index of every pixel; -1 where no centroid is within ``max_delta_e``.

    Parameters
    ----------
    rgb_or_lab : (..., 3) array
        RGB pixels, or CIELAB when ``is_lab``.
    calibration : DataFrame, optional
        Calibration table (default :func:`default_calibration`); index ``k`` of the result
        is row ``k`` of the table.
    max_delta_e : float
        Cutoff distance (CIE76 ΔE); farther pixels are unclassified (-1).
    """
    table = default_calibration() if calibration is None else calibration
    cents = _check_table(table)
    if not max_delta_e > 0:
        raise InvalidParameterError("max_delta_e must be a positive colour distance (ΔE), e.g. 25.")
    lab = np.asarray(rgb_or_lab, dtype=np.float32) if is_lab else to_lab(rgb_or_lab).astype(np.float32)
    # one centroid at a time: memory stays a few frame-sized arrays, not (pixels × classes × 3)
    best = np.full(lab.shape[:-1], np.inf, dtype=np.float32)
    idx = np.full(lab.shape[:-1], -1, dtype=np.int64)
    for k, c in enumerate(cents.astype(np.float32)):
        d2 = (lab[..., 0] - c[0]) ** 2 + (lab[..., 1] - c[1]) ** 2 + (lab[..., 2] - c[2]) ** 2
        closer = d2 < best
        best[closer] = d2[closer]
        idx[closer] = k
    idx[best > max_delta_e ** 2] = -1
    return idx
