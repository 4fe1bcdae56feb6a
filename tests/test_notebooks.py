"""Every notebook executes headless, top to bottom, on its demo data, against read-only inputs.

Each notebook runs whole, as a user would run it, with its working directory inside a
read-only folder of input files (the real instrument files where they are present, else
the bundled test files) that is also the folder its app offers for opening
(``BATTLAB_DATA_DIRS``). Afterwards every input hashes the same and nothing new sits
beside them: no cell writes into the folder it reads from.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REAL_DATA, TEST_DATA
from tests.hardening._readonly import readonly_copy, snapshot

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def readonly_inputs(tmp_path_factory):
    source = REAL_DATA if (REAL_DATA / "MANIFEST.md").is_file() else TEST_DATA
    with readonly_copy([source], tmp_path_factory.mktemp("notebooks") / "inputs") as folder:
        yield folder, snapshot(folder)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, readonly_inputs, monkeypatch):
    folder, before = readonly_inputs
    monkeypatch.setenv("BATTLAB_DATA_DIRS", str(folder))  # the kernel inherits it
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute()
    assert snapshot(folder) == before, "a cell changed an input or wrote beside the inputs"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Traceback" not in text
    if path.name.startswith("05_"):
        # The optical app rendered; the under-the-hood calls printed per-frame metrics, the
        # front fit and the plating table.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "thickness_um" in text and "front_depth_um" in text and "faraday_thickness_um" in text
    if path.name.startswith("11_"):
        # The sensors app rendered; the under-the-hood m.p.e. table names Li⁺.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "mass_per_electron_g_mol" in text and "Li⁺" in text
    if path.name.startswith("09_"):
        # The XRD app rendered; under the hood: tracked peaks, phase fractions, LTO lattice, LiC6 sticks.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "two_theta_deg" in text and "fraction_LiC6" in text and "a_A" in text and "(001)" in text
    if path.name.startswith("10_"):
        # The spectroscopy app rendered; under the hood: I_D/I_G, XAS edge and LCF, XPS composition, Li metal.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "id_ig" in text and "edge_shift_eV" in text and "fraction_in_element" in text
        assert "li_metal_umol" in text
    if path.name.startswith("07_"):
        # The AFM app rendered; under the hood: ISO 25178 roughness, a Hertz fit, EC-AFM film thickness.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "'Sa'" in text and "modulus_GPa" in text and "thickness_nm" in text
    if path.name.startswith("06_"):
        # The TEM app rendered; under the hood: electron wavelength, front fits, SAED candidates, dose budget.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "2.50" in text and "LiF" in text and "Li2O" in text
    if path.name.startswith("12_"):
        # The correlation app rendered; under the hood: offsets, reality check, placement, particles, population.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "clock_offset_s" in text and "consistent with the charge passed" in text
        assert "rotation_deg" in text and "modulus_GPa" in text and "percentile" in text
    if path.name.startswith("14_"):
        # The depth app rendered; under the hood: NDP Li per layer, SIMS layer thicknesses, XPS atomic %.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "li_atoms_cm2" in text and "LiF-rich (inner)" in text and "Li_at_pct" in text
    if path.name.startswith("01_"):
        # The app rendered as a widget and the under-the-hood table has the demo's cycles.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "coulombic_efficiency_pct" in text
    if path.name.startswith("02_"):
        # The CV app rendered; the under-the-hood calls printed D, b-values and the Dunn fractions.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "diffusion_coefficient_cm2_s" in text and "b_value" in text and "capacitive_fraction_pct" in text
    if path.name.startswith("03_"):
        # The impedance app rendered, and the under-the-hood fit/KK/DRT printed their results.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "relative_error_pct" in text and "Lin-KK passes" in text and "tau_s" in text
    if path.name.startswith("04_"):
        # The GITT app rendered; the under-the-hood calls listed pulses, D per pulse and the OCV.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "tau_s" in text and "diffusion_coefficient_cm2_s" in text and "ocv_V" in text
    if path.name.startswith("13_"):
        # The scattering app rendered; under the hood: Eq. (1) per curve, Guinier/Porod, SEI thickness vs potential.
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "A_Porod_ratio" in text and "R_g_A" in text and "SEI:thickness_A" in text
