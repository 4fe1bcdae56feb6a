"""XRF and EDS element maps: readers (multi-page TIFF, zip/folder of per-element maps,
HDF5), normalisation, fraction and ratio maps with Poisson uncertainty, RGB composites,
phase maps, line profiles and registration onto SEM/X-ray images (via battlab.correlate)."""

from battlab.elements.analysis import (
    element_profiles,
    element_summary,
    fraction_maps,
    normalise,
    parse_ratio,
    phase_map,
    ratio_map,
    register_maps,
    rgb_composite,
    select,
    total_counts,
)
from battlab.elements.io import element_maps, element_symbol, read_element_maps, to_table

__all__ = ["read_element_maps", "element_maps", "element_symbol", "to_table", "select", "total_counts", "normalise",
           "fraction_maps", "ratio_map", "parse_ratio", "rgb_composite", "phase_map", "element_profiles",
           "register_maps", "element_summary"]
