"""Beer–Lambert and geometric-magnification calculators (seed 004 Eqs. 1 and 2).

Attenuation coefficients are in 1/cm (the unit of attenuation tables), thicknesses in
µm, distances in mm.
"""

from __future__ import annotations

import numpy as np

from battlab.errors import InvalidParameterError

__all__ = ["transmission", "attenuation_coefficient", "geometric_magnification", "effective_pixel_size_um"]


def _positive(name, value, allow_zero=False):
    arr = np.asarray(value, float)
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        raise InvalidParameterError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite, "
                                    f"got {value!r}.")
    return arr


def transmission(mu_per_cm, thickness_um) -> float:
    """Transmitted fraction I/I0 = exp(−Σ μ_i·x_i) through one or several layers.

    Parameters
    ----------
    mu_per_cm : float or sequence
        Linear attenuation coefficient of each layer, 1/cm.
    thickness_um : float or sequence
        Thickness of each layer, µm (same length as ``mu_per_cm``).
    """
    mu = np.atleast_1d(_positive("mu_per_cm", mu_per_cm, allow_zero=True))
    x = np.atleast_1d(_positive("thickness_um", thickness_um, allow_zero=True))
    if mu.shape != x.shape:
        raise InvalidParameterError(f"{mu.size} attenuation coefficients for {x.size} thicknesses.")
    return float(np.exp(-np.sum(mu * x * 1e-4)))


def attenuation_coefficient(transmitted_fraction, thickness_um) -> float:
    """Linear attenuation coefficient μ = −ln(I/I0)/L, 1/cm, of a uniform layer."""
    t = float(transmitted_fraction)
    if not 0 < t <= 1:
        raise InvalidParameterError(f"the transmitted fraction must be in (0, 1], got {transmitted_fraction!r}.")
    return float(-np.log(t) / (float(_positive("thickness_um", thickness_um)) * 1e-4))


def geometric_magnification(source_object_mm, object_detector_mm) -> float:
    """Cone-beam geometric magnification M = (a + b)/a.

    ``a`` is the source–object distance (SOD) and ``b`` the object–detector distance (OID).
    """
    a = float(_positive("source_object_mm", source_object_mm))
    b = float(_positive("object_detector_mm", object_detector_mm, allow_zero=True))
    return (a + b) / a


def effective_pixel_size_um(detector_pixel_um, magnification) -> float:
    """Pixel size at the sample: detector pixel pitch / M (optical magnification included in M)."""
    return float(_positive("detector_pixel_um", detector_pixel_um)) / float(_positive("magnification", magnification))
