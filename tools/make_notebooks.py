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
        "voltage profiles, dQ/dV and rate capability of charge/discharge cycling |\n"
        "| [Cyclic voltammetry](02_cyclic_voltammetry.ipynb) | sweeps and scan rates, peaks, ΔEp and E½, "
        "Randles–Ševčík diffusion coefficient, b-values and the Dunn capacitive/diffusive split |\n"
        "| [Electrochemical impedance](03_impedance.ipynb) | equivalent-circuit fit with automatic starting "
        "values, Kramers–Kronig check, distribution of relaxation times, spectra along SOC |\n"
        "| [GITT and PITT](04_gitt.ipynb) | automatic pulse/rest (or potential step) detection, OCV curve, "
        "IR drop, Weppner–Huggins and √t-fit diffusion coefficients against x, with validity flags |\n"
        "| [Operando optical microscopy](05_operando_optical.ipynb) | side-view movie beside the cycling: "
        "electrode thickness and expansion, lithiation stages from colour, kymograph and √t front kinetics |\n"
        "| [Operando X-ray diffraction](09_operando_xrd.ipynb) | peak fits (pseudo-Voigt, Kα1/Kα2), d-spacing, "
        "strain, FWHM and intensity of every pattern beside the voltage; lattice parameters, Scherrer size, "
        "reference sticks of battery phases |\n"
        "| [Operando sensors](11_operando_sensors.ipynb) | EQCM mass per electron, dilatometry, "
        "MOSS film stress and acoustic emission aligned with the cycling |\n"
        "| [Atomic force microscopy](07_afm.ipynb) | levelling, ISO 25178 roughness, PSD and grains of height "
        "maps; Hertz/Sneddon/DMT/JKR force curves and force-volume modulus maps; EC-AFM SEI thickness and "
        "step swelling frame by frame |\n"
        "| [Operando spectroscopy](10_spectroscopy.ipynb) | Raman G band and I_D/I_G, FTIR decomposition bands, XPS "
        "SEI components with Shirley background and composition, XAS edge shift, white line and linear-combination "
        "fit, ⁷Li NMR lithium plating, ⁵⁷Fe Mössbauer doublets/sextets with α-Fe velocity calibration and "
        "Fe²⁺/Fe³⁺ site fractions along charge, EPR g, ΔB_pp, spin counts and the narrow/broad Li-metal lines "
        "during plating; PCA of every series |\n"
        "| [In situ TEM](06_in_situ_tem.ipynb) | movie morphology and expansion by a named definition, kymograph reaction fronts with linear/parabolic/power-law/Deal–Grove/JMAK kinetics and a two-regime fit, nucleation N(t) and growth exponents, SAED rings → d with the relativistic camera equation and ranked phase candidates, EELS edges and t/λ, electron dose and dose budget; GPA strain maps (ε_xx, ε_yy, ε_xy, rotation); EDS Cliff–Lorimer quantification and element maps; 4D-STEM virtual BF/ADF and centre of mass; electron holography (hologram → phase by sideband filtering, phase profiles, potential step in V); neutron radiography movies (open-beam/dark normalisation, change vs first frame, Li areal density) through the same movie tabs |\n"
        "| [X-ray microscopy and tomography](08_xray_microscopy.ipynb) | volumes of any size (TIFF, HDF5/NeXus, "
        "zarr, raw): segmentation, porosity through the thickness, connected porosity, pore sizes, particles, "
        "tortuosity per axis from a diffusion simulation; operando swelling and cracking; XANES state-of-charge "
        "maps; a reconstruction lab (FBP/SART, rotation axis, rings); Beer–Lambert and magnification; neutron "
        "tomography and ¹H MRI volumes as technique presets (units, contrast, the 0.2·I_max MRI threshold) |\n"
        "| [Correlation](12_correlation.ipynb) | every technique on one cycling timeline with clock offsets, reality "
        "check of the state of lithiation, AFM scan placed in an X-ray slice and joined particle by particle, "
        "correlations with confidence intervals, the cell in its population |\n"
        "| [Small-angle scattering and reflectometry](13_scattering.ipynb) | SAXS/SANS I(q): background "
        "subtraction, Guinier R_g, Porod constant and specific surface, the Porod + globule model (A_Porod, "
        "A_globule, R_g) and invariant of every curve against potential and SOC (swelling and fracture of anodes); "
        "neutron/X-ray reflectivity with a Parratt layer model (thickness, SLD, roughness), SLD depth profile and "
        "SEI thickness against potential |\n"
        "| [Depth profiling](14_depth_profiling.ipynb) | neutron depth profiling (Li concentration against depth "
        "from triton energies and a stopping-power table, Li per layer, plating series), ToF-SIMS depth profiles "
        "(sputter rate, crater or reference calibration, normalisation, fragment ratios, interfaces and SEI layer "
        "thicknesses, 3-D ion maps), XPS atomic % against sputter depth |\n"
        "| [Scanning probes and element maps](15_probes_and_element_maps.ipynb) | SECM approach curves fitted "
        "with the Cornut–Lefrou feedback theory (contact point, κ and k with uncertainty, conductor/insulator/"
        "kinetic), SECM/SICM/ESM maps with the AFM map tools, local rate-constant maps and active sites; XRF/EDS "
        "element maps: ratio maps with Poisson uncertainty, fractions, RGB composites, phases and registration "
        "onto an SEM image |\n\n"
        "The apps export their tables with a provenance record; the Correlation app joins them."
    ),
    new_markdown_cell(
        "## Where each technique lives\n\n"
        "Each technique of the five reviews behind battlab, with the app (and tab or preset) that opens it, "
        "the command that runs it on your files, and the library module to call from your own notebook.\n\n"
        "| technique | app → tab / preset | command | library |\n|---|---|---|---|\n"
        "| galvanostatic cycling, dQ/dV, rate capability | [cycling](01_galvanostatic_cycling.ipynb) | "
        "`battlab cycling` | `bl.echem.cycling` |\n"
        "| cyclic voltammetry | [CV](02_cyclic_voltammetry.ipynb) | `battlab cv` | `bl.echem.cv` |\n"
        "| impedance, Kramers–Kronig, DRT | [impedance](03_impedance.ipynb) | `battlab eis` | `bl.echem.eis` |\n"
        "| GITT / PITT | [GITT](04_gitt.ipynb) | `battlab gitt` | `bl.echem.gitt` |\n"
        "| side-view optical microscopy, Li plating | [optical](05_operando_optical.ipynb) | `battlab optical` | "
        "`bl.optical`, `bl.imaging` |\n"
        "| in situ TEM movies, fronts, nucleation, dose | [TEM](06_in_situ_tem.ipynb) → movie, fronts, nucleation, "
        "dose | `battlab tem` | `bl.tem` |\n"
        "| SAED, HRTEM FFT, GPA strain | [TEM](06_in_situ_tem.ipynb) → diffraction | `battlab saed`, `battlab tem` | "
        "`bl.tem` |\n"
        "| EELS, EDS, 4D-STEM | [TEM](06_in_situ_tem.ipynb) → spectroscopy | `battlab tem` | `bl.tem` |\n"
        "| electron holography phase images | [TEM](06_in_situ_tem.ipynb) → holography | `battlab holography` | "
        "`bl.tem.holography` |\n"
        "| neutron radiography | [TEM](06_in_situ_tem.ipynb) → movie, preset *neutron radiography* | "
        "`battlab tem --preset neutron-radiography` | `bl.imaging.presets` |\n"
        "| AFM topography, force curves, KPFM, C-AFM, EC-AFM | [AFM](07_afm.ipynb) | `battlab afm`, "
        "`battlab afm-force` | `bl.afm` |\n"
        "| X-ray tomography and microscopy, reconstruction | [X-ray microscopy](08_xray_microscopy.ipynb) | "
        "`battlab xrm` | `bl.xrm` |\n"
        "| XANES imaging (SOC maps) | [X-ray microscopy](08_xray_microscopy.ipynb) → XANES | `battlab xanes` | "
        "`bl.xrm.xanes` |\n"
        "| neutron tomography, ¹H MRI volumes | [X-ray microscopy](08_xray_microscopy.ipynb) → technique preset | "
        "`battlab xrm --preset` | `bl.imaging.presets` |\n"
        "| ⁷Li MRI chemical-shift imaging | — (library and notebook cell in [X-ray microscopy](08_xray_microscopy.ipynb)) | — | "
        "`bl.imaging.presets` |\n"
        "| operando XRD (1-D patterns, 2-D detector frames) | [XRD](09_operando_xrd.ipynb) | `battlab xrd` | "
        "`bl.diffraction` |\n"
        "| Raman, FTIR, XPS, XAS, ⁷Li NMR | [spectroscopy](10_spectroscopy.ipynb) → technique | `battlab spectra` | "
        "`bl.spectra` |\n"
        "| Mössbauer, EPR | [spectroscopy](10_spectroscopy.ipynb) → technique *mossbauer* / *epr* | "
        "`battlab spectra --technique mossbauer` / `epr` | `bl.spectra.mossbauer`, `bl.spectra.epr` |\n"
        "| EQCM, dilatometry, MOSS stress, acoustic emission | [sensors](11_operando_sensors.ipynb) | "
        "`battlab sensors` | `bl.sensors` |\n"
        "| correlation in time and space, cell populations | [correlation](12_correlation.ipynb) | "
        "`battlab correlate` | `bl.correlate` |\n"
        "| SAXS / SANS | [scattering](13_scattering.ipynb) → SAXS/SANS | `battlab saxs` | `bl.scattering` |\n"
        "| neutron and X-ray reflectometry | [scattering](13_scattering.ipynb) → reflectometry | "
        "`battlab reflectometry` | `bl.scattering` |\n"
        "| neutron depth profiling, ToF-SIMS, XPS depth series | [depth profiling](14_depth_profiling.ipynb) | "
        "`battlab depth` | `bl.depth` |\n"
        "| SECM approach curves; SECM/SICM/ESM maps | [probes and element maps](15_probes_and_element_maps.ipynb) | "
        "`battlab secm` | `bl.probes` |\n"
        "| XRF / EDS element maps | [probes and element maps](15_probes_and_element_maps.ipynb) → element maps | "
        "`battlab elements` | `bl.elements` |\n"
        "| many files at once | — | `battlab batch` | `battlab.batch` |\n"
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


IMPEDANCE = [
    new_markdown_cell(
        "# Electrochemical impedance\n\n"
        "Impedance spectroscopy applies a small AC perturbation over many decades of frequency and "
        "records Z = Z′ + jZ″. Processes with different time constants separate: the electrolyte "
        "resistance at the high-frequency intercept, the SEI and charge-transfer arcs (resistance ‖ "
        "double-layer capacitance) at kHz–Hz, and solid-state diffusion as a 45° Warburg line at low "
        "frequency, whose coefficient σ gives the diffusion coefficient.\n\n"
        "The app fits an equivalent circuit written as text (`R0-p(R1,CPE1)-W1`) from starting values "
        "read off the spectrum, checks the data with the Lin-KK test, and computes the distribution of "
        "relaxation times (DRT), which shows how many arcs there are and suggests a circuit. It opens on "
        "a synthetic Randles cell; the demo picker also has two arcs (SEI + charge transfer) and a series "
        "of 200 spectra along SOC. Upload an EC-Lab PEIS `.mpr`/`.mpt`, a Gamry `.DTA` or a CSV of "
        "frequency, Z′ and Z″."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.EISApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "The same analyses as plain calls. `bl.load(\"my_peis.mpr\")` reads an instrument file into the "
        "table the demo uses; `bl.echem.eis.impedance_from_table` turns it into frequency and complex Z."
    ),
    new_code_cell("demo = bl.datasets.make_two_arc(noise=0.003)\n"
                  "f, Z = bl.echem.eis.impedance_from_table(demo.data)"),
    new_code_cell("fit = bl.echem.eis.EquivalentCircuit(\"R0-p(R1,CPE1)-p(R2,CPE2)\").fit(f, Z)\nfit.summary()"),
    new_code_cell("bl.echem.eis.kramers_kronig(f, Z).verdict"),
    new_code_cell("bl.echem.eis.drt(f, Z).peaks"),
    new_markdown_cell(
        "Fits are complex non-linear least squares on the real and imaginary residuals (weighted by |Z| "
        "unless chosen otherwise), positive parameters in log space, with an analytic Jacobian; standard "
        "errors come from the Jacobian at the optimum. Lin-KK fits Voigt elements on log-spaced time "
        "constants, their number chosen by the μ criterion. The DRT is Tikhonov-regularised non-negative "
        "least squares on Gaussian basis functions, λ chosen by generalised cross-validation.\n\n"
        "**References.** M. Schönleber et al., Electrochim. Acta 131 (2014) 20 (Lin-KK); T. H. Wan et al., "
        "Electrochim. Acta 184 (2015) 483 (DRT by RBF + Tikhonov); C. Ho, I. D. Raistrick, R. A. Huggins, "
        "J. Electrochem. Soc. 127 (1980) 343 (D from the Warburg coefficient); the seed review's §2.3."
    ),
]


SENSORS = [
    new_markdown_cell(
        "# Operando sensors: EQCM, dilatometry, MOSS stress, acoustic emission\n\n"
        "These sensors record a time series next to the electrochemistry: the resonance of a quartz crystal "
        "(EQCM: mass of the electrode film), the height of the electrode (dilatometry), the curvature of a "
        "substrate carrying a thin-film electrode (MOSS: film stress by Stoney's equation) and the elastic waves "
        "of cracking particles or gas bubbles (acoustic emission). Their value lies in lining them up with the "
        "charge passed: mass per electron names the species that moves, expansion and stress per cycle show "
        "reversible breathing and irreversible ratcheting, hits per half cycle show when particles crack.\n\n"
        "The app opens on synthetic records built on a real cycling timeline (Li⁺ insertion in a graphite "
        "film, an Sb electrode expanding by 110 %, a Si film yielding at −1.75 GPa / +1 GPa, a Si/C anode "
        "cracking mostly in its first lithiation). Upload a sensor table (CSV/TSV with a time column and "
        "sensor columns with units) and the cycling file it ran with; crystal, substrate and film constants "
        "are visible inputs, never silent defaults."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.SensorsApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "`bl.sensors.read_sensor_table(\"my_eqcm.csv\", kind=\"eqcm\")` reads an instrument export into the "
        "same table the demo uses; `bl.sensors.align_to_cycling` puts it on the cycler's timeline (as-of join "
        "of cycle labels, interpolated charge, clock offset) and its tidy output is what the correlation "
        "notebook reads."
    ),
    new_code_cell("demo = bl.datasets.make_eqcm()"),
    new_code_cell("aligned = bl.sensors.align_to_cycling(demo.data.sensor, demo.data.echem, clock_offset_s=120.0)"),
    new_code_cell("mass = bl.sensors.eqcm.eqcm_mass(aligned, f0_Hz=5e6, area_cm2=1.37, overtone=3)\n"
                  "bl.sensors.eqcm.mass_per_electron(mass)"),
    new_markdown_cell(
        "Sauerbrey: Δm = −C_f·Δf_n/n with C_f = √(ρ_q·μ_q)/(2f₀²) (17.7 ng cm⁻² Hz⁻¹ at 5 MHz), valid while "
        "ΔD/(−Δf/n) stays well below 4·10⁻⁷ Hz⁻¹. Mass per electron m.p.e. = −F·dm/dQ: 6.94 g/mol for Li⁺. "
        "Stoney: σ_f·h_f = M_s·h_s²·Δκ/6 with M_s = E_s/(1 − ν_s); MOSS curvature Δκ = (d − d₀)/d₀ · cos φ/(2L).\n\n"
        "**References.** G. Sauerbrey, Z. Phys. 155 (1959) 206; G. G. Stoney, Proc. R. Soc. A 82 (1909) 172; "
        "V. A. Sethuraman et al., J. Power Sources 195 (2010) 5062; the seed review's §3.4.4, §3.7.1, §3.7.3 "
        "and §3.7.4 (see the project's research notes)."
    ),
]

CV = [
    new_markdown_cell(
        "# Cyclic voltammetry\n\n"
        "Cyclic voltammetry sweeps the electrode potential linearly up and down between two vertices and "
        "records the current. Redox reactions show as peaks: their potentials give ΔEp and E½, and how the "
        "peak current grows with the scan rate v tells how the charge is stored. A diffusion-limited "
        "reaction grows as √v (Randles–Ševčík, which gives the diffusion coefficient D), a capacitive or "
        "surface process as v (the b-value of |ip| = a·v^b). Fitting i(E) = k1·v + k2·√v at every potential "
        "(Dunn) splits each voltammogram into its capacitive and diffusive parts.\n\n"
        "The app finds the sweeps and their scan rates from the potential itself. It opens on a synthetic "
        "electrode with a reversible diffusive couple and a surface (pseudocapacitive) peak at six scan "
        "rates; upload your own EC-Lab `.mpr`/`.mpt` or CSV instead (one file with all scan rates, or several "
        "files at once, one per rate). D needs the number of electrons, the "
        "electrode area and the concentration: battlab never assumes them."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.CVApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "The same analysis with plain functions. `bl.load(\"my_cv.mpr\")` (or a list of files, one per "
        "scan rate) gives the table the demo uses."
    ),
    new_code_cell("demo = bl.datasets.make_cv()"),
    new_code_cell("sweeps = bl.echem.cv.label_sweeps(demo.data)\nsweeps.attrs[\"battlab\"][\"sweeps\"].head()"),
    new_code_cell("peaks = bl.echem.cv.find_peaks(sweeps, window_V=(3.3, 3.7), baseline_window_V=(3.25, 3.3))"),
    new_code_cell("bl.echem.cv.randles_sevcik(peaks, n_electrons=1, area_cm2=1.0, concentration_mol_cm3=1e-5)"),
    new_code_cell("bl.echem.cv.power_law(peaks)"),
    new_code_cell("bl.echem.cv.dunn_decomposition(sweeps).fractions_"),
    new_markdown_cell(
        "Sweeps are cut at turning points of the potential that stand out by more than a hysteresis, and "
        "each sweep's scan rate is a straight-line fit of potential against time away from the vertices, so "
        "noise, digital staircases and rounded vertices do not disturb it. Peak currents are measured from "
        "a straight baseline fitted just before the peak and extrapolated under it. For the Dunn split each "
        "sweep is averaged onto a common potential grid (per sweep direction) and one least-squares problem "
        "is solved for all potentials at once.\n\n"
        "**References.** Randles–Ševčík and reversible-wave theory: Bard & Faulkner, *Electrochemical "
        "Methods*, ch. 6. b-values and the k1·v + k2·v^½ analysis: Wang, Polleux, Lim & Dunn, "
        "*J. Phys. Chem. C* 111 (2007) 14925; Augustyn, Simon & Dunn, *Energy Environ. Sci.* 7 (2014) 1597."
    ),
]


GITT = [
    new_markdown_cell(
        "# Galvanostatic and potentiostatic intermittent titration (GITT, PITT)\n\n"
        "GITT passes short constant-current pulses, each followed by a long open-circuit rest. The voltage "
        "step between consecutive rests (ΔEs) traces the equilibrium curve, the change during each pulse "
        "(ΔEt, without the IR drop) measures how fast the ions diffuse away from the surface, and the "
        "Weppner–Huggins relation turns their ratio into the chemical diffusion coefficient D at every "
        "composition. PITT steps the potential instead and reads D from the exponential tail of the current.\n\n"
        "The app finds pulses and rests (or potential steps) by itself. It opens on a simulated thin film "
        "whose D(x) is known (with a two-phase-like plateau where the method breaks down, so those pulses "
        "are flagged); a PITT demo is in the picker. The mass, molar mass, molar volume and area (or "
        "thickness) change D by orders of magnitude: battlab never assumes them. Upload an EC-Lab "
        "`.mpr`/`.mpt` or a cycler CSV of your own."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.GITTApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "The same analysis as plain calls; `bl.load(\"my_gitt.mpr\")` reads an instrument file into the "
        "table the demo uses."
    ),
    new_code_cell("demo = bl.datasets.make_gitt(n_pulses=40)\ngeometry = dict(mass_mg=1.01, molar_mass_g_mol=97.87, "
                  "molar_volume_cm3_mol=19.38, area_cm2=1.0)"),
    new_code_cell("bl.echem.gitt.find_pulses(demo.data).head()"),
    new_code_cell("pulses = bl.echem.gitt.analyze_gitt(demo.data, x_initial=0.08, **geometry)\n"
                  "pulses[[\"x_mid\", \"delta_Es_V\", \"delta_Et_V\", \"diffusion_coefficient_cm2_s\", \"flags\"]].head(10)"),
    new_code_cell("bl.echem.gitt.ocv_curve(pulses).head()"),
    new_markdown_cell(
        "Weppner–Huggins: D = 4/(πτ)·(m_B·V_M/(M_B·S))²·(ΔEs/ΔEt)², valid for τ ≪ L²/D and a constant OCV "
        "slope over the pulse. The √t variant fits E against √t over the chosen window: "
        "D = 4/π·(V_M/(S·F·z))²·(I·(dE/dx)/(dE/d√t))². Flags mark pulses where E is not linear in √t, the "
        "OCV slope changes across the pulse, the voltage changes are at noise level (plateaus), or the rest "
        "did not relax. PITT fits ln|I| = const − π²Dt/(4L²) over the late part of each step.\n\n"
        "**References.** W. Weppner and R. A. Huggins, J. Electrochem. Soc. 124 (1977) 1569; C. J. Wen, "
        "B. A. Boukamp, R. A. Huggins and W. Weppner, J. Electrochem. Soc. 126 (1979) 2258."
    ),
]


XRD = [
    new_markdown_cell(
        "# Operando X-ray diffraction\n\n"
        "Operando XRD records a diffraction pattern I(2θ) every few minutes while the cell cycles. Bragg's law "
        "(λ = 2d sin θ) turns each peak position into a lattice spacing d: a peak that shifts is a solid "
        "solution (the lattice expands or contracts), intensity moving between peaks at fixed positions is a "
        "two-phase reaction, and peak widths give crystallite size (Scherrer) and microstrain "
        "(Williamson–Hall).\n\n"
        "The app opens on a synthetic graphite anode whose (002) peak goes 26.6° → LiC12 (25.3°) → LiC6 (24.0°) "
        "on the clock of a cycling record. Move the pattern slider, pick reference sticks, add or move peak "
        "windows, or upload a `.xy`/`.xye`/`.csv`/`.xrdml` file; folders of patterns are read with "
        "`bl.diffraction.load_series` or the `battlab xrd` command."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.XRDApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "Every number in the app comes from plain functions. A series is an xarray DataArray over "
        "(time, two_theta_deg) with the wavelength in its attributes."
    ),
    new_code_cell("demo = bl.datasets.make_operando_graphite()\ndemo.data"),
    new_code_cell("tracked = bl.diffraction.track_peaks(demo.data, demo.truth[\"windows\"])\ntracked.head()"),
    new_code_cell("bl.diffraction.phase_fractions(tracked).iloc[::10]"),
    new_markdown_cell(
        "With the cell's cycling table, every tracked row also gets the voltage, charge, capacity (from the "
        "first pattern) and state of charge at the pattern's instant (`battlab xrd ... --echem CYCLING_FILE`), so "
        "the (002) position can be read against capacity, as in the app's *x axis* menu."
    ),
    new_code_cell("on_cycling = bl.diffraction.track_peaks(demo.data, demo.truth[\"windows\"], echem=demo.truth[\"echem\"])\n"
                  "on_cycling.loc[on_cycling[\"peak\"] == \"graphite\", [\"pattern\", \"two_theta_deg\", \"voltage_V\", "
                  "\"capacity_mAh\", \"soc\"]].iloc[::8]"),
    new_code_cell("bl.plot.diffraction.contour_with_voltage(demo.data, demo.truth[\"echem\"], x=\"capacity_mAh\")"),
    new_code_cell("lto = bl.datasets.make_lto_series()\n"
                  "lto_tracked = bl.diffraction.track_peaks(lto.data, lto.truth[\"windows\"])\n"
                  "bl.diffraction.lattice_series(lto_tracked, lto.truth[\"hkl\"], system=\"cubic\").head()"),
    new_code_cell("bl.diffraction.reference_sticks(\"LiC6\", wavelength_A=1.540598)"),
    new_markdown_cell(
        "Peaks are area-normalised pseudo-Voigt profiles (area, centre, FWHM, η) on a local polynomial "
        "background, fitted with bounded least squares and an analytic Jacobian; with a Cu tube the Kα2 line "
        "(1.544426 Å, half the Kα1 area) is fitted at the 2θ of the same d. Lattice parameters are linear "
        "least squares of 1/d² on the indices. Scherrer: τ = Kλ/(β cos θ) after removing the instrument "
        "width in quadrature.\n\n"
        "**References.** Operando diffraction of battery materials is reviewed in the seed papers of this "
        "project (see the research notes); reference lattice parameters are cited in "
        "`battlab/diffraction/references.py`."
    ),
]


OPTICAL = [
    new_markdown_cell(
        "# Side-view operando optical microscopy\n\n"
        "A cell built with a window looks at the electrode cross-section while it cycles. Graphite changes "
        "colour as lithium enters it (grey → dark blue dilute stages → red LiC12 → gold LiC6), so the movie "
        "shows where lithium is; the electrode edges show how thick it is. The app measures, in every frame, "
        "the thickness h and expansion ε = h/h₀ − 1, the area fraction of each colour stage, and the depth "
        "of the lithiation front, lined up with the cell voltage, current and charge of the cycler file.\n\n"
        "It opens on a synthetic graphite electrode whose front advances as √t from the separator and which "
        "swells 10 %. The pixel size (µm/px) is required: read it from the microscope's scale bar. Upload a "
        "movie (multi-page TIFF, zip of PNG frames, MP4) and then the cycler file; large movies are read "
        "frame by frame with `bl.imaging.open_movie` or the `battlab optical` command.\n\n"
        "Stage drift is measured and undone first (on by default). Colours are classified in CIELAB or HSV. "
        "*Keep for cycle comparison* stores this movie's relative depth of charge; load the next cycle's movie "
        "to compare them (the demo *graphite cycle 10 compared with cycle 1* does it for you). The *Li metal "
        "plating* analysis (demos: plating then stripping; a soft short and an electrolyte crack) gives the "
        "deposit height along the interface, roughness, dendrites, the Faraday comparison and the dead lithium "
        "left after stripping. Rare events — a short (the voltage collapses at unchanged current) or a sudden "
        "local change in the movie (a crack) — are listed with their (x, y, t) and marked on the frame and the "
        "voltage curve."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.OpticalApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "The same analysis as plain calls. `bl.imaging.open_movie(\"cell.tif\", pixel_size_um=0.5)` opens a "
        "real movie lazily as the (time, y, x, channel) array the demo uses."
    ),
    new_code_cell("demo = bl.datasets.make_graphite_movie()\nmovie, echem = demo.data[\"movie\"], "
                  "demo.data[\"echem\"]\nmovie"),
    new_code_cell("bl.optical.default_calibration()"),
    new_code_cell("result = bl.optical.analyze_movie(movie, separator=\"left\", echem=echem)\n"
                  "result.frames[[\"time_s\", \"voltage_V\", \"thickness_um\", \"expansion_pct\", "
                  "\"front_depth_um\", \"fraction_LiC6\", \"lithiation_index\"]].iloc[::10]"),
    new_code_cell("bl.optical.expansion_by_cycle(result.frames)"),
    new_code_cell("fit = bl.optical.fit_front_kinetics(result.frames, "
                  "until_s=bl.optical.first_lithiation_end_s(result.frames))\nfit.as_dict()"),
    new_code_cell("bl.plot.optical.kymograph(result.kymograph, frames=result.frames)"),
    new_markdown_cell(
        "Drift and HSV: `drift=\"auto\"` measures the stage drift by sub-pixel phase correlation of the "
        "luminance around the current collector (the part that should stand still) and reports the "
        "correlation peak as a confidence; `colour_space=\"hsv\"` classifies with the table's H, S, V centroids."
    ),
    new_code_cell("hsv = bl.optical.analyze_movie(movie, echem=echem, colour_space=\"hsv\", drift=\"auto\")\n"
                  "hsv.frames[[\"time_s\", \"drift_dx_px\", \"drift_confidence\", \"fraction_LiC12\", "
                  "\"fraction_LiC6\"]].iloc[::20]"),
    new_markdown_cell("Cycle 1 against cycle 10: relative depth of charge d* against relative time τ for "
                      "lithiation and delithiation, their hysteresis and the front kinetics of each cycle."),
    new_code_cell("ten = bl.datasets.make_graphite_movie(cycle=10)\n"
                  "frames10 = bl.optical.analyze_movie(ten.data[\"movie\"], echem=ten.data[\"echem\"]).frames\n"
                  "curves, summary = bl.optical.compare_cycles({\"cycle 1\": result.frames, \"cycle 10\": frames10})\n"
                  "summary"),
    new_code_cell("bl.plot.optical.depth_of_charge_comparison(curves)"),
    new_markdown_cell(
        "Lithium plating: the interface height along the electrode gives the deposit thickness, its "
        "roughness σ_h and the dendrite onset; Faraday's law gives the thickness a dense layer would have "
        "(4.85 µm per mAh/cm²), so the measured thickness tells the deposit's porosity."
    ),
    new_code_cell("li = bl.datasets.optical.make_plating_movie(strip_frames=12, onset_frame=14.5)\n"
                  "plating = bl.optical.plating_metrics(li.data[\"movie\"], echem=li.data[\"echem\"], area_cm2=1.0)\n"
                  "plating[[\"time_s\", \"deposit_thickness_um\", \"faraday_thickness_um\", \"porosity\", "
                  "\"roughness_um\", \"dendrite_count\"]].iloc[::5]"),
    new_code_cell("bl.optical.plating_summary(plating)"),
    new_markdown_cell("Rare events in a symmetric Li‖Li cell that shorts, with a crack opening in the "
                      "electrolyte: one table with (x, y, t)."),
    new_code_cell("short = bl.datasets.optical.make_plating_movie(short_frame=30.3, crack_frame=12)\n"
                  "bl.optical.find_events(short.data[\"movie\"], short.data[\"echem\"])"),
    new_markdown_cell(
        "Edges: the row-averaged colour along depth is projected onto the line between the colours on either "
        "side of each electrode edge, which gives the covered fraction of each pixel column and the edge to a "
        "fraction of a pixel. Colours are classified in CIELAB (or in the HSV cone, where hue wraps around) by "
        "the nearest centroid of the calibration table (ΔE cut-off → unclassified); "
        "`bl.optical.calibrate_from_swatches` builds a table from boxes of your own frames. Events: a short is "
        "a row whose |V| falls below 40 % of the previous rows' level at the same current and stays there; a "
        "sudden local change is a patch of the frame-to-frame difference above 6 robust σ that neither runs "
        "along the whole interface nor continues a change of the previous frame. The front is the deepest column whose pixels are mostly red or gold; its depth is "
        "fitted to x = k·tⁿ (n ≈ 0.5: transport-limited, n ≈ 1: reaction-limited). Recovery ratio = "
        "(ε_peak − ε_residual)/ε_peak.\n\n"
        "**Reference.** S. Jayasubramaniyan and H.-W. Lee, *Directing battery chemistry using side-view "
        "operando optical microscopy*, Korean J. Chem. Eng. (2023)."
    ),
]


AFM = [
    new_markdown_cell(
        "# Atomic force microscopy\n\n"
        "An AFM tip scans the electrode and records its height with sub-nanometre vertical resolution over a "
        "few tens of µm². From the height map come roughness and grain statistics; from force–distance curves "
        "(nanoindentation, PeakForce/force-volume) the Young's modulus and adhesion of SEI, binders and "
        "particles; from image series taken in the cell (EC-AFM) the growth of the SEI and the swelling of "
        "graphite steps with potential.\n\n"
        "The app opens on a synthetic self-affine surface with Sq = 3 nm on a tilted plane. Other demos: "
        "particles with a scan scar, a Hertz force curve, a two-phase force-volume map and an EC-AFM series "
        "with a growing SEI, a C-AFM current map and a KPFM map beside an Au pad. Upload a Gwyddion `.gwy`, "
        "Nanoscope `.spm`, JPK `.jpk`, Nanonis `.sxm`, an Asylum `.ibw` image or force curve, a JPK force "
        "file (`.jpk-force`, `.jpk-force-map`), or a text/TIFF height map with its pixel size. The profile "
        "line runs between two points: type them in µm or click them on the map; it gives Ra/Rq and the "
        "height of a step it crosses. A KPFM reference is a typed CPD, a rectangle (typed or clicked) or a "
        "height threshold. For an EC-AFM series choose all frame files at once (or one TIFF stack) under "
        "*Series frames*, then type the potentials or upload the cycling file, set the bare reference "
        "rectangle and draw a line across a step for its swelling. "
        "Report scan size, pixel size and levelling with any roughness value; the tip radius sets the modulus."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.AFMApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "Maps are xarray DataArrays with (y, x) dims, µm coordinates and the unit in their attributes; "
        "`bl.afm.read_afm(\"scan.spm\")` returns one per channel."
    ),
    new_code_cell("demo = bl.datasets.make_rough_surface()\nlevelled = bl.afm.level_plane(demo.data[\"height\"])\n"
                  "bl.afm.roughness(levelled)"),
    new_code_cell("curve = bl.datasets.make_force_curve()\n"
                  "fit = bl.afm.fit_force_curve(curve.data, model=\"hertz\", tip_radius_nm=20, poisson=0.3)\n"
                  "{k: fit[k] for k in (\"modulus_GPa\", \"contact_point_nm\", \"adhesion_nN\", \"r_squared\")}"),
    new_code_cell("series = bl.datasets.make_ecafm_series()\n"
                  "registered, drift = bl.afm.register_series(series.data)\n"
                  "bl.afm.thickness_series(registered, film=series.truth[\"film_mask\"], "
                  "reference=series.truth[\"reference_mask\"]).head()"),
    new_code_cell("# A free profile line (x, y in µm), 50 nm wide: ISO 4287 Ra/Rq and a step height along it.\n"
                  "profile = bl.afm.line_profile(levelled, (0.5, 1.0), (4.5, 3.0), width_um=0.05)\n"
                  "bl.afm.profile_roughness(profile)"),
    new_code_cell("# KPFM: the Au pad (a rectangle in µm) is the reference; the map is φ − φ_ref in eV.\n"
                  "kpfm = bl.datasets.afm.make_kpfm_map()\n"
                  "pad = bl.afm.region_mask(kpfm.data[\"potential\"], x_um=(0, 1.5))\n"
                  "delta = bl.afm.work_function_map(kpfm.data[\"potential\"], reference_mask=pad)\n"
                  "float(delta.values[kpfm.truth[\"sample_mask\"]].mean()), delta.attrs[\"sign_convention\"]"),
    new_markdown_cell(
        "Roughness follows ISO 25178 (Sa, Sq, Ssk, Sku, Sp, Sv, Sz, Sdr) on the levelled map and ISO 4287 "
        "(Ra, Rq) on each scan line after removing its mean line. Force curves: the baseline is a line fitted "
        "far from the surface; the contact point minimises the residual of the model, whose modulus is then "
        "a linear least-squares fit: Hertz F = 4/3·E/(1−ν²)·√R·δ^1.5, Sneddon F = 2/π·E/(1−ν²)·tanα·δ², DMT "
        "with a fitted pull-off force, JKR in its parametric form. EC-AFM frames are registered by phase "
        "correlation; the film thickness is the offset of the film over a bare reference region fitted "
        "together with a common plane. A profile is sampled bilinearly about one pixel apart (its distance "
        "axis is exact) and averaged across its width; a step is the offset of two terrace lines with one "
        "common slope, fitted away from the edge. KPFM sign convention, bias on the sample: "
        "φ − φ_ref = e(V_ref − V_CPD); it flips with the bias on the tip.\n\n"
        "**Reference.** Dini et al., *Multiscale characterization of Li-ion batteries through the combined "
        "use of atomic force microscopy and X-ray microscopy* (review, 2021)."
    ),
]


SPECTRA = [
    new_markdown_cell('# Operando spectroscopy\n\nSpectra recorded while a cell cycles show chemistry that diffraction cannot see: Raman follows the graphite G band (≈ 1580 cm⁻¹, stiffening to ≈ 1600 cm⁻¹ as lithium enters) and the disorder ratio I_D/I_G; FTIR follows electrolyte decomposition bands; XPS separates SEI species (LiF, Li2CO3, C–O, C=O) by binding energy; X-ray absorption edges shift with the oxidation state; ⁷Li NMR sees metallic lithium at ≈ 260 ppm, far from diamagnetic Li at 0 ppm; ⁵⁷Fe Mössbauer spectra tell Fe²⁺ from Fe³⁺ by isomer shift and quadrupole splitting (LiFePO4 → FePO4 as the cell charges); EPR sees the conduction electrons of metallic lithium, a narrow line from mossy or dendritic deposits beside the broad line of the bulk foil.\n\nThe app opens on a synthetic operando Raman series of graphite on the clock of a cycling record; the demo menu holds XAS, XPS, FTIR, NMR, Mössbauer and EPR examples with known answers. Choose a baseline, move the band windows or the spectrum slider, and pick what to plot over time. Upload your own spectrum (.csv, .txt, JCAMP-DX .jdx, XAS .xmu/.xdi/.dat, VAMAS .vms); Mössbauer raw channel files with their α-Fe calibration, and an EPR spin standard, have upload buttons of their own. The download holds every table as CSV, the figures and a provenance record.'),
    new_code_cell('import battlab as bl'),
    new_code_cell('app = bl.apps.SpectraApp()\napp'),
    new_markdown_cell("## Under the hood\n\nA spectrum is an xarray DataArray over its technique's axis (`wavenumber_cm1`, `binding_energy_eV`, `energy_eV`, `shift_ppm`); a series adds `time`. `bl.spectra.analyse_spectra` runs the same analysis as the app."),
    new_code_cell('raman = bl.datasets.make_raman_graphite_series()\nraman.data'),
    new_code_cell('bl.spectra.d_to_g_ratio(raman.data).iloc[::10]'),
    new_code_cell('result = bl.spectra.analyse_spectra(raman.data, echem=raman.truth["echem"])\nresult.tables["d_to_g"][["g_center_cm1", "id_ig", "voltage_V", "capacity_mAh", "soc"]].iloc[::10]'),
    new_code_cell('xas = bl.datasets.make_xas_mixture_series()\nbl.spectra.xas_series_table(xas.data).iloc[::8]'),
    new_code_cell('bl.spectra.xas_lcf(xas.data, xas.truth["references"]).weights.iloc[::8]'),
    new_code_cell('bl.series.pca(xas.data, center=False).n_significant'),
    new_code_cell('xps = bl.datasets.make_xps_sei()\nfits = [bl.spectra.fit_xps(xps.data[region], region) for region in xps.data]\nbl.spectra.composition(fits)'),
    new_code_cell('nmr = bl.datasets.make_nmr_plating_series()\nbl.spectra.lithium_metal_amount(nmr.data, calibration_umol_per_area=nmr.truth["calibration_umol_per_area"]).iloc[::10]'),
    new_markdown_cell("### Mössbauer\n\nA raw multichannel spectrum is folded about the point where its two mirror halves agree and put on a velocity scale by the six lines of an α-Fe foil (±5.312, ±3.076, ±0.840 mm/s), so isomer shifts come out relative to α-Fe. Each spectrum is then fitted with Lorentzian sites: here two quadrupole doublets, Fe²⁺ in LiFePO4 and Fe³⁺ in FePO4. Site fractions are area ratios, which assumes both sites have the same recoil-free fraction."),
    new_code_cell('cal = bl.datasets.make_alpha_fe_calibration()\nvelocity = bl.spectra.calibrate_velocity(cal.data)\nvelocity.slope_mm_s, cal.truth["slope_mm_s"], velocity.folding_point'),
    new_code_cell('moss = bl.datasets.make_mossbauer_lfp_series()\nsites, fractions, _ = bl.spectra.mossbauer_series(moss.data)\nsites.iloc[:2, 2:9]'),
    new_code_cell('fractions[["fraction_Fe2+ LiFePO4", "fraction_Fe3+ FePO4"]].iloc[::3].join(moss.truth["fractions"]["soc"])'),
    new_markdown_cell("### EPR\n\ng = hν/(μB·B) at the zero crossing of the derivative; ΔB_pp between its extremes; the double integral counts spins against a standard once gain, Q, √power, modulation and scans are divided out. Li metal is fitted with two phase-shifted Lorentzian lines (the dispersion admixture of a metal thicker than the skin depth gives the broad line its asymmetry): the narrow one grows as lithium plates."),
    new_code_cell('epr = bl.datasets.make_epr_plating_series()\nref = bl.datasets.make_epr_reference()\nsummary, lines, _ = bl.spectra.epr_series(epr.data, reference=ref.data, reference_spins=ref.truth["spins"],\n                                          acquisition=epr.truth["acquisition"], reference_acquisition=ref.truth["acquisition"])\nsummary[["g", "width_pp_mT", "narrow_spins", "broad_spins", "narrow_fwhm_mT", "broad_phase_deg"]].iloc[::4]'),
    new_markdown_cell("Baselines: asymmetric least squares (Eilers–Boelens), iteratively clipped polynomial, SNIP, and for XPS the Shirley and Tougaard inelastic backgrounds. Bands are area-normalised pseudo-Voigt, Lorentzian or Gaussian profiles fitted by bounded least squares; XPS 2p levels are spin–orbit doublets with a fixed splitting and a 1:2 area ratio. XAS spectra are normalised by pre-edge and post-edge lines at one common E0, so a mixture of two references stays a linear mixture for the non-negative linear-combination fit. PCA with `center=False` counts the independent spectral shapes in a series: two for a two-state mixture.\n\n**References.** The techniques and typical values follow the review papers this project starts from (see the research notes); XPS component energies and sensitivity factors are typical literature values and should be replaced by your instrument's."),
]


TEM = [
    new_markdown_cell(
        "# In situ TEM\n\n"
        "Transmission electron microscopy inside a working cell films electrodes as they react: a silicon nanowire "
        "swelling as a LixSi shell eats its crystalline core, lithium nuclei appearing and growing, diffraction rings "
        "of one phase fading while another's appear, and EELS edges that tell lithium, oxygen and fluorine apart. "
        "The numbers behind those movies are sizes and expansions (with the definition said out loud: a wire growing "
        "from 125 to 362 nm without elongation has 8.4 times its volume), reaction-front positions and their "
        "kinetics, nucleus counts, d-spacings from the camera equation with the relativistic electron wavelength, "
        "and the electron dose the specimen received.\n\n"
        "The app opens on a synthetic session: a Si nanowire lithiation movie with stage drift, a Li/Li2O/LiF ring "
        "pattern at 200 kV and an EELS spectrum, all with known answers; the demo menu holds a Li nucleation movie "
        "with its plating current transient (Scharifker–Hills), a SAED series in which Si turns into Li15Si4, and an "
        "HRTEM series of breathing graphite fringes. "
        "Each tab works on the data of its kind. Upload a Gatan .dm3/.dm4, Velox .emd, TIA .ser, .tif stack or .npy "
        "(set the pixel size first when the file has none), or a cycler file to put the frames on its clock; the "
        "download holds every table as CSV, the figures and a provenance record."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.TEMApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "`bl.tem.open_tem` reads the vendor files into calibrated xarray objects (lazy for movies). The analyses are "
        "plain functions in `bl.tem`; kymographs and particle tracking are shared imaging tools."
    ),
    new_code_cell("bl.tem.electron_wavelength_pm(200), bl.tem.electron_wavelength_pm(300)"),
    new_code_cell("wire = bl.datasets.make_si_nanowire_movie()\nax = wire.truth['axis_y_px']\n"
                  "kymo = bl.tem.kymograph(wire.data, (ax - 40, 40), (ax + 40, 40), width_px=5)\n"
                  "fwd = bl.tem.detect_front(kymo, method='erf', level=0.6)\n"
                  "back = bl.tem.detect_front(kymo, method='erf', level=0.6, direction='backward')\n"
                  "core_radius_nm = (back['front_nm'] - fwd['front_nm']) / 2"),
    new_code_cell("fits = bl.tem.fit_front_models(fwd['time_s'], wire.truth['r0_nm'] - core_radius_nm, n_bootstrap=50)\n"
                  "fits.summary"),
    new_code_cell("saed = bl.datasets.make_saed_pattern(phases={'LiF': 1, 'Li2O': 1})\n"
                  "profile = bl.tem.azimuthal_profile(saed.data, mask=saed.truth['beam_stop_mask'],\n"
                  "                                   camera_constant=saed.truth['camera_constant_px_A'])\n"
                  "rings = bl.tem.find_rings(profile)\nbl.tem.match_phases(rings['d_A']).head()"),
    new_code_cell("bl.tem.d_candidates([2.32])  # LiF(111) and Li2O(200) are both candidates"),
    new_code_cell("bl.tem.dose_budget(budget_e_A2=100, dose_rate_e_A2_s=0.1, exposure_s=5, frames_wanted=300)"),
    new_markdown_cell(
        "### GPA strain, EDS and 4D-STEM\n\n"
        "Geometric phase analysis maps the strain relative to chosen FFT spots: one g gives the strain along g, two "
        "non-collinear g the full ε_xx, ε_yy, ε_xy and the rotation (the *Diffraction* tab, with the g choice and a "
        "component selector). EDS (the *Spectroscopy* tab in EDS mode): net line counts with the background from "
        "windows either side, Cliff–Lorimer at.% with k-factors you can edit (the defaults are approximate), and "
        "element maps computed chunk by chunk; both modes decompose a spectrum image by PCA (scree, scores) or NMF "
        "(component spectra, abundance maps; `bl.tem.decompose_spectrum_image`). Below, an NMC particle with an "
        "NMC811 core and an NMC111 shell."
    ),
    new_code_cell("nmc = bl.datasets.make_eds_spectrum_image()\n"
                  "maps = bl.tem.eds_element_maps(nmc.data.chunk({'y': 8, 'x': 8}), ['O', 'Mn', 'Co', 'Ni'])\n"
                  "at = bl.tem.composition_maps(maps)\n"
                  "core = nmc.truth['core_mask']\n"
                  "{el: round(float(at.sel(element=el).values[core].mean()), 1) for el in ['O', 'Mn', 'Co', 'Ni']}"),
    new_code_cell("cube = bl.datasets.make_4dstem_cube()\n"
                  "adf = bl.tem.virtual_image(cube.data, inner_px=7.5, outer_px=14.5)  # annular dark field\n"
                  "com = bl.tem.center_of_mass(cube.data, mask_px=8)\n"
                  "float(adf.max()), float(com['com_x_px'].max()), float(cube.truth['shift_x_px'].max())"),
    new_markdown_cell(
        "### Electron holography and neutron radiography\n\n"
        "An off-axis hologram carries the specimen's phase on its fringes: one sideband of its Fourier transform, "
        "cut out and divided by that of a vacuum reference, gives the phase φ = C_E·∫V dz, and a phase step across "
        "an interface is a potential step ΔV = Δφ/(C_E·t). The *Holography* tab does this; neutron radiographs "
        "open in the movie tabs under their own preset (`bl.imaging.IMAGING_PRESETS` says what each technique's "
        "image means)."
    ),
    new_code_cell("holo = bl.datasets.make_hologram()\n"
                  "phase = bl.tem.reconstruct_phase(holo.data['hologram'], reference=holo.data['reference'])\n"
                  "step = bl.datasets.make_phase_step()\n"
                  "profile = bl.tem.phase_profile(step.data, (64, 8), (64, 184), width_px=64)\n"
                  "bl.tem.potential_step(profile, voltage_kV=300, thickness_nm=60)['delta_potential_V'], "
                  "step.truth['step_V']"),
    new_code_cell("nr = bl.datasets.make_neutron_radiography_series()\n"
                  "att = bl.imaging.radiograph_attenuation(nr.data['frames'], open_beam=nr.data['open_beam'], "
                  "dark=nr.data['dark'])\n"
                  "rois = bl.imaging.roi_attenuation(att, nr.truth['rois'])\n"
                  "rois['li_mg_cm2'] = bl.imaging.areal_density(rois['delta_attenuation'], cross_section_barn=70.5, "
                  "molar_mass_g_mol=6.94)\n"
                  "rois[rois['frame'] == rois['frame'].max()]"),
    new_markdown_cell(
        "Models: linear x = k t (interface control), parabolic x² = 2Dt (diffusion), power law x = k tⁿ, Deal–Grove "
        "x²/B + x/(B/A) = t + τ, shrinking core (Ginstling–Brounshtein) and JMAK; each is ranked by AIC with "
        "bootstrap intervals, and a two-regime power law with a free breakpoint tests for a change of mechanism. "
        "Growth exponents are shown beside the exponent each model predicts (1/2 diffusion-limited growth, 1 "
        "reaction-limited growth, 1/3 LSW coarsening), because the same words mean different exponents in different "
        "models. Camera equation R·d = λL; λ = h/√(2m₀eV(1 + eV/2m₀c²)).\n\n"
        "**References.** The analyses and typical values follow the in situ TEM review this project starts from "
        "(see the research notes); lattice parameters of the reference phases are cited in `bl.tem.phases`."
    ),
]


XRM = [
    new_markdown_cell(
        "# X-ray microscopy and tomography\n\n"
        "X-rays pass through a cell and are absorbed by what they cross (Beer–Lambert, I = I₀·exp(−∫μ dl)); "
        "projections at many angles are reconstructed into a 3-D map of μ, with voxels from tens of µm (a whole "
        "18650 cell) down to tens of nm (particles, pores, cracks). Segmenting that volume into pores, binder and "
        "active material gives the numbers electrode models need: porosity slice by slice through the thickness, "
        "whether pores percolate, pore and particle sizes, and the tortuosity factor τ that slows ion transport "
        "(D_eff = ε·D₀/τ). Repeated scans while the cell cycles show particles swelling and cracking; an image at "
        "every energy across an absorption edge (XANES imaging) maps the state of charge pixel by pixel.\n\n"
        "The app opens on a synthetic electrode of packed spheres with binder whose porosity is known; the demo "
        "menu holds straight channels (τ = 1), an operando cracking series, a XANES stack of LiFePO4/FePO4 particles "
        "and raw CT projections. Set the voxel size before uploading a volume (TIFF stack, HDF5/NeXus, .npy); large "
        "volumes and XANES stacks from files go through the `battlab xrm` and `battlab xanes` commands. A progress "
        "bar follows the long computations. Where the thresholds mislabel a region, tick *click polygon vertices* "
        "on the Volume tab, click its outline on the slice (or type the corners in µm) and give it a phase, on "
        "this slice, a slab or all slices; the metrics are recomputed. The "
        "download holds every table as CSV, the figures and a provenance record."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.XRMApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "`bl.xrm.open_volume` opens a volume lazily (dask) with its voxel size; thresholds come from a histogram "
        "built chunk by chunk, so porosity and profiles of a volume larger than memory are computed piece by piece "
        "(with a `dask.distributed.Client` active, on a cluster)."
    ),
    new_code_cell("demo = bl.datasets.make_packed_spheres()\n"
                  "labels = bl.xrm.segment(demo.data, method='multiotsu', classes=3)\n"
                  "bl.xrm.porosity(labels), demo.truth['porosity']"),
    new_code_cell("bl.xrm.slice_profile(labels, axis='z', names={0: 'pore'}).head()"),
    new_code_cell("clean = bl.xrm.clean_labels(labels.compute(), min_size_voxels=5)\n"
                  "bl.xrm.tortuosity(clean[:32, :32, :32])"),
    new_code_cell("channels = bl.datasets.make_channel_volume()\n"
                  "bl.xrm.tortuosity(channels.truth['labels'])  # straight channels: τ = 1 along z"),
    new_code_cell("# Manual phase labelling: a square of 6 µm (x, y on z slices 10–19) set to pore (phase 0)\n"
                  "edited = bl.xrm.label_polygon(labels, [(2, 2), (8, 2), (8, 8), (2, 8)], phase=0, axis='z', "
                  "slices=(10, 20))\n"
                  "bl.xrm.porosity(labels), bl.xrm.porosity(edited)"),
    new_code_cell("xanes = bl.datasets.make_xanes_stack()\n"
                  "norm, step = bl.xrm.normalize_stack(xanes.data)\n"
                  "maps = bl.xrm.lcf_maps(norm, xanes.truth['references'], charged='FePO4')\n"
                  "bl.xrm.particle_soc(maps['soc'], xanes.truth['particles'])"),
    new_code_cell("bl.xrm.geometric_magnification(20, 180), bl.xrm.transmission([200, 30], [50, 200])"),
    new_markdown_cell(
        "Neutron tomography and ¹H MRI volumes go through the same volume tools; the *Technique* menu of the "
        "Volume tab (or `battlab xrm --preset`) sets their units, contrast and labels. For MRI it segments with "
        "the review's threshold 0.2·I_max: electrolyte is bright, lithium and dendrites have no ¹H signal. "
        "⁷Li chemical-shift images separate Li metal (≈ 260 ppm) from electrolyte (0 ppm) with the NMR windows."
    ),
    new_code_cell("mri = bl.datasets.make_mri_volume()\n"
                  "labels = bl.xrm.segment(mri.data, method='manual', thresholds=[0.2 * float(mri.data.max())])\n"
                  "1 - bl.xrm.porosity(labels), mri.truth['electrolyte_fraction']"),
    new_code_cell("csi = bl.datasets.make_mri_csi_series()\n"
                  "bl.imaging.li_metal_signal_fraction(csi.data).assign(truth=csi.truth['metal_fraction'])"),
    new_markdown_cell(
        "Tortuosity: steady-state Fick diffusion solved by finite volumes on the pore voxels (fixed concentrations "
        "on two opposite faces, sealed sides, harmonic-mean face conductances), τ = ε·D₀/D_eff, checked against "
        "straight channels (τ = 1) and layered media (series and parallel bounds). Local thickness: the diameter of "
        "the largest inscribed sphere covering each voxel. XANES pixels are normalised like single spectra "
        "(`bl.spectra.normalize_xas`) and fitted by non-negative least squares (`bl.series.linear_combination_fit`). "
        "Reconstruction uses scikit-image's filtered back-projection and SART.\n\n"
        "**References.** Beer–Lambert (Eq. 1) and the magnification M = (a + b)/a (Eq. 2) follow the AFM/XRM review "
        "this project starts from (see the research notes); the 5-D XANES nanotomography of LiFePO4 there motivates "
        "the Fe K-edge demo (7102–7192 eV in 2 eV steps)."
    ),
]


CORRELATION = [
    new_markdown_cell(
        "# Correlation of techniques in time and space\n\n"
        "Every in situ signal means most when it is read against the same electrochemical timeline and, where "
        "possible, the same place in the sample. This notebook puts the results of the other apps on the cycler's "
        "clock (each instrument with its own clock offset, typed or estimated by cross-correlating its signal with "
        "the charge passed), checks whether the state of lithiation each technique reports agrees with the charge "
        "passed, places a fine map (AFM) inside a coarse one (an X-ray slice) to compare them particle by particle, "
        "and shows the cell among its population rather than as a champion.\n\n"
        "The app opens on one synthetic graphite cell seen by every technique (cycling, a side-view optical movie, "
        "operando XRD, impedance, AFM height and modulus, an X-ray slice with its XANES state-of-charge map), built "
        "from one ground truth with known clock offsets and a known placement of the AFM scan. Upload the cycling "
        "file of your own cell and the CSV tables the other apps export (any table with a time column in seconds)."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.CorrelationApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "`bl.correlate` holds the plain functions: `timeline` (the cycler's charge timeline, joins, clock offsets, "
        "common time grids, per-cycle tables, matching by state of charge), `space` (affines, registration, "
        "resampling, overlays, region tables), `stats` (correlations with confidence intervals, lag correlation, "
        "PCA, outliers) and `population` (ΔQ(V), capacity knee, cycle life, agreement)."
    ),
    new_code_cell("demo = bl.datasets.make_multimodal()\nexperiment = demo.data"),
    new_code_cell("bl.correlate.workflow.estimate_offsets(experiment)"),
    new_code_cell("aligned = bl.correlate.workflow.on_timeline(experiment, offsets=demo.truth[\"clock_offsets_s\"])\n"
                  "bl.correlate.workflow.reality_check(aligned)"),
    new_code_cell("registration = bl.correlate.workflow.register_maps(experiment)\nregistration.to_dict()[\"transform\"]"),
    new_code_cell("particles = bl.correlate.workflow.particle_table(experiment, registration)\n"
                  "bl.correlate.stats.correlation_table(particles, columns=[\"soc\", \"modulus_GPa\"])"),
    new_code_cell("cells = bl.datasets.population_demo()\n"
                  "summary = bl.correlate.population.population_summary(cells.data)\n"
                  "bl.correlate.population.highlight_cell(summary, cells.truth[\"imaged_cell\"])"),
    new_markdown_cell(
        "Clock offsets: cycler time = instrument time + offset. The cross-correlation estimate is good to about one "
        "sample of the instrument and is applied only when |r| ≥ 0.9. The XRD state of lithiation is the lever rule "
        "over the staging phases (x = f_g·x_g + 0.5·f_LiC12 + f_LiC6); agreement is judged by Bland–Altman limits. "
        "For a campaign of many cells, `population_summary(..., n_workers=2)` or `scheduler=\"tcp://…\"` runs on "
        "dask.\n\n"
        "**References.** The review papers this project starts from (correlative AFM/X-ray analysis; multimodal "
        "operando studies linking time and length scales; see the research notes). Bland & Altman, Lancet 327 "
        "(1986) 307; Bacon & Watts, Biometrika 58 (1971) 525."
    ),
]


DEPTH = [
    new_markdown_cell(
        "# Depth profiling\n\n"
        "Where lithium sits below an electrode's surface tells SEI growth, plating and trapped lithium apart. "
        "Neutron depth profiling (NDP) counts the tritons (2727 keV) and α particles (2055 keV) of ⁶Li(n,α)³H: a "
        "particle born deeper loses more energy on its way out, so with the host's stopping power S(E) its energy "
        "gives its depth, x = ∫ dE/S, and the counts per depth interval give the lithium concentration. ToF-SIMS "
        "sputters the surface away while counting secondary-ion fragments (LiF⁻, C₂H⁻, LiO⁻ …); with a sputter "
        "rate the time axis becomes depth and the fragments mark the organic outer and LiF-rich inner SEI. An XPS "
        "series after each sputter step gives atomic % against depth.\n\n"
        "The app opens on synthetic data with known answers: an NDP spectrum of a Li-rich surface layer on "
        "lithiated graphite, a two-layer SEI in ToF-SIMS with a 3-D ion map holding a LiF-rich patch, and an XPS "
        "sputter series; the demo menu adds an operando NDP series in which lithium plates on the surface. Edit or "
        "upload the stopping table (energy in keV, keV/µm, e.g. from SRIM), set the sputter calibration, pick "
        "fragments for ratios, and download every table as CSV with the figures and a provenance record."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.DepthProfileApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "`bl.depth` holds plain functions: NDP spectra are DataArrays over `energy_keV`, profiles are tables over "
        "`depth_um` (NDP) or `depth_nm` (sputtering). XPS fitting is `bl.spectra.fit_xps` per sputter step."
    ),
    new_code_cell("ndp = bl.datasets.make_ndp_profile()\n"
                  "profile = bl.depth.ndp_depth_profile(ndp.data[\"spectrum\"], ndp.data[\"stopping\"], bin_um=0.25,\n"
                  "                                     fluence_n_cm2=1e12, solid_angle_fraction=1e-3,\n"
                  "                                     energy_resolution_keV=15)\n"
                  "profile[[\"depth_um\", \"counts\", \"li_atoms_cm3\"]].iloc[::4]"),
    new_code_cell("bl.depth.layer_inventory(profile, ndp.truth[\"layers_um\"])"),
    new_code_cell("sims = bl.datasets.make_sims_profile()\n"
                  "calibrated, calibration = bl.depth.calibrate_depth(sims.data, crater_depth_nm=60.0)\n"
                  "bl.depth.layer_thicknesses(calibrated, {\"organic (outer)\": \"C2H-\", \"LiF-rich (inner)\": \"LiF-\"})"),
    new_code_cell("maps = bl.datasets.make_sims_map()\n"
                  "bl.depth.ratio_map(maps.data, \"LiF-\", \"C2H-\").max().item()"),
    new_code_cell("xps = bl.datasets.make_xps_depth_series()\n"
                  "atomic, species = bl.depth.xps_depth_profile(xps.data, rate_nm_s=0.05)\n"
                  "atomic.round(1)"),
    new_markdown_cell(
        "NDP depth uses the stopping table as given (interpolated linearly; the demo's is an illustrative curve, "
        "not evaluated data); straggling is not included, so the depth resolution (detector FWHM / S) is a lower "
        "bound deeper in. Interfaces are where a profile crosses halfway between its lowest and highest values or "
        "where its gradient peaks. Sputter depth assumes one sputter rate through all layers.\n\n"
        "**References.** The review papers this project starts from (NDP with the ⁶Li(n,α)³H energies, ToF-SIMS "
        "of SEI layers; see the research notes). Ziegler, Ziegler & Biersack, SRIM, Nucl. Instrum. Methods B 268 "
        "(2010) 1818 for stopping powers; Shirley, Phys. Rev. B 5 (1972) 4709."
    ),
]

PROBES = [
    new_markdown_cell(
        "# Scanning probes and element maps\n\n"
        "Scanning electrochemical microscopy (SECM) moves a micro-disk electrode over a surface while it turns a "
        "dissolved mediator over. Near a conductor the mediator is regenerated and the tip current rises "
        "(positive feedback); near an insulator, e.g. an SEI, diffusion is blocked and it falls (negative "
        "feedback). An approach curve, current against distance, therefore measures how fast the surface "
        "regenerates the mediator: the rate constant k. SICM and ESM maps (ion current, height, strain) share the "
        "AFM map tools. XRF and EDS maps count the X-rays of each element per pixel: their ratios (Ni/Mn, F/C) "
        "show composition gradients such as a Ni-rich core and a Mn-rich shell in NMC.\n\n"
        "The app opens on approach curves with known κ and contact points. The tabs hold the probe maps (an SECM "
        "map with active spots of known k, a SICM topography) and EDS maps of NMC particles with a shifted SEM "
        "image to register them onto. Upload your own curve, map or element maps inside each tab and download "
        "every table as CSV with the figures and a provenance record."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.ProbesApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "Approach curves are tables of `distance_um` and `current_nA`; the fit returns the contact reading d0, "
        "κ = k·a/D with its standard error and the bulk current I_T,∞."
    ),
    new_code_cell("curves = bl.datasets.make_approach_curves()\n"
                  "fit = bl.probes.fit_approach_curve(curves.data[\"kinetic κ=1\"], radius_um=5.0, rg=10.0,\n"
                  "                                   diffusion_cm2_s=7.8e-6)\n"
                  "{k: fit[k] for k in (\"kappa\", \"kappa_err\", \"k_cm_s\", \"d0_um\", \"classification\")}"),
    new_code_cell("secm = bl.datasets.make_secm_map()\n"
                  "feedback = bl.probes.feedback_map(secm.data[\"tip current\"], bulk_current_nA=2.0)\n"
                  "rates = bl.probes.rate_constant_map(feedback, working_distance_um=2.5, radius_um=2.5,\n"
                  "                                    diffusion_cm2_s=7.8e-6)\n"
                  "bl.probes.active_sites(rates[\"k_cm_s\"], threshold=0.004)[\"sites\"]"),
    new_code_cell("eds = bl.datasets.make_nmc_element_maps()\n"
                  "ratio = bl.elements.ratio_map(eds.data[\"maps\"], \"Ni/Mn\", min_counts=10)\n"
                  "float(ratio[\"ratio\"].median()), float(ratio[\"relative_error\"].median())"),
    new_code_cell("registration, on_sem = bl.elements.register_maps(eds.data[\"maps\"], eds.data[\"sem\"], element=\"O\")\n"
                  "registration.details[\"shift_px\"]"),
    new_markdown_cell(
        "The feedback curves are closed-form approximations for a disk electrode in a sheath of ratio RG; they "
        "assume steady state, a flat substrate, and first-order kinetics at the substrate. A κ map is only "
        "meaningful at a known, constant working distance and resolves κ between about 0.01 and 100. Ratio "
        "maps of raw counts are intensity ratios: pass each line's sensitivity to turn them into atomic ratios. "
        "Their uncertainty assumes Poisson counts (σ_R = R·√(1/N + 1/D)).\n\n"
        "**References.** R. Cornut, C. Lefrou, J. Electroanal. Chem. 604 (2007) 91 (conductor), 608 (2007) 59 "
        "(insulator) and 621 (2008) 178 (finite kinetics); C. Lefrou, J. Electroanal. Chem. 592 (2006) 103 "
        "(bulk current and RG); A. J. Bard, M. V. Mirkin (eds.), Scanning Electrochemical Microscopy, CRC Press."
    ),
]


SCATTERING = [
    new_markdown_cell(
        "# Small-angle scattering and reflectometry\n\n"
        "Small-angle X-ray and neutron scattering (SAXS/SANS) measure the intensity I(q) scattered by "
        "nanometre-scale contrast in an electrode: particles, pores and their surfaces. At low q the Guinier law "
        "gives the radius of gyration R_g of the scatterers; at high q the Porod law I ∝ q⁻⁴ gives their surface. "
        "Operando, the curves show anode particles swelling as they alloy with lithium and fracturing as they "
        "shrink again, fitted here with the Porod + globule model of the anode review (A_Porod, A_globule, R_g "
        "plus a flat incoherent background).\n\n"
        "Specular reflectometry measures R(q) of a flat electrode: fringes whose spacing is 2π/d betray each "
        "layer's thickness d, and the critical edge and fringe depth its scattering length density (SLD). A "
        "layer model fitted by the Parratt recursion follows an SEI growing on a Cu film as the potential "
        "falls.\n\n"
        "The app opens on a synthetic operando SANS series of an alloying anode and a neutron reflectometry "
        "series of Cu with a growing SEI, both on the clock of a cycling record and with known answers. Upload "
        "your own I(q) or R(q) text file (q, I or R, σ, σ(q); q in Å⁻¹ or nm⁻¹), a background curve or a layer "
        "table (CSV). The download holds every table as CSV, the figures and a provenance record."
    ),
    new_code_cell("import battlab as bl"),
    new_code_cell("app = bl.apps.ScatteringApp()\napp"),
    new_markdown_cell(
        "## Under the hood\n\n"
        "A curve is an xarray DataArray over `q_inv_A` (Å⁻¹) with `sigma` and `dq_inv_A` coordinates; a series "
        "adds `time`. `bl.scattering.read_saxs` and `read_reflectivity` read text files; `bl.load` detects them."
    ),
    new_code_cell("sans = bl.datasets.make_saxs_series()\n"
                  "fits = bl.scattering.fit_saxs_series(sans.data, echem=sans.truth['echem'], contrast_1e6_per_A2=3.0)\n"
                  "fits[['voltage_V', 'A_Porod', 'A_globule', 'R_g_A', 'volume_change_pct', 'A_Porod_ratio']].iloc[::5]"),
    new_code_cell("raw = bl.datasets.make_saxs_reduction()\nt = raw.truth\n"
                  "curve = bl.scattering.reduce_saxs(raw.data, background=t['background'], "
                  "sample_transmission=t['sample_transmission'],\n"
                  "                                  background_transmission=t['background_transmission'], "
                  "thickness_cm=t['thickness_cm'],\n"
                  "                                  calibration_factor=t['calibration_factor'])\n"
                  "guinier = bl.scattering.fit_guinier(curve - t['flat_background'])\n"
                  "guinier.Rg_A, t['Rg_A']"),
    new_code_cell("porod = bl.scattering.fit_porod(curve, q_min_inv_A=0.2, contrast_1e6_per_A2=10.0)\n"
                  "porod.specific_surface_cm2_per_cm3, t['specific_surface_cm2_per_cm3']"),
    new_code_cell("nr = bl.datasets.make_reflectivity_series(n_curves=6)\n"
                  "table, _ = bl.scattering.fit_reflectivity_series(nr.data, nr.truth['layers'], free=nr.truth['free'],\n"
                  "                                                 background=nr.truth['background'], "
                  "echem=nr.truth['echem'])\n"
                  "table[['potential_V', 'SEI:thickness_A', 'SEI:sld_1e-6_per_A2', 'chi2_red']]"),
    new_code_cell("bl.scattering.critical_q(6.36 - 2.07)  # D2O against a Si block: q_c = 4√(πΔρ) in Å⁻¹"),
    new_markdown_cell(
        "Eq. (1) of the review: dΣ/dΩ(Q) = A_Porod·Q⁻⁴ + A_globule·[exp(−Q²R_g²/3) + 8·erf¹²(1.06·Q·R_g/√6)/(Q⁴R_g⁴)] "
        "(+ B_inc), fitted by weighted least squares from a start found by scanning R_g with the amplitudes solved "
        "linearly. Guinier: ln I = ln I₀ − q²R_g²/3 over the widest low-q range with q·R_g ≤ 1.3. Porod: "
        "I = K/q⁴ + B, S/V = K/(2πΔρ²) for absolute intensities. Invariant Q = ∫q²I dq = 2π²Δρ²φ(1 − φ). "
        "Reflectivity: Parratt recursion with Névot–Croce roughness and Gaussian resolution, fitted in log R; "
        "checked against the Fresnel curve of a bare substrate and the Kiessig spacing 2π/d.\n\n"
        "**References.** Eq. (1) and the SANS and neutron reflectometry examples follow the anode review this "
        "project starts from (see the research notes); Parratt (1954) and Névot & Croce (1980) for the reflectivity."
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
    write(CV, "02_cyclic_voltammetry.ipynb")
    write(IMPEDANCE, "03_impedance.ipynb")
    write(GITT, "04_gitt.ipynb")
    write(SENSORS, "11_operando_sensors.ipynb")
    write(XRD, "09_operando_xrd.ipynb")
    write(OPTICAL, "05_operando_optical.ipynb")
    write(AFM, "07_afm.ipynb")
    write(SPECTRA, "10_spectroscopy.ipynb")
    write(CORRELATION, "12_correlation.ipynb")
    write(TEM, "06_in_situ_tem.ipynb")
    write(XRM, "08_xray_microscopy.ipynb")
    write(DEPTH, "14_depth_profiling.ipynb")
    write(PROBES, "15_probes_and_element_maps.ipynb")
    write(SCATTERING, "13_scattering.ipynb")
