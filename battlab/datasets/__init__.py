"""Deterministic demo data with known ground truth, one generator per technique.

Every generator returns a :class:`Demo`: the data in battlab's canonical form, plus
``truth``, the parameters and exact answers the analysis must recover. The apps load
these when no file is given, so every notebook runs offline with no setup.
"""

from battlab.datasets._base import Demo
from battlab.datasets.afm import (
    make_ecafm_series,
    make_force_curve,
    make_force_map,
    make_rough_surface,
)
from battlab.datasets.correlation import make_multimodal
from battlab.datasets.cv import make_cv
from battlab.datasets.cycling import graphite_ocv, make_cycling
from battlab.datasets.diffraction import (
    make_lto_series,
    make_operando_graphite,
    make_sized_pattern,
)
from battlab.datasets.eis import make_eis_series, make_randles, make_two_arc
from battlab.datasets.gitt import make_gitt, make_pitt
from battlab.datasets.optical import make_graphite_movie
from battlab.datasets.population import population_demo
from battlab.datasets.sensors import (
    make_acoustic,
    make_ae_waveform,
    make_dilatometry,
    make_eqcm,
    make_moss,
)
from battlab.datasets.spectra import (
    make_ftir_series,
    make_nmr_plating_series,
    make_raman_graphite_series,
    make_xas_mixture_series,
    make_xps_sei,
)
from battlab.datasets.xrm import (
    make_channel_volume,
    make_cracked_series,
    make_layered_volume,
    make_packed_spheres,
    make_phantom_projections,
    make_xanes_stack,
)

__all__ = ["Demo", "make_cycling", "graphite_ocv", "make_randles", "make_two_arc", "make_eis_series", "make_cv", "load_demo", "DEMOS",
           "make_eqcm", "make_dilatometry", "make_moss", "make_acoustic", "make_ae_waveform", "make_gitt", "make_pitt",
           "make_operando_graphite", "make_lto_series", "make_sized_pattern",
           "make_graphite_movie", "make_raman_graphite_series", "make_ftir_series", "make_xps_sei",
           "make_xas_mixture_series", "make_nmr_plating_series",
           "make_packed_spheres", "make_channel_volume", "make_layered_volume", "make_cracked_series",
           "make_xanes_stack", "make_phantom_projections", "make_multimodal", "population_demo",
           "make_rough_surface", "make_force_curve", "make_force_map", "make_ecafm_series"]

#: Demo name -> (generator, description) for the app pickers.
DEMOS = {
    "graphite half cell (100 cycles, rate test)": (make_cycling, "cycling"),
    "Randles cell (CPE + Warburg)": (make_randles, "eis"),
    "SEI + charge transfer (two arcs)": (make_two_arc, "eis"),
    "200 impedance spectra along SOC": (make_eis_series, "eis"),
    "CV at 6 scan rates (diffusive + pseudocapacitive)": (make_cv, "cv"),
    "EQCM: graphite film, Li+ and first-cycle SEI": (make_eqcm, "sensors"),
    "Dilatometry: Sb anode (+110 %)": (make_dilatometry, "sensors"),
    "MOSS: 108 nm Si film": (make_moss, "sensors"),
    "Acoustic emission: Si/C anode hit list": (make_acoustic, "sensors"),
    "GITT: thin film with known D(x) (190 pulses)": (make_gitt, "gitt"),
    "PITT: thin film, 20 steps of 10 mV, known D": (make_pitt, "gitt"),
    "operando XRD: graphite (002) → LiC12 → LiC6": (make_operando_graphite, "xrd"),
    "XRD: LTO lattice drift 8.3636 → 8.3580 Å": (make_lto_series, "xrd"),
    "XRD: Si, 25 nm crystallites": (make_sized_pattern, "xrd"),
    "operando Raman: graphite G 1580 → 1602 cm⁻¹, D/G": (make_raman_graphite_series, "raman"),
    "operando FTIR: SEI bands growing with charge": (make_ftir_series, "ftir"),
    "XPS: SEI C 1s and F 1s (Shirley)": (make_xps_sei, "xps"),
    "operando XANES: Mn3+/Mn4+ mixture (3 eV shift)": (make_xas_mixture_series, "xas"),
    "operando 7Li NMR: plated and dead lithium": (make_nmr_plating_series, "nmr"),
    "XRM: packed-sphere electrode with binder (64³)": (make_packed_spheres, "xrm"),
    "XRM: straight channels (τ = 1)": (make_channel_volume, "xrm"),
    "XRM: layered medium (series/parallel bounds)": (make_layered_volume, "xrm"),
    "XRM: operando swelling and cracking particles": (make_cracked_series, "xrm"),
    "XANES imaging: LiFePO4/FePO4 particles with a known SOC map": (make_xanes_stack, "xanes"),
    "X-ray CT: phantom projections (axis offset, rings)": (make_phantom_projections, "xct"),
    "multimodal graphite cell: optical, XRD, EIS, AFM + X-ray maps": (make_multimodal, "correlation"),
    "AFM: self-affine surface, Sq = 3 nm on a tilt": (make_rough_surface, "afm"),
    "AFM: two-phase force-volume map": (make_force_map, "afm"),
    "EC-AFM: SEI growth and step swelling": (make_ecafm_series, "afm"),
}


# In situ TEM (battlab.tem)
from battlab.datasets.tem import (  # noqa: E402
    make_4dstem_cube,
    make_eds_spectrum_image,
    make_eels_spectrum,
    make_eels_spectrum_image,
    make_fracture_population,
    make_hrtem_lattice,
    make_hrtem_series,
    make_li_nucleation_movie,
    make_saed_pattern,
    make_saed_series,
    make_si_nanowire_movie,
)

__all__ += ["make_si_nanowire_movie", "make_li_nucleation_movie", "make_saed_pattern", "make_saed_series",
            "make_hrtem_lattice", "make_hrtem_series", "make_eels_spectrum", "make_eels_spectrum_image",
            "make_fracture_population", "make_eds_spectrum_image", "make_4dstem_cube"]
DEMOS.update({
    "TEM: Si nanowire lithiation (shrinking core, drift)": (make_si_nanowire_movie, "tem"),
    "TEM: Li nucleation and growth (instantaneous)": (make_li_nucleation_movie, "tem"),
    "SAED: Si rings at 200 kV": (make_saed_pattern, "saed"),
    "SAED series: Si → Li15Si4 (JMAK)": (make_saed_series, "saed"),
    "HRTEM: graphite (0002) +5.9 %": (make_hrtem_series, "tem"),
    "EELS: Li K, C K, O K and plasmons": (make_eels_spectrum, "eels"),
})

# Imaging-only techniques: neutron radiography, 7Li MRI, electron holography
from battlab.datasets.imaging import (  # noqa: E402
    make_hologram,
    make_mri_csi_series,
    make_mri_volume,
    make_neutron_radiography_series,
    make_phase_step,
)

__all__ += ["make_neutron_radiography_series", "make_mri_csi_series", "make_mri_volume", "make_hologram",
            "make_phase_step"]
DEMOS.update({
    "neutron radiography: Li moving anode → cathode": (make_neutron_radiography_series, "radiography"),
    "7Li MRI chemical-shift imaging: growing Li deposit": (make_mri_csi_series, "mri"),
    "1H MRI volume: electrolyte and Li dendrites": (make_mri_volume, "mri"),
    "electron holography: off-axis hologram of a particle": (make_hologram, "holography"),
    "electron holography: phase step across an interface": (make_phase_step, "holography"),
})

# Depth profiles: NDP, ToF-SIMS, XPS sputter series (battlab.depth)
from battlab.datasets.depth import (  # noqa: E402
    make_ndp_plating_series,
    make_ndp_profile,
    make_sims_map,
    make_sims_profile,
    make_xps_depth_series,
)

__all__ += ["make_ndp_profile", "make_ndp_plating_series", "make_sims_profile", "make_sims_map",
            "make_xps_depth_series"]
DEMOS.update({
    "NDP: Li through an SEI + graphite electrode": (make_ndp_profile, "ndp"),
    "NDP series: graphite fills, then Li plates": (make_ndp_plating_series, "ndp"),
    "ToF-SIMS: organic over LiF-rich SEI": (make_sims_profile, "sims"),
    "ToF-SIMS 3-D map: LiF-rich patch": (make_sims_map, "sims"),
    "XPS sputter series through an SEI": (make_xps_depth_series, "xps_depth"),
})

# Small-angle scattering and reflectometry (battlab.scattering)
from battlab.datasets.scattering import (  # noqa: E402
    make_reflectivity_series,
    make_saxs_reduction,
    make_saxs_series,
)

__all__ += ["make_saxs_series", "make_saxs_reduction", "make_reflectivity_series"]
DEMOS.update({
    "SANS: anode swelling and fracture (seed Eq. 1)": (make_saxs_series, "saxs"),
    "SAXS: raw sample and empty cell (reduction)": (make_saxs_reduction, "saxs"),
    "NR: SEI growing on Cu with potential": (make_reflectivity_series, "reflectometry"),
})

def load_demo(name: str = "graphite half cell (100 cycles, rate test)") -> Demo:
    """Build a named demo dataset (deterministic)."""
    from battlab.errors import InvalidParameterError

    if name not in DEMOS:
        raise InvalidParameterError(f"unknown demo {name!r}; choose one of {list(DEMOS)}.")
    return DEMOS[name][0]()

# Mössbauer and EPR (battlab.spectra.mossbauer / battlab.spectra.epr)
from battlab.datasets.spectra import (  # noqa: E402
    make_alpha_fe_calibration,
    make_epr_plating_series,
    make_epr_reference,
    make_mossbauer_lfp_series,
)

__all__ += ["make_alpha_fe_calibration", "make_epr_plating_series", "make_epr_reference", "make_mossbauer_lfp_series"]
DEMOS.update({
    "operando Mössbauer: LiFePO4 → FePO4 doublets along charge": (make_mossbauer_lfp_series, "mossbauer"),
    "operando EPR: Li metal lines (narrow + broad) during plating": (make_epr_plating_series, "epr"),
})

# Scanning probes and element maps (battlab.probes / battlab.elements)
from battlab.datasets.elements import make_nmc_element_maps  # noqa: E402
from battlab.datasets.probes import (  # noqa: E402
    make_approach_curves,
    make_esm_maps,
    make_secm_map,
    make_sicm_maps,
)

__all__ += ["make_approach_curves", "make_secm_map", "make_sicm_maps", "make_esm_maps", "make_nmc_element_maps"]
DEMOS.update({
    "SECM: approach curves (conductor, insulator, κ = 0.3, 1, 3)": (make_approach_curves, "secm"),
    "SECM: feedback map with active spots of known k": (make_secm_map, "secm"),
    "EDS: NMC Ni-rich core / Mn-rich shell maps + shifted SEM": (make_nmc_element_maps, "elements"),
})
