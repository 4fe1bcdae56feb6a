"""Widget apps, one per notebook, sharing one layout (:class:`BaseApp`).

Importing this module loads BokehJS and Panel's JavaScript *inline* into the page, so
the apps render in Voila with no internet access.
"""

from battlab.apps._base import BaseApp, PlotPane, load_browser_resources
from battlab.apps.cycling import CyclingApp

__all__ = ["BaseApp", "PlotPane", "CyclingApp", "load_browser_resources", "APPS"]

#: Notebook gallery: app class -> (notebook, one-line description).
APPS = {
    "CyclingApp": ("01_galvanostatic_cycling.ipynb",
                   "Galvanostatic cycling: capacity, coulombic efficiency, voltage profiles, dQ/dV, rate capability."),
}
