"""Scanning electrochemical probes: SECM approach curves (Cornut–Lefrou feedback theory,
contact offset and κ → k fits) and SECM/SICM/ESM maps in the AFM map convention.

Map tools (levelling, roughness, profiles, grains) are those of :mod:`battlab.afm.topography`;
this package adds the feedback theory, the local rate-constant map and active-site fractions.
"""

from battlab.probes.io import probe_map, read_approach_curve, read_probe_map
from battlab.probes.maps import active_sites, feedback_map, level_map, map_profile, map_summary, rate_constant_map
from battlab.probes.secm import (
    bulk_current_factor,
    bulk_current_nA,
    classify_kappa,
    feedback_conductor,
    feedback_insulator,
    feedback_kinetic,
    fit_approach_curve,
    fit_approach_curves,
    kappa_from_feedback,
    normalise_approach,
    rate_constant_cm_s,
)

__all__ = ["read_approach_curve", "read_probe_map", "probe_map", "bulk_current_factor", "bulk_current_nA",
           "feedback_conductor", "feedback_insulator", "feedback_kinetic", "normalise_approach",
           "fit_approach_curve", "fit_approach_curves", "kappa_from_feedback", "rate_constant_cm_s",
           "classify_kappa", "feedback_map", "rate_constant_map", "active_sites", "map_summary", "map_profile",
           "level_map"]
