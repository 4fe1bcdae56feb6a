"""Figure builders: pure functions from battlab tables to HoloViews objects.

Nothing here displays anything; apps render the objects, users can ``hv.save`` them.
"""

from battlab.plot import (
    afm,
    cv,
    cycling,
    depth,
    diffraction,
    eis,
    gitt,
    optical,
    probes,
    scattering,
    sensors,
    series,
    spectra,
    tem,
    xrm,
)
from battlab.plot._core import to_html

__all__ = ["afm", "cv", "cycling", "depth", "diffraction", "eis", "gitt", "optical", "probes", "scattering", "sensors", "series", "spectra", "tem", "xrm", "to_html"]
