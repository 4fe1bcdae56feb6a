"""Reference d-spacings of battery phases for electron diffraction, computed from the cell.

The phases shared with X-ray diffraction (graphite, Si, Li15Si4, Li, LiF, Li2O) come
from :data:`battlab.diffraction.references.PHASES`; the metals, Li2S, NiO and SnO2 that
in situ TEM meets are added here with their sources. d-spacings follow from the lattice
parameters and the space group's reflection conditions; the multiplicity of each ring
(the number of equivalent reflections) is counted, intensities are not bundled.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pandas as pd

from battlab.diffraction.bragg import d_hkl_A
from battlab.diffraction.references import PHASES as XRD_PHASES
from battlab.diffraction.references import _allowed as _xrd_allowed
from battlab.errors import InvalidParameterError

__all__ = ["TEM_PHASES", "tem_phase_names", "reflections"]

_SHARED = ("graphite", "Si", "Li15Si4", "Li", "LiF", "Li2O")

# name -> (system, reflection rule, cell in Å, source)
TEM_PHASES = {name: XRD_PHASES[name] for name in _SHARED}
TEM_PHASES.update({
    # Li2S antifluorite Fm-3m, a = 5.7158 Å (ICSD room-temperature value, e.g. Buehrer et al. 1991).
    "Li2S": ("cubic", "F", {"a": 5.7158}, "Li2S antifluorite, a = 5.716 Å (standard handbook value)"),
    # fcc metals (room temperature): Au 4.0782, Cu 3.6149, Ni 3.5240 Å; bcc Fe 2.8665 Å.
    "Au": ("cubic", "F", {"a": 4.0782}, "Au fcc, a = 4.0782 Å (standard handbook value)"),
    "Cu": ("cubic", "F", {"a": 3.6149}, "Cu fcc, a = 3.6149 Å (standard handbook value)"),
    "Ni": ("cubic", "F", {"a": 3.5240}, "Ni fcc, a = 3.5240 Å (standard handbook value)"),
    "Fe": ("cubic", "I", {"a": 2.8665}, "α-Fe bcc, a = 2.8665 Å (standard handbook value)"),
    # NiO rock salt Fm-3m, a = 4.1771 Å.
    "NiO": ("cubic", "F", {"a": 4.1771}, "NiO rock salt, a = 4.177 Å (standard handbook value)"),
    # SnO2 rutile P42/mnm, a = 4.7374, c = 3.1864 Å (Baur, Acta Cryst. 9 (1956) 515).
    "SnO2": ("tetragonal", "P42/mnm", {"a": 4.7374, "c": 3.1864}, "Baur, Acta Cryst. 9 (1956) 515"),
})


def tem_phase_names() -> list[str]:
    return list(TEM_PHASES)


def _allowed(rule, h, k, l):
    if rule == "P42/mnm":  # rutile: 0kl k+l=2n, h00 h=2n, 00l l=2n (and permutations of the a axes)
        for a, b in ((h, k), (k, h)):
            if a == 0 and (b + l) % 2:
                return False
        if h == 0 and k == 0 and l % 2:
            return False
        return not (l == 0 and (h == 0 or k == 0) and (h + k) % 2)
    return _xrd_allowed(rule, abs(h), abs(k), abs(l)) if rule not in ("P63/mmc", "R-3m", "Pnma") \
        else _xrd_allowed(rule, h, k, l)


def reflections(phase: str, *, d_min_A: float = 0.8, d_max_A: float = 20.0, max_index: int = 6) -> pd.DataFrame:
    """Distinct d-spacings of a phase (one row per ring) with their multiplicity.

    Returns
    -------
    DataFrame
        ``phase``, ``hkl`` (lowest positive indices of the family), ``d_A``,
        ``multiplicity``, sorted by decreasing d.
    """
    if phase not in TEM_PHASES:
        raise InvalidParameterError(f"unknown phase {phase!r}; bundled: {', '.join(TEM_PHASES)}.")
    table = _all_reflections(phase, int(max_index))
    keep = (table["d_A"] >= d_min_A) & (table["d_A"] <= d_max_A)
    return table[keep].reset_index(drop=True).copy()


@functools.lru_cache(maxsize=64)
def _all_reflections(phase: str, max_index: int) -> pd.DataFrame:
    # every ring down to 0.3 Å, computed once per phase (the index loop is the slow part)
    return _reflections(phase, d_min_A=0.3, d_max_A=50.0, max_index=max_index)


def _reflections(phase: str, *, d_min_A: float, d_max_A: float, max_index: int) -> pd.DataFrame:
    system, rule, cell, _src = TEM_PHASES[phase]
    only_00l = system.endswith("-00l")
    system = system.replace("-00l", "")
    rng = range(-max_index, max_index + 1)
    if only_00l:
        hkls = [(0, 0, l) for l in range(-3 * max_index, 3 * max_index + 1) if l]
        if phase == "LiC12":
            hkls = [t for t in hkls if t[2] % 2 == 0]
    else:
        hkls = [t for t in itertools.product(rng, rng, rng) if any(t)]
    # hexagonal/rhombohedral rules are written for the indices as given
    hkls = [t for t in hkls if _allowed(rule, *t)]
    arr = np.array(hkls)
    if system == "hexagonal":
        d = d_hkl_A(arr, system=system, **cell)
    else:
        d = d_hkl_A(np.abs(arr), system=system, **cell)
    table = pd.DataFrame({"h": arr[:, 0], "k": arr[:, 1], "l": arr[:, 2], "d_A": d})
    table = table[(table["d_A"] >= d_min_A) & (table["d_A"] <= d_max_A)]
    table["_d"] = table["d_A"].round(4)
    rows = []
    for _, group in table.groupby("_d", sort=False):
        pos = group[(group[["h", "k", "l"]] >= 0).all(axis=1)]
        pick = (pos if len(pos) else group).sort_values(["h", "k", "l"], ascending=False).iloc[0]
        rows.append({"phase": phase, "hkl": f"({int(pick.h)}{int(pick.k)}{int(pick.l)})", "d_A": float(group["d_A"].mean()),
                     "multiplicity": len(group)})
    out = pd.DataFrame(rows, columns=["phase", "hkl", "d_A", "multiplicity"])
    return out.sort_values("d_A", ascending=False).reset_index(drop=True)
