"""Operando optical microscopy: side-view thickness, colour stages, lithiation front, Li plating.

Built on :mod:`battlab.imaging` (lazy movies, per-frame electrochemistry, drift).
"""

from battlab.optical.colour import (
    GRAPHITE_RGB,
    UNCLASSIFIED,
    calibrate_from_swatches,
    classify_pixels,
    default_calibration,
    to_lab,
)
from battlab.optical.plating import (
    faraday_thickness_um,
    interface_profile,
    plating_metrics,
)
from battlab.optical.sideview import (
    SEPARATOR_SIDES,
    PowerLawFront,
    SideViewResult,
    analyze_movie,
    depth_hysteresis,
    expansion_by_cycle,
    first_lithiation_end_s,
    fit_front_kinetics,
    measure_frame,
    orient,
    provenance,
    relative_depth_of_charge,
)

__all__ = ["GRAPHITE_RGB", "SEPARATOR_SIDES", "UNCLASSIFIED", "PowerLawFront", "SideViewResult", "analyze_movie",
           "calibrate_from_swatches", "classify_pixels", "default_calibration", "depth_hysteresis",
           "expansion_by_cycle", "faraday_thickness_um", "first_lithiation_end_s", "fit_front_kinetics",
           "interface_profile", "measure_frame", "orient", "plating_metrics", "provenance",
           "relative_depth_of_charge", "to_lab"]
