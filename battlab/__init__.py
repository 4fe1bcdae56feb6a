"""battlab: interactive lab notebooks for in situ and operando battery characterization.

``import battlab as bl`` is light: plotting and widget libraries load only when an app
or plot is used.
"""

from importlib import import_module

from battlab.errors import BattlabError
from battlab.io.registry import load

__version__ = "0.1.0"
__all__ = ["load", "BattlabError", "__version__", "io", "echem", "datasets", "provenance",
           "plot", "apps", "errors", "sensors", "imaging", "diffraction", "peaks", "optical", "series", "spectra", "correlate", "tem", "afm", "xrm", "depth", "scattering", "probes", "elements"]

_SUBMODULES = {"io", "echem", "datasets", "provenance", "plot", "apps", "errors", "cli", "sensors", "imaging", "diffraction", "peaks", "optical", "series", "spectra", "correlate", "tem", "afm", "xrm", "depth", "scattering", "probes", "elements"}


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"battlab.{name}")
    raise AttributeError(f"module 'battlab' has no attribute {name!r}")
