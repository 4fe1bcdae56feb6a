"""Write the gallery notebooks (outputs stripped). Run after editing the cell text here.

Notebooks stay thin: a title, what the technique measures, one app cell, and a short
"under the hood" section with visible library calls (DESIGN.md §4).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

GALLERY = [
    new_markdown_cell(
        "# battlab gallery\n\n"
        "Interactive notebooks for in situ and operando battery characterization. Each app opens on "
        "bundled demo data, so it works offline; upload your own instrument file from inside the app.\n\n"
        "| app | what it does |\n|---|---|\n"
        "| [Galvanostatic cycling](01_galvanostatic_cycling.ipynb) | capacity, coulombic efficiency, "
        "voltage profiles, dQ/dV and rate capability of charge/discharge cycling |\n\n"
        "More techniques (cyclic voltammetry, GITT, impedance, operando imaging, diffraction, sensors and "
        "their correlation) join this list as they land."
    ),
    new_code_cell("import battlab as bl\n\nprint(f\"battlab {bl.__version__}\")"),
]

CYCLING = [
    new_markdown_cell(
        "# Galvanostatic cycling\n\n"
        "Galvanostatic cycling charges and discharges a cell at constant current between voltage limits and "
        "logs voltage against time. From it come the capacity of every cycle, the coulombic efficiency "
        "(charge out / charge in, low in the first cycle where the SEI forms), capacity retention, the "
        "voltage profiles and their derivative dQ/dV, whose peaks mark phase transitions such as the "
        "staging of graphite.\n\n"
        "The app finds every half cycle from the sign of the current. It opens on a synthetic graphite half "
        "cell (formation, a C/10–5C rate test, then C/2 cycling); upload your own BioLogic `.mpr`/`.mpt`, "
        "BDF CSV, or Neware/Arbin/Maccor-style CSV/XLSX export instead. Enter the active mass and area to "
        "get mAh/g and mAh/cm²: battlab never assumes them."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.CyclingApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "The app is a thin layer over plain functions you can call in your own notebooks. "
        "`bl.load(\"my_cell.mpr\")` reads an instrument file into the same table the demo uses."
    ),
    new_code_cell("demo = bl.datasets.make_cycling()"),
    new_code_cell("summary = bl.echem.cycling.summarize_cycles(demo.data, active_mass_mg=12.5)\nsummary.head()"),
    new_code_cell("bl.echem.cycling.rate_capability(summary)"),
    new_markdown_cell(
        "Capacities are Σ I·Δt over each half cycle (the current of a row is the mean over the interval "
        "ending at it, as cyclers log ⟨I⟩). dQ/dV uses only rows that advance the voltage, interpolated "
        "onto a 1 mV grid and differentiated with a Savitzky–Golay filter or a smoothing spline.\n\n"
        "**Reference.** Electrochemical methods and their use in operando studies are reviewed in the "
        "papers behind this suite (see the project's research notes)."
    ),
]


def write(cells, name):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"{name.split('_')[0]}-{k:02d}"  # stable ids keep diffs small
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    write(GALLERY, "00_gallery.ipynb")
    write(CYCLING, "01_galvanostatic_cycling.ipynb")
