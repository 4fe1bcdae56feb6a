"""Correlation of techniques in time and space.

Every in situ signal is read against the same electrochemical timeline and, where
possible, the same place in the sample:

- :mod:`~battlab.correlate.timeline`: the cycler's charge timeline, as-of and
  interpolating joins of any table onto it, clock-offset estimates, common time grids,
  per-cycle aggregation and matching by state of charge across cells;
- :mod:`~battlab.correlate.space`: pixel→physical affines, registration of images of
  different scale (phase correlation, rotation search with NCC refinement, landmarks,
  mutual information), resampling, overlays
  and region statistics;
- :mod:`~battlab.correlate.stats`: correlation with confidence intervals, lag
  correlation, PCA of combined features, outlier flags;
- :mod:`~battlab.correlate.population`: a cell among its population (ΔQ(V), knee, cycle
  life) and the cross-technique reality checks.
"""

from importlib import import_module

_SUBMODULES = ("timeline", "space", "stats", "population")

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"battlab.correlate.{name}")
    for sub in _SUBMODULES:  # public names of the submodules, resolved lazily
        try:
            module = import_module(f"battlab.correlate.{sub}")
        except ImportError:
            continue
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module 'battlab.correlate' has no attribute {name!r}")


def __dir__():
    names = set(__all__)
    for sub in _SUBMODULES:
        try:
            names.update(getattr(import_module(f"battlab.correlate.{sub}"), "__all__", ()))
        except ImportError:
            pass
    return sorted(names)
