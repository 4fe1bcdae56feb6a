"""Reference sticks for common battery phases, computed from literature lattice parameters.

Only positions are given (d and 2θ from the cell and the space group's reflection
conditions); intensities need structure factors and are not bundled, so sticks are
drawn with equal height. Lattice parameters are room-temperature literature values;
each entry cites its source.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from battlab.diffraction.bragg import d_hkl_A, two_theta_deg
from battlab.errors import InvalidParameterError

__all__ = ["PHASES", "phase_names", "reference_sticks"]

# name -> (system, space-group rule, cell in Å, source of the lattice parameters)
PHASES = {
    # Trucano & Chen, Nature 258 (1975) 136: hexagonal graphite a = 2.464, c = 6.711 Å.
    "graphite": ("hexagonal", "P63/mmc", {"a": 2.464, "c": 6.711}, "Trucano & Chen, Nature 258 (1975) 136"),
    # Stage-2 LiC12: interlayer repeat 2 × 3.51 Å (Dahn, Phys. Rev. B 44 (1991) 9170); (00l) only, a unused.
    "LiC12": ("hexagonal-00l", "P", {"a": 4.288, "c": 7.02}, "Dahn, Phys. Rev. B 44 (1991) 9170 (00l only)"),
    # Stage-1 LiC6, P6/mmm: c = 3.706 Å (Guérard & Hérold, Carbon 13 (1975) 337); (00l) only, a unused.
    "LiC6": ("hexagonal-00l", "P", {"a": 4.305, "c": 3.706}, "Guérard & Hérold, Carbon 13 (1975) 337 (00l only)"),
    # LiCoO2, R-3m (hexagonal axes): a = 2.8156, c = 14.0542 Å (Akimoto et al., J. Solid State Chem. 141 (1998) 298).
    "LiCoO2 (LCO)": ("hexagonal", "R-3m", {"a": 2.8156, "c": 14.0542},
                     "Akimoto, Gotoh & Oosawa, J. Solid State Chem. 141 (1998) 298"),
    # LiNi1/3Mn1/3Co1/3O2, R-3m: a ≈ 2.86, c ≈ 14.23 Å (Yabuuchi & Ohzuku, J. Power Sources 119 (2003) 171).
    "NMC111": ("hexagonal", "R-3m", {"a": 2.86, "c": 14.23},
               "Yabuuchi & Ohzuku, J. Power Sources 119–121 (2003) 171 (±0.01 Å)"),
    # LiFePO4 / FePO4, Pnma: Padhi, Nanjundaswamy & Goodenough, J. Electrochem. Soc. 144 (1997) 1188.
    "LiFePO4 (LFP)": ("orthorhombic", "Pnma", {"a": 10.334, "b": 6.008, "c": 4.693},
                      "Padhi et al., J. Electrochem. Soc. 144 (1997) 1188"),
    "FePO4 (FP)": ("orthorhombic", "Pnma", {"a": 9.821, "b": 5.792, "c": 4.788},
                   "Padhi et al., J. Electrochem. Soc. 144 (1997) 1188"),
    # Li4Ti5O12 spinel, Fd-3m: a = 8.3636 Å, the value in the seed review (L456).
    "Li4Ti5O12 (LTO)": ("cubic", "Fd-3m", {"a": 8.3636}, "seed review 003 (L456): LTO a = 8.3636 Å"),
    # Silicon, Fd-3m: a = 5.4310 Å (NIST SRM 640 family certificates give 5.4311 Å at 22.5 °C).
    "Si": ("cubic", "Fd-3m", {"a": 5.4310}, "NIST SRM 640 series, a ≈ 5.4311 Å"),
    # Li15Si4, I-43d: a = 10.685 Å (Obrovac & Christensen, Electrochem. Solid-State Lett. 7 (2004) A93).
    "Li15Si4": ("cubic", "I-43d", {"a": 10.685}, "Obrovac & Christensen, ESSL 7 (2004) A93"),
    # Lithium metal, bcc Im-3m: a = 3.5093 Å at room temperature.
    "Li": ("cubic", "I", {"a": 3.5093}, "bcc Li at room temperature, a = 3.509 Å (standard handbook value)"),
    # LiF, rock salt Fm-3m: a = 4.0270 Å.
    "LiF": ("cubic", "F", {"a": 4.0270}, "LiF rock salt, a = 4.027 Å (standard handbook value)"),
    # Li2O, antifluorite Fm-3m: a = 4.6114 Å.
    "Li2O": ("cubic", "F", {"a": 4.6114}, "Li2O antifluorite, a = 4.611 Å (standard handbook value)"),
}


def phase_names() -> list[str]:
    return list(PHASES)


def _allowed(rule: str, h: int, k: int, l: int) -> bool:
    if rule == "P":
        return True
    if rule == "I":
        return (h + k + l) % 2 == 0
    if rule == "F":
        return len({h % 2, k % 2, l % 2}) == 1
    if rule == "Fd-3m":
        if len({h % 2, k % 2, l % 2}) != 1:
            return False
        return (h % 2 == 1) or (h + k + l) % 4 == 0
    if rule == "I-43d":
        if (h + k + l) % 2:
            return False
        for a, b, c in set(itertools.permutations((h, k, l))):
            if a == b and (2 * a + c) % 4:  # hhl: 2h + l = 4n
                return False
            if a == 0 and b == 0 and c % 4:  # 00l: l = 4n
                return False
        return True
    if rule == "R-3m":  # obverse setting, hexagonal axes
        return (-h + k + l) % 3 == 0
    if rule == "P63/mmc":
        return not ((h == k or (h == 0 and k == 0)) and l % 2)
    if rule == "Pnma":
        if h == 0 and (k + l) % 2:
            return False
        if l == 0 and h % 2:
            return False
        if k == 0 and l == 0 and h % 2:
            return False
        if h == 0 and l == 0 and k % 2:
            return False
        return not (h == 0 and k == 0 and l % 2)
    raise InvalidParameterError(f"unknown reflection rule {rule!r}")


def reference_sticks(phase: str, *, wavelength_A: float = 1.540598, two_theta_range=(10.0, 90.0),
                     max_index: int = 6) -> pd.DataFrame:
    """Reflection positions of a bundled phase for a wavelength.

    Returns
    -------
    DataFrame
        ``phase``, ``hkl`` (text), ``h``, ``k``, ``l``, ``d_A``, ``two_theta_deg``, one row per
        distinct d-spacing in ``two_theta_range``, sorted by 2θ.
    """
    if phase not in PHASES:
        raise InvalidParameterError(f"unknown reference phase {phase!r}; bundled: {', '.join(PHASES)}.")
    system, rule, cell, _src = PHASES[phase]
    only_00l = system.endswith("-00l")
    system = system.replace("-00l", "")
    rng = range(max_index + 1)
    hkls = [(0, 0, l) for l in range(1, 3 * max_index + 1)] if only_00l else \
        [t for t in itertools.product(rng, rng, range(3 * max_index + 1)) if any(t)]
    if only_00l and phase == "LiC12":
        hkls = [t for t in hkls if t[2] % 2 == 0]  # AA|AA stacking of two layers: (00l) with l even
    hkls = [t for t in hkls if _allowed(rule, *t)]
    arr = np.array(hkls)
    d = d_hkl_A(arr, system=system, **cell)
    tt = two_theta_deg(d, wavelength_A)
    table = pd.DataFrame({"phase": phase, "h": arr[:, 0], "k": arr[:, 1], "l": arr[:, 2], "d_A": d,
                          "two_theta_deg": tt})
    lo, hi = two_theta_range
    table = table[(table["two_theta_deg"] >= lo) & (table["two_theta_deg"] <= hi)]
    # Reflections with the same d (equivalents, or accidental overlaps) become one stick.
    table = table.assign(_d=table["d_A"].round(5)).sort_values(["_d", "h", "k", "l"], ascending=[False, False, False, True])
    table = table.drop_duplicates("_d").drop(columns="_d")
    table.insert(1, "hkl", [f"({h}{k}{l})" for h, k, l in zip(table["h"], table["k"], table["l"], strict=True)])
    return table.sort_values("two_theta_deg").reset_index(drop=True)
