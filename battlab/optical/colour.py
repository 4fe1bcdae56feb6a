"""Colour classification of operando frames in CIELAB or HSV against an editable calibration table.

Graphite changes colour as it lithiates: grey (pristine) → dark blue (dilute stages) →
red (LiC12, stage 2) → gold (LiC6, stage 1). A calibration table lists one CIELAB
centroid per class plus the lithium content ``x`` in LixC6 that class stands for; pixels
go to the nearest centroid (CIE76 ΔE) or to ``"unclassified"`` when every centroid is
farther than the cutoff. The table is a plain DataFrame: edit it, or build it from
swatches of your own frames with :func:`calibrate_from_swatches`.

The same table also classifies in HSV (``colour_space="hsv"``): it carries each class's
hue ``H`` (degrees), saturation ``S`` and value ``V`` (0–1). HSV distances are taken in
the HSV cone, ``(100·S·V·cos H, 100·S·V·sin H, 100·V)``, so that hue wraps around
(359° is next to 1°), grey pixels of any hue are close together, and the cutoff is on
a 0–100 scale like ΔE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError

__all__ = [
    "CALIBRATION_COLUMNS",
    "GRAPHITE_RGB",
    "UNCLASSIFIED",
    "COLOUR_SPACES",
    "calibrate_from_swatches",
    "classify_pixels",
    "default_calibration",
    "to_colour_space",
    "to_hsv_cone",
    "to_lab",
]

UNCLASSIFIED = "unclassified"
CALIBRATION_COLUMNS = ("stage", "L", "a", "b", "H", "S", "V", "lithium_x", "electrode")
COLOUR_SPACES = ("lab", "hsv")

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

    return rgb2lab(_as_unit_rgb(rgb))


def _as_unit_rgb(rgb):
    arr = np.asarray(rgb)
    if arr.shape[-1] != 3:
        raise InvalidParameterError("colour analysis needs RGB frames (3 channels); this movie has "
                                    f"{arr.shape[-1]}. Convert it to RGB or use thickness analysis only.")
    if arr.dtype.kind in "ui":
        return arr.astype(np.float32) / np.iinfo(arr.dtype).max
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def _cone(h_deg, s, v):
    """HSV cone coordinates (0–100 scale) from hue (degrees), saturation and value (0–1)."""
    h = np.deg2rad(h_deg)
    r = 100.0 * s * v
    return np.stack([r * np.cos(h), r * np.sin(h), 100.0 * v], axis=-1)


def to_hsv_cone(rgb) -> np.ndarray:
    """HSV cone coordinates ``(100·S·V·cos H, 100·S·V·sin H, 100·V)`` of an (..., 3) RGB array."""
    from skimage.color import rgb2hsv

    hsv = rgb2hsv(_as_unit_rgb(rgb))
    return _cone(360.0 * hsv[..., 0], hsv[..., 1], hsv[..., 2]).astype(np.float32)


def to_colour_space(rgb, colour_space: str = "lab") -> np.ndarray:
    """Pixels in the coordinates :func:`classify_pixels` compares: CIELAB or the HSV cone."""
    return to_lab(rgb) if _check_space(colour_space) == "lab" else to_hsv_cone(rgb)


def _check_space(colour_space):
    if colour_space not in COLOUR_SPACES:
        raise InvalidParameterError(f"colour_space must be one of {COLOUR_SPACES}, not {colour_space!r}.")
    return colour_space


def _hsv_of(rgb01):
    from skimage.color import rgb2hsv

    h, s, v = rgb2hsv(np.asarray(rgb01, dtype=float).reshape(1, 1, 3))[0, 0]
    return 360.0 * h, s, v


def _table(rows):
    out = []
    for stage, rgb, x, electrode in rows:
        lab = to_lab(np.asarray(rgb, dtype=np.uint8)[None, None, :])[0, 0]
        h, s, v = _hsv_of(np.asarray(rgb, float) / 255.0)
        out.append({"stage": stage, "L": lab[0], "a": lab[1], "b": lab[2], "H": h, "S": s, "V": v,
                    "lithium_x": x, "electrode": electrode})
    return pd.DataFrame(out, columns=list(CALIBRATION_COLUMNS))


def default_calibration() -> pd.DataFrame:
    """The default graphite calibration table (edit freely; one row per class).

    Columns: ``stage``, CIELAB centroid ``L``, ``a``, ``b``, HSV centroid ``H``
    (degrees), ``S``, ``V`` (0–1), ``lithium_x`` (x in LixC6 for electrode stages, NaN otherwise) and ``electrode`` (True for classes that belong
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
        each swatch (and mean HSV-cone point, as ``H``, ``S``, ``V``), plus ``spread_dE``
        (RMS ΔE of the swatch pixels about the centroid: a cutoff well above it keeps
        noise classified).
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
        cx, cy, cv = to_hsv_cone(patch).reshape(-1, 3).mean(axis=0)
        v = cv / 100.0
        x = (lithium_x or {}).get(name, defaults.get(name, np.nan))
        is_el = (electrode or {}).get(name, bool(np.isfinite(x)))
        rows.append({"stage": name, "L": centre[0], "a": centre[1], "b": centre[2],
                     "H": float(np.rad2deg(np.arctan2(cy, cx)) % 360.0),
                     "S": float(np.hypot(cx, cy) / (100.0 * v)) if v > 0 else 0.0, "V": float(v), "lithium_x": x,
                     "electrode": is_el,
                     "spread_dE": float(np.sqrt(np.mean(np.sum((lab - centre) ** 2, axis=1))))})
    return pd.DataFrame(rows)


def _check_table(table, colour_space="lab"):
    cols = ["L", "a", "b"] if colour_space == "lab" else ["H", "S", "V"]
    if not isinstance(table, pd.DataFrame) or not {"stage", *cols} <= set(table.columns) or table.empty:
        raise InvalidParameterError(f"the calibration table needs rows with columns stage, {', '.join(cols)} "
                                    f"to classify in {colour_space.upper()} (see battlab.optical.default_calibration()).")
    cents = table[cols].to_numpy(dtype=float)
    if not np.all(np.isfinite(cents)):
        raise InvalidParameterError(f"every calibration row needs finite {', '.join(cols)} values.")
    if colour_space == "hsv":
        cents = _cone(cents[:, 0], cents[:, 1], cents[:, 2])
    return cents


def classify_pixels(rgb_or_lab, calibration: pd.DataFrame | None = None, *, max_delta_e: float = 25.0,
                    is_lab: bool = False, colour_space: str = "lab") -> np.ndarray:
    """Nearest-centroid class index of every pixel; -1 where no centroid is within ``max_delta_e``.

    Parameters
    ----------
    rgb_or_lab : (..., 3) array
        RGB pixels, or already converted coordinates (:func:`to_colour_space`) when ``is_lab``.
    calibration : DataFrame, optional
        Calibration table (default :func:`default_calibration`); index ``k`` of the result
        is row ``k`` of the table.
    max_delta_e : float
        Cutoff distance (CIE76 ΔE in CIELAB; the 0–100 HSV-cone distance in HSV);
        farther pixels are unclassified (-1).
    colour_space : {"lab", "hsv"}
        Compare pixels with the table's ``L, a, b`` (CIELAB) or ``H, S, V`` centroids.
    """
    table = default_calibration() if calibration is None else calibration
    cents = _check_table(table, _check_space(colour_space))
    if not max_delta_e > 0:
        raise InvalidParameterError("max_delta_e must be a positive colour distance (ΔE), e.g. 25.")
    lab = np.asarray(rgb_or_lab, dtype=np.float32) if is_lab else \
        to_colour_space(rgb_or_lab, colour_space).astype(np.float32)
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
