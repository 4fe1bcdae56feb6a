"""I(q) and R(q) readers: columns, q units, bad files, registry and series."""

import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.errors import BattlabError, CorruptFileError, InvalidParameterError, UnsupportedFormatError
from battlab.scattering import (
    load_reflectivity_series,
    load_saxs_series,
    read_reflectivity,
    read_saxs,
)

Q = np.geomspace(0.005, 0.3, 40)
I = 100 * np.exp(-(Q * 40) ** 2 / 3) + 0.1


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _table(header, cols, sep=" "):
    rows = "\n".join(sep.join(f"{v:.8g}" for v in row) for row in zip(*cols, strict=True))
    return (header + "\n" if header else "") + rows + "\n"


def test_four_columns_in_inverse_angstrom_keep_every_column(tmp_path):
    sigma, dq = 0.02 * I, 0.05 * Q
    path = _write(tmp_path / "a.dat", _table("# q (1/A)  I (1/cm)  dI  dq", [Q, I, sigma, dq]))
    curve = read_saxs(path)
    np.testing.assert_allclose(curve["q_inv_A"], Q, rtol=1e-7)
    np.testing.assert_allclose(curve, I, rtol=1e-7)
    np.testing.assert_allclose(curve["sigma"], sigma, rtol=1e-7)
    np.testing.assert_allclose(curve["dq_inv_A"], dq, rtol=1e-7)
    assert curve.attrs["units"] == "cm⁻¹" and curve.attrs["technique"] == "saxs"
    assert not any("unit of q" in n for n in curve.attrs["battlab"]["notes"])


def test_q_in_inverse_nm_from_header_is_converted(tmp_path):
    path = _write(tmp_path / "nm.csv", _table("q [nm^-1],I,error", [Q * 10, I, 0.02 * I], sep=","))
    curve = read_saxs(path)
    np.testing.assert_allclose(curve["q_inv_A"], Q, rtol=1e-7)  # exact ÷ 10
    assert any("nm⁻¹" in n for n in curve.attrs["battlab"]["notes"])


def test_q_units_keyword_and_unstated_units(tmp_path):
    path = _write(tmp_path / "plain.txt", _table("", [Q * 10, I]))
    assumed = read_saxs(path)
    assert any("does not state the unit of q" in n for n in assumed.attrs["battlab"]["notes"])
    np.testing.assert_allclose(assumed["q_inv_A"], Q * 10, rtol=1e-7)
    given = read_saxs(path, q_units="nm-1")
    np.testing.assert_allclose(given["q_inv_A"], Q, rtol=1e-7)
    assert np.isnan(given["sigma"]).all()  # two columns: no uncertainties
    with pytest.raises(InvalidParameterError):
        read_saxs(path, q_units="furlongs")


def test_labelled_columns_in_another_order(tmp_path):
    path = _write(tmp_path / "lab.csv", _table("I,q,sigma", [I, Q, 0.03 * I], sep=","))
    curve = read_saxs(path, q_units="A-1")
    np.testing.assert_allclose(curve, I, rtol=1e-7)
    np.testing.assert_allclose(curve["sigma"], 0.03 * I, rtol=1e-7)


def test_bad_rows_are_dropped_with_a_note_and_bad_files_refused(tmp_path):
    q = np.r_[0.0, Q]
    i = np.r_[5.0, I]
    curve = read_saxs(_write(tmp_path / "zero.dat", _table("q I", [q, i])))
    assert curve.sizes["q_inv_A"] == Q.size
    assert any("q ≤ 0" in n for n in curve.attrs["battlab"]["notes"])
    with pytest.raises(CorruptFileError):
        read_saxs(_write(tmp_path / "short.dat", "q I\n0.01 1\n0.02 2\n0.03 3\n0.04 4\n"))
    with pytest.raises(UnsupportedFormatError):
        read_saxs(_write(tmp_path / "words.dat", "this is\nnot a\ncurve at all\n"))
    with pytest.raises(BattlabError):
        read_saxs(tmp_path / "missing.dat")
    with pytest.raises(BattlabError):
        read_saxs(b"\x00\x01binary\x00" * 50, name="x.dat")


def test_reflectivity_orso_like_file_and_registry_detection(tmp_path):
    r = np.clip((0.01 / Q) ** 4, None, 1.0)
    text = ("# # ORSO reflectivity data file | 1.0 standard | YAML encoding | https://www.reflectometry.org/\n"
            "# columns:\n#   - {name: Qz, unit: 1/angstrom}\n#   - {name: R}\n#   - {name: sR}\n#   - {name: sQz}\n"
            "# Qz R sR sQz\n") + _table("", [Q, r, 0.05 * r, 0.02 * Q])
    path = _write(tmp_path / "cell.ort", text)
    curve = battlab.load(path)
    assert curve.name == "reflectivity" and curve.attrs["technique"] == "nr"
    np.testing.assert_allclose(curve["dq_inv_A"], 0.02 * Q, rtol=1e-7)
    assert battlab.io.detect(path).name == "reflectivity-text"
    saxs = _write(tmp_path / "s.dat", _table("q(1/A) I(q) err", [Q, I, 0.02 * I]))
    assert battlab.io.detect(saxs).name == "saxs-text"
    assert battlab.load(saxs, kind="saxs").name == "intensity"
    with pytest.raises(UnsupportedFormatError, match="reflectivity"):
        battlab.load(path, kind="saxs")
    with pytest.raises(InvalidParameterError):
        read_reflectivity(path, technique="saxs")


def test_series_from_files_with_timestamps(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    rows = []
    for k in range(3):
        name = f"c{k}.dat"
        _write(folder / name, _table("q(1/A) I", [Q, I * (k + 1)]))
        rows.append({"file": name, "time": f"2026-01-05T09:{10 * (2 - k):02d}:00Z"})  # reverse order in time
    pd.DataFrame(rows).to_csv(folder / "timestamps.csv", index=False)
    series = load_saxs_series(folder, timestamps=folder / "timestamps.csv")
    assert series.dims == ("time", "q_inv_A") and series.sizes["time"] == 3
    # Sorted by time: the last file comes first; σ follows its curve.
    np.testing.assert_allclose(series.isel(time=0), I * 3, rtol=1e-7)
    assert list(series["elapsed_s"].values) == [0.0, 600.0, 1200.0]
    no_times = load_reflectivity_series(sorted(folder.glob("c*.dat")))
    assert no_times.sizes["time"] == 3


def test_real_scattering_files_when_present(real_data):
    folders = [p for p in real_data.iterdir() if p.is_dir() and p.name.lower() in
               ("saxs", "sans", "reflectometry", "reflectivity", "nr", "xrr")]
    if not folders:
        pytest.skip("the real-data collection (MANIFEST.md) holds no SAXS/SANS or reflectometry files yet")
    for folder in folders:
        for path in folder.iterdir():
            curve = battlab.load(path)
            assert curve.sizes["q_inv_A"] >= 5 and np.all(curve["q_inv_A"] > 0)


def test_real_files_of_other_kinds_fail_cleanly(real_data):
    # Readers fed files of other techniques raise battlab's own errors, nothing else.
    paths = [p for p in sorted(real_data.rglob("*")) if p.is_file() and p.stat().st_size < 300_000][:25]
    for path in paths:
        for reader in (read_saxs, read_reflectivity):
            try:
                reader(path)
            except BattlabError:
                pass
