"""Widget apps, one per notebook, sharing one layout (:class:`BaseApp`).

Importing this module loads BokehJS and Panel's JavaScript *inline* into the page, so
the apps render in Voila with no internet access.
"""

from battlab.apps._base import BaseApp, PlotPane, load_browser_resources
from battlab.apps.afm import AFMApp
from battlab.apps.correlation import CorrelationApp
from battlab.apps.cv import CVApp
from battlab.apps.cycling import CyclingApp
from battlab.apps.depth import DepthProfileApp
from battlab.apps.diffraction import XRDApp
from battlab.apps.eis import EISApp
from battlab.apps.gitt import GITTApp
from battlab.apps.optical import OpticalApp
from battlab.apps.sensors import SensorsApp
from battlab.apps.spectra import SpectraApp
from battlab.apps.xrm import XRMApp
from battlab.apps.tem import TEMApp
from battlab.apps.scattering import ScatteringApp
from battlab.apps.probes import ProbesApp

__all__ = ["BaseApp", "PlotPane", "AFMApp", "CorrelationApp", "CVApp", "CyclingApp", "EISApp", "GITTApp", "SensorsApp", "SpectraApp", "XRDApp", "OpticalApp", "TEMApp", "load_browser_resources", "APPS", "XRMApp", "DepthProfileApp", "ProbesApp", "ScatteringApp"]

#: Notebook gallery: app class -> (notebook, one-line description).
APPS = {
    "CyclingApp": ("01_galvanostatic_cycling.ipynb",
                   "Galvanostatic cycling: capacity, coulombic efficiency, voltage profiles, dQ/dV, rate capability."),
    "CVApp": ("02_cyclic_voltammetry.ipynb",
              "Cyclic voltammetry: peaks, ΔEp and E½, Randles–Ševčík D, b-values, Dunn capacitive split."),
    "GITTApp": ("04_gitt.ipynb",
                "GITT and PITT: pulse detection, OCV, Weppner–Huggins and √t-fit diffusion coefficients, PITT decay."),
    "OpticalApp": ("05_operando_optical.ipynb",
                   "Operando optical microscopy (side view): thickness and expansion, colour stages, √t lithiation front."),
    "EISApp": ("03_impedance.ipynb",
               "Impedance: equivalent-circuit fit, Kramers–Kronig check, DRT, spectra along SOC."),
    "SensorsApp": ("11_operando_sensors.ipynb",
                   "Operando sensors: EQCM mass per electron, dilatometry, MOSS film stress, acoustic emission."),
    "SpectraApp": ("10_spectroscopy.ipynb",
                   "Operando spectroscopy: Raman D/G and bands, FTIR, XPS SEI components, XAS edge and LCF, ⁷Li NMR plating."),
    "XRDApp": ("09_operando_xrd.ipynb",
               "Operando XRD: peak fits, d-spacing, strain, FWHM and intensity vs time beside the voltage; lattice, size."),
    "XRMApp": ("08_xray_microscopy.ipynb",
               "X-ray microscopy: porosity through the thickness, pore sizes, tortuosity per axis, cracking, XANES SOC maps, CT."),
    "CorrelationApp": ("12_correlation.ipynb",
                       "Correlation: every technique on one cycling timeline, reality check of the state of lithiation, "
                       "AFM scan placed in an X-ray slice, statistics with confidence intervals, the cell in its population."),
    "AFMApp": ("07_afm.ipynb",
               "AFM: levelling, ISO 25178 roughness, PSD and grains; Hertz/DMT/JKR force curves and maps; EC-AFM SEI growth."),
    "ScatteringApp": ("13_scattering.ipynb",
                      "Small-angle scattering and reflectometry: SAXS/SANS Eq. (1), Guinier, Porod and swelling "
                      "trends; Parratt layer fits of the SEI against potential."),
    "TEMApp": ("06_in_situ_tem.ipynb",
               "In situ TEM: morphology and expansion, reaction fronts and kinetics, nucleation, SAED phase ID, "
               "EELS edges and thickness, electron dose."),
    "DepthProfileApp": ("14_depth_profiling.ipynb",
                        "Depth profiles: NDP Li vs depth from a stopping table, ToF-SIMS sputter depth, layers, "
                        "fragment ratios and ion maps, XPS atomic % vs sputter depth."),
    "ProbesApp": ("15_probes_and_element_maps.ipynb",
                  "Scanning probes and element maps: SECM approach curves (κ, k, contact), SECM/SICM/ESM maps with "
                  "local rate constants, XRF/EDS ratio maps with Poisson σ, phases and registration onto SEM."),
}
