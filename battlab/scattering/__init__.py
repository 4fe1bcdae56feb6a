"""Small-angle scattering (SAXS/SANS) and specular reflectometry (neutron and X-ray).

- :mod:`~battlab.scattering.io`: I(q) and R(q) text readers (q in Å⁻¹, σ, dq), series;
- :mod:`~battlab.scattering.saxs`: reduction (background, transmission, thickness), q
  masks, merging of q ranges, Guinier, Porod, the seed's Eq. (1) "globule" model, the
  invariant and per-curve trends against the cycling;
- :mod:`~battlab.scattering.reflectometry`: Parratt recursion with Névot–Croce
  roughness, resolution smearing, SLD depth profiles and bounded fits of layer
  parameters (SEI thickness, SLD, roughness) against potential.
"""

from battlab.scattering.io import (
    Q_DIM,
    describe,
    load_reflectivity,
    load_reflectivity_series,
    load_saxs,
    load_saxs_series,
    make_curve,
    read_reflectivity,
    read_saxs,
    stack_scattering,
)
from battlab.scattering.reflectometry import (
    LAYER_COLUMNS,
    ReflectivityFit,
    critical_q,
    fit_reflectivity,
    fit_reflectivity_series,
    fresnel_reflectivity,
    layer_table,
    parratt,
    read_layers,
    reflectivity,
    sld_profile,
)
from battlab.scattering.saxs import (
    GLOBULE_PARAMETERS,
    GlobuleFit,
    GuinierFit,
    PorodFit,
    fit_globule,
    fit_guinier,
    fit_porod,
    fit_saxs_series,
    globule_model,
    invariant,
    mask_q,
    merge_curves,
    reduce_saxs,
    saxs_trends,
    specific_surface,
)

__all__ = [
    "GLOBULE_PARAMETERS", "LAYER_COLUMNS", "Q_DIM", "GlobuleFit", "GuinierFit", "PorodFit", "ReflectivityFit",
    "critical_q", "describe", "fit_globule", "fit_guinier", "fit_porod", "fit_reflectivity",
    "fit_reflectivity_series", "fit_saxs_series", "fresnel_reflectivity", "globule_model", "invariant",
    "layer_table", "load_reflectivity", "load_reflectivity_series", "load_saxs", "load_saxs_series", "make_curve",
    "mask_q", "merge_curves", "parratt", "read_layers", "read_reflectivity", "read_saxs", "reduce_saxs",
    "reflectivity", "saxs_trends", "sld_profile", "specific_surface", "stack_scattering",
]
