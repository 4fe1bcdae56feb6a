"""Operando optical microscopy: side-view thickness, colour stages, lithiation front, Li plating.

Built on :mod:`battlab.imaging` (lazy movies, per-frame electrochemistry, drift).
"""

from battlab.optical.colour import (
    COLOUR_SPACES,
    GRAPHITE_RGB,
    UNCLASSIFIED,
    calibrate_from_swatches,
    classify_pixels,
    default_calibration,
    to_colour_space,
    to_lab,
)
from battlab.optical.events import find_events, local_change_events, voltage_collapse_events
from battlab.optical.plating import (
    faraday_thickness_um,
    interface_profile,
    plating_metrics,
    plating_summary,
)
from battlab.optical.sideview import (
    SEPARATOR_SIDES,
    PowerLawFront,
    SideViewResult,
    analyze_movie,
    compare_cycles,
    depth_hysteresis,
    estimate_sideview_drift,
    expansion_by_cycle,
    first_lithiation_end_s,
    fit_front_kinetics,
    measure_frame,
    orient,
    provenance,
    relative_depth_of_charge,
)

__all__ = ["COLOUR_SPACES", "GRAPHITE_RGB", "SEPARATOR_SIDES", "UNCLASSIFIED", "PowerLawFront", "SideViewResult",
           "analyze_movie", "calibrate_from_swatches", "classify_pixels", "compare_cycles", "default_calibration",
           "depth_hysteresis", "estimate_sideview_drift", "expansion_by_cycle", "faraday_thickness_um",
           "find_events", "first_lithiation_end_s", "fit_front_kinetics", "interface_profile",
           "local_change_events", "measure_frame", "orient", "plating_metrics", "plating_summary", "provenance",
           "relative_depth_of_charge", "to_colour_space", "to_lab", "voltage_collapse_events"]
