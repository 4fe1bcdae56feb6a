"""Spectroscopy readers and the canonical spectrum representation.

A spectrum is an ``xarray.DataArray`` named ``intensity`` over one technique axis
(see :data:`AXES`); a series adds a ``time`` dimension (UTC timestamps plus
``elapsed_s``), exactly like a diffraction series (:mod:`battlab.series`).
``attrs["technique"]`` names the technique and ``attrs["battlab"]`` holds the source
record (format, sha256, source name, start time, notes).
"""

from __future__ import annotations

import numpy as np

from battlab.errors import InvalidParameterError
from battlab.series import stack_curves

__all__ = ["AXES", "make_spectrum", "stack_spectra"]

#: technique -> (axis name, units, long name, axis decreasing in plots)
AXES = {
    "raman": ("wavenumber_cm1", "cm⁻¹", "Raman shift", False),
    "ftir": ("wavenumber_cm1", "cm⁻¹", "wavenumber", True),
    "xps": ("binding_energy_eV", "eV", "binding energy", True),
    "xas": ("energy_eV", "eV", "photon energy", False),
    "nmr": ("shift_ppm", "ppm", "chemical shift", True),
    "generic": ("x", "", "x", False),
}


def make_spectrum(x, intensity, *, technique: str, units: str = "a.u.", meta=None, **attrs):
    """Build a canonical spectrum DataArray (used by readers and generators).

    Parameters
    ----------
    x, intensity : array_like
        Axis values (any order; sorted ascending here) and intensities.
    technique : {"raman", "ftir", "xps", "xas", "nmr", "generic"}
        Picks the axis name and units from :data:`AXES`.
    units : str
        Units of the intensity ("counts", "a.u.", "absorbance", "mu(E)" …).
    meta : dict, optional
        Source record stored in ``attrs["battlab"]``.
    **attrs
        Extra attributes (``excitation_nm``, ``edge``, ``photon_energy_eV`` …).
    """
    import xarray as xr

    if technique not in AXES:
        raise InvalidParameterError(f"unknown technique {technique!r}; choose one of {list(AXES)}.")
    axis, axis_units, long_name, _ = AXES[technique]
    xv = np.asarray(x, float)
    y = np.asarray(intensity, float)
    if xv.shape != y.shape or xv.ndim != 1:
        raise InvalidParameterError(f"x and intensity must be 1-D of one length, got {xv.shape} and {y.shape}.")
    order = np.argsort(xv, kind="stable")
    da = xr.DataArray(y[order], dims=(axis,), name="intensity",
                      coords={axis: (axis, xv[order], {"units": axis_units, "long_name": long_name})})
    da.attrs.update({"units": units, "long_name": "intensity", "technique": technique})
    da.attrs.update({k: v for k, v in attrs.items() if v is not None})
    da.attrs["battlab"] = dict(meta or {})
    da.attrs["battlab"].setdefault("technique", technique)
    da.attrs["battlab"].setdefault("notes", [])
    return da


def stack_spectra(spectra, *, times=None):
    """Stack spectra of one technique into a (time, axis) series; see :func:`battlab.series.stack_curves`."""
    return stack_curves(spectra, times=times, label="spectra")
