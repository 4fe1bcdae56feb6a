"""Depth profiles: neutron depth profiling (NDP), ToF-SIMS profiles and 3-D ion maps,
and XPS sputter-depth series.

Every depth axis carries its unit in its name (``depth_um`` for NDP, ``depth_nm`` for
sputter profiles); interfaces are found the same way for all of them
(:func:`battlab.depth.profiles.find_interfaces`). XPS fitting is
:mod:`battlab.spectra.xps`'s, called once per sputter step.
"""

from battlab.depth.ndp import (
    LI6_CROSS_SECTION_B,
    LI6_NATURAL_ABUNDANCE,
    NDP_LINES_KEV,
    calibrate_energy,
    channel_to_energy,
    depth_resolution_um,
    depth_to_energy,
    difference_profiles,
    energy_to_depth,
    layer_inventory,
    make_ndp_spectra,
    ndp_depth_profile,
    ndp_series,
    read_ndp_spectra,
    read_stopping_table,
    stopping_table,
)
from battlab.depth.profiles import find_interfaces, layer_bounds, read_table
from battlab.depth.sims import (
    calibrate_depth,
    depth_slice,
    fragment_ratio,
    ion_maps,
    lateral_average,
    layer_thicknesses,
    normalize_profile,
    ratio_map,
    read_sims_maps,
    read_sims_profile,
    sims_fragments,
    sims_interfaces,
    sims_long,
)
from battlab.depth.xps_depth import (
    make_xps_depth_series,
    read_xps_depth,
    read_xps_depth_csv,
    read_xps_depth_vamas,
    xps_depth_long,
    xps_depth_profile,
)

__all__ = [
    "LI6_CROSS_SECTION_B", "LI6_NATURAL_ABUNDANCE", "NDP_LINES_KEV", "calibrate_depth", "calibrate_energy",
    "channel_to_energy", "depth_resolution_um", "depth_slice", "depth_to_energy", "difference_profiles",
    "energy_to_depth", "find_interfaces", "fragment_ratio", "ion_maps", "lateral_average", "layer_bounds",
    "layer_inventory", "layer_thicknesses", "make_ndp_spectra", "make_xps_depth_series", "ndp_depth_profile",
    "ndp_series", "normalize_profile", "ratio_map", "read_ndp_spectra", "read_sims_maps", "read_sims_profile",
    "read_stopping_table", "read_table", "read_xps_depth", "read_xps_depth_csv", "read_xps_depth_vamas", "sims_fragments", "sims_interfaces", "sims_long",
    "stopping_table", "xps_depth_long", "xps_depth_profile",
]
