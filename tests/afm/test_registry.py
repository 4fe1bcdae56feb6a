"""AFM files through battlab.load, `battlab info` and the kind check of the other apps."""

import subprocess
import sys

import pytest

import battlab
from battlab.errors import UnsupportedFormatError
from battlab.io import detect


@pytest.mark.parametrize("name, fmt", [("nanoscope_full_multiple_images.spm", "afm-nanoscope"),
                                       ("AFMReader_sample_0.jpk", "afm-jpk-image"),
                                       ("gwyfile_test.gwy", "afm-gwyddion"),
                                       ("afmformats_fmt-jpk-fd_spot3-0192.jpk-force", "afm-force"),
                                       ("afmformats_fmt-igor-fd_SiN_FD_plot.ibw", "afm-force")])
def test_real_afm_files_are_detected(real_data, name, fmt):
    assert detect(real_data / "afm" / name).name == fmt


def test_load_gives_the_same_channels_as_read_afm(real_data):
    from battlab.afm import read_afm

    path = real_data / "afm" / "nanoscope_full_multiple_images.spm"
    loaded = battlab.load(path)
    direct = read_afm(path)
    assert list(loaded) == list(direct)
    assert (loaded["Height"] == direct["Height"]).all()
    # the Gwyddion test file stores no lateral unit: the pixel size passes through load
    gwy = battlab.load(real_data / "afm" / "gwyfile_test.gwy", pixel_size_um=0.01)
    assert next(iter(gwy.values())).attrs["pixel_size_um"] == 0.01


def test_an_afm_scan_offered_to_a_cycling_analysis_is_named(real_data):
    with pytest.raises(UnsupportedFormatError, match="an AFM scan or force curves"):
        battlab.load(real_data / "afm" / "nanoscope_full_multiple_images.spm", kind="echem")


def test_battlab_info_describes_channels(real_data):
    res = subprocess.run([sys.executable, "-m", "battlab.cli", "info",
                          str(real_data / "afm" / "nanoscope_full_multiple_images.spm")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert "afm-nanoscope" in res.stdout and "Height: 512 × 512 px at 0.003906 µm/px, nm" in res.stdout
