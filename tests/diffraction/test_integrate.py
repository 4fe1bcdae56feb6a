"""2-D detector images integrated with pyFAI: a synthetic LaB6 frame and a real PILATUS frame."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyFAI", reason="pyFAI (battlab[xrd2d]) is not installed")

from battlab.diffraction import (  # noqa: E402
    fit_pattern,
    integrate_image,
    integrate_images,
    load_pattern,
)
from battlab.errors import (  # noqa: E402
    InvalidParameterError,
    MissingDataError,
    UnsupportedFormatError,
)

LAM_A = 1.540598
A_LAB6 = 4.15689  # Å, NIST SRM 660 class lattice parameter
HKL = [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 1, 0), (2, 1, 1)]
TRUE_TTH = [float(np.degrees(2 * np.arcsin(LAM_A * np.sqrt(h * h + k * k + l * l) / (2 * A_LAB6))))
            for h, k, l in HKL]
SHAPE, PIXEL_M, DIST_M, PONI1_M, PONI2_M = (700, 800), 1e-4, 0.065, 0.004, 0.006

PONI_TEXT = f"""# synthetic geometry: detector normal to the beam, rings centred near one corner
poni_version: 2
Detector: Detector
Detector_config: {{"pixel1": {PIXEL_M}, "pixel2": {PIXEL_M}, "max_shape": [{SHAPE[0]}, {SHAPE[1]}]}}
Distance: {DIST_M}
Poni1: {PONI1_M}
Poni2: {PONI2_M}
Rot1: 0.0
Rot2: 0.0
Rot3: 0.0
Wavelength: {LAM_A * 1e-10}
"""


def synthetic_frame(shift_deg=0.0):
    """Rings at the LaB6 2θ values, computed independently of pyFAI (pixel centres, no tilt)."""
    y = (np.arange(SHAPE[0]) + 0.5) * PIXEL_M - PONI1_M
    x = (np.arange(SHAPE[1]) + 0.5) * PIXEL_M - PONI2_M
    tth = np.degrees(np.arctan2(np.hypot(y[:, None], x[None, :]), DIST_M))
    img = 20 + sum(2000 * np.exp(-0.5 * ((tth - c - shift_deg) / 0.06) ** 2) for c in TRUE_TTH)
    img[:, 300:305] = -1  # a PILATUS-like module gap
    return img


@pytest.fixture
def poni(tmp_path):
    path = tmp_path / "lab6.poni"
    path.write_text(PONI_TEXT)
    return path


@pytest.mark.parametrize("unit", ["2th_deg", "q_A^-1"])
def test_synthetic_lab6_rings_integrate_to_known_peaks(poni, unit):
    pat = integrate_image(synthetic_frame(), poni=poni, unit=unit)
    assert pat.dims == ("two_theta_deg",) and pat.sizes["two_theta_deg"] > 1500
    assert pat.attrs["wavelength_A"] == pytest.approx(LAM_A)
    assert pat.attrs["battlab"]["poni"]["dist"] == pytest.approx(DIST_M)
    assert np.isfinite(pat.to_numpy()).all() and np.isfinite(pat["esd"].to_numpy()).all()
    table, _ = fit_pattern(pat, {f"{h}{k}{l}": (c - 0.4, c + 0.4) for (h, k, l), c in zip(HKL, TRUE_TTH, strict=True)},
                           doublet=None)
    np.testing.assert_allclose(table["two_theta_deg"], TRUE_TTH, atol=0.01)


def test_folder_of_frames_becomes_a_series(tmp_path, poni):
    import tifffile

    folder = tmp_path / "frames"
    folder.mkdir()
    times = pd.date_range("2026-02-01T10:00:00Z", periods=3, freq="5min")
    for i in range(3):
        tifffile.imwrite(folder / f"frame_{i:03d}.tif", synthetic_frame(0.05 * i).astype(np.float32))
    pd.DataFrame({"file": [f"frame_{i:03d}.tif" for i in range(3)], "time": times.strftime("%Y-%m-%dT%H:%M:%SZ")}
                 ).to_csv(tmp_path / "times.csv", index=False)
    series = integrate_images(folder, poni=poni, timestamps=tmp_path / "times.csv", n_points=1500)
    assert series.sizes["time"] == 3 and series.attrs["wavelength_A"] == pytest.approx(LAM_A)
    assert series["elapsed_s"].to_numpy().tolist() == [0.0, 300.0, 600.0]
    table, _ = fit_pattern(series.isel(time=2), {"110": (TRUE_TTH[1] - 0.4, TRUE_TTH[1] + 0.4)}, doublet=None)
    assert table["two_theta_deg"].iloc[0] == pytest.approx(TRUE_TTH[1] + 0.10, abs=0.01)


def test_bad_inputs(poni):
    with pytest.raises(InvalidParameterError, match="PONI detector"):
        integrate_image(np.ones((10, 10)), poni=poni)
    with pytest.raises(MissingDataError, match="masked"):
        integrate_image(-np.ones(SHAPE), poni=poni)
    with pytest.raises(InvalidParameterError, match="unit"):
        integrate_image(synthetic_frame(), poni=poni, unit="chi_deg")


def test_real_pilatus_frame_integrates(real_data, tmp_path):
    path = real_data / "xrd" / "xraylarch_Pilatus.tiff"
    before = path.read_bytes()
    poni = tmp_path / "pilatus.poni"
    # A plausible geometry for this PILATUS 100K (487 × 195 pixels of 172 µm): 25 cm, 12.4 keV.
    poni.write_text("poni_version: 2\nDetector: Pilatus100k\nDetector_config: {}\nDistance: 0.25\n"
                    "Poni1: 0.0168\nPoni2: -0.02\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1.0e-10\n")
    pat = integrate_image(path, poni=poni, n_points=500)
    assert path.read_bytes() == before
    assert pat.sizes["two_theta_deg"] > 400 and np.isfinite(pat.to_numpy()).all()
    x = pat["two_theta_deg"].to_numpy()
    assert 3 < x.min() < x.max() < 30 and np.all(np.diff(x) > 0)
    meta = pat.attrs["battlab"]
    # This copy of the frame lacks its last 11 bytes: those pixels are masked, not invented.
    assert any("pixel(s) are missing and were masked" in n for n in meta["notes"])
    assert meta["start_time_utc"].startswith("2009-02-20T18:53:21")  # TIFF DateTime
    assert pat.attrs["wavelength_A"] == pytest.approx(1.0)
    with pytest.raises(UnsupportedFormatError, match="integrate_image"):
        load_pattern(path)


def test_without_pyfai_the_message_says_how_to_install():
    code = ("import sys; sys.modules['pyFAI'] = None\n"
            "from battlab.diffraction import integrate_image\n"
            "import numpy as np\n"
            "try:\n    integrate_image(np.ones((5, 5)), poni='x.poni')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("UnsupportedFormatError") and "battlab[xrd2d]" in out
