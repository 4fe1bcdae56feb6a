"""Spectroscopy readers: text tables, JCAMP-DX, XAS (real beamline files), VAMAS, SPC refusal."""

from pathlib import Path

import numpy as np
import pytest

import battlab
from battlab.errors import (
    BattlabError,
    CorruptFileError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
    UnsupportedVersionError,
)
from battlab.io.registry import Source, detect, formats
from battlab.spectra.io import (
    describe,
    load_spectra_series,
    load_spectrum,
    read_jcamp,
    read_text_spectrum,
    read_vamas,
    read_xas,
)

DATA = Path(__file__).parent / "data"
XRD_CSV = b"2theta,intensity\n" + b"".join(f"{10 + 0.1 * k:.1f},{5 + k}\n".encode() for k in range(30))


# --------------------------------------------------------------------------- text tables


def test_raman_csv_with_comments_descending_axis():
    s = load_spectrum(DATA / "raman_comma.csv")
    assert s.attrs["technique"] == "raman" and s.dims == ("wavenumber_cm1",)
    x = s["wavenumber_cm1"].to_numpy()
    assert np.all(np.diff(x) > 0) and x[0] == 1200 and x[-1] == 1800
    assert float(s.sel(wavenumber_cm1=1580)) == 100
    assert s.attrs["units"] == "counts"
    meta = s.attrs["battlab"]
    assert meta["format"] == "spectrum-text" and len(meta["sha256"]) == 64 and meta["source_name"].endswith(".csv")


def test_semicolon_decimal_comma_ftir():
    s = load_spectrum(DATA / "ftir_semicolon.csv")
    assert s.attrs["technique"] == "ftir"
    assert float(s.sel(wavenumber_cm1=3500.5)) == pytest.approx(0.02)
    assert s.sizes["wavenumber_cm1"] == 7


def test_tab_nmr_and_xps_csv():
    nmr = load_spectrum(DATA / "nmr_tab.txt")
    assert nmr.attrs["technique"] == "nmr" and float(nmr.sel(shift_ppm=7.26)) == 5.0
    xps = load_spectrum(DATA / "xps_be.csv")
    assert xps.attrs["technique"] == "xps" and float(xps["binding_energy_eV"].max()) == 295.0


def test_space_separated_with_decimal_commas_and_technique_from_caller():
    text = b"x y\n100,5 1,0\n101,5 2,0\n102,5 3,0\n103,5 2,5\n"
    # No spectroscopic header: not claimed by sniffing, but read when the caller names the technique.
    s = load_spectrum(text, name="untitled.txt", technique="raman")
    assert s.attrs["technique"] == "raman"
    np.testing.assert_allclose(s["wavenumber_cm1"], [100.5, 101.5, 102.5, 103.5])
    generic = read_text_spectrum(Source(text, "untitled.txt"))
    assert generic.attrs["technique"] == "generic" and generic.attrs["battlab"]["notes"]


def test_kinetic_energy_table_needs_photon_energy():
    text = b"Kinetic Energy (eV),Counts\n1200,5\n1201,6\n1202,9\n1203,4\n"
    with pytest.raises(MissingDataError, match="photon_energy_eV"):
        read_text_spectrum(Source(text, "ke.csv"))
    s = read_text_spectrum(Source(text, "ke.csv"), photon_energy_eV=1486.6)
    assert s["binding_energy_eV"].max() == pytest.approx(286.6)


def test_text_tables_of_other_kinds_are_not_claimed(test_data):
    # Cycler/EIS/diffraction CSVs keep their readers: a spectrum sniffer needs a spectroscopic x header.
    cycler = b"Time (s),Voltage (V),Current (A),Energy (Wh)\n0,3.0,1,0\n1,3.1,1,0.1\n2,3.2,1,0.2\n3,3.3,1,0.3\n"
    xrd = XRD_CSV
    assert detect(cycler, name="run.csv").kind != "spectrum"
    assert detect(xrd, name="scan.csv").kind == "xrd"
    for p in sorted(test_data.glob("*")):
        if p.is_file():
            try:
                assert detect(p).kind != "spectrum", p.name
            except UnsupportedFormatError:
                pass


def test_kind_refusal_both_ways():
    xrd = XRD_CSV
    with pytest.raises(UnsupportedFormatError, match="diffraction"):
        battlab.load(xrd, name="scan.csv", kind="spectrum")
    with pytest.raises(UnsupportedFormatError, match="spectrum"):
        battlab.load((DATA / "raman_comma.csv").read_bytes(), name="raman.csv", kind="xrd")
    with pytest.raises(UnsupportedFormatError, match="raman"):
        load_spectrum(DATA / "raman_comma.csv", technique="xps")


def test_text_without_numbers_is_refused():
    with pytest.raises(UnsupportedFormatError):
        read_text_spectrum(Source(b"Raman shift,Intensity\nnothing here\n", "bad.csv"))


# --------------------------------------------------------------------------- JCAMP-DX


def test_jcamp_dif_dup_decoded_by_hand():
    # 0A0JJJ%Tj -> 10 11 12 13 13 13 12 (DIF, % = 0, T = repeat twice); 6A2QA0U -> (Y-check 12) 20 10 10 10;
    # 11@J -> 0 1. YFACTOR 0.5, X = 0..1200 by 100 (XFACTOR 100 on the line X values).
    s = load_spectrum(DATA / "dif_dup.jdx")
    assert s.attrs["technique"] == "ftir" and s.attrs["units"] == "absorbance"
    np.testing.assert_allclose(s.to_numpy() * 2, [10, 11, 12, 13, 13, 13, 12, 20, 10, 10, 10, 0, 1])
    np.testing.assert_allclose(s["wavenumber_cm1"], np.arange(0, 1201, 100))


def test_jcamp_bad_y_check_is_a_clear_error():
    data = (DATA / "dif_dup.jdx").read_bytes().replace(b"6A2QA0U", b"6A3QA0U")
    with pytest.raises(CorruptFileError, match="Y-check"):
        read_jcamp(Source(data, "bad.jdx"))
    with pytest.raises(CorruptFileError, match="Y-check"):
        battlab.load(data, name="bad.jdx")


def test_jcamp_truncated_and_garbled():
    data = (DATA / "dif_dup.jdx").read_bytes()
    with pytest.raises(CorruptFileError, match="truncated"):
        read_jcamp(Source(data.replace(b"11@J\n", b""), "short.jdx"))
    with pytest.raises(CorruptFileError, match="character"):
        read_jcamp(Source(data.replace(b"6A2QA0U", b"6A2Q~A0U"), "garbled.jdx"))
    with pytest.raises(TooLargeError):
        read_jcamp(Source(data.replace(b"6A2QA0U", b"6A2QA0s99999999"), "huge.jdx"))


def test_jcamp_affn_raman_with_date():
    s = read_jcamp(Source((DATA / "affn_raman.jdx").read_bytes(), "r.jdx"))
    assert s.attrs["technique"] == "raman"
    np.testing.assert_allclose(s.to_numpy(), np.arange(8) + 1.5)
    assert s.attrs["battlab"]["start_time_utc"].startswith("2024-03-12T10:30")


def test_jcamp_nmr_hz_to_ppm_and_micrometres_to_wavenumber():
    s = load_spectrum(DATA / "hz_nmr.jdx")
    assert s.attrs["technique"] == "nmr" and s.attrs["nucleus"] == "1H"
    np.testing.assert_allclose(s["shift_ppm"], [1.0, 2.0, 3.0, 7.26])
    text = ("##TITLE= um\n##JCAMP-DX= 4.24\n##DATA TYPE= INFRARED SPECTRUM\n##XUNITS= MICROMETERS\n"
            "##YUNITS= TRANSMITTANCE\n##XYPOINTS=(XY..XY)\n2.5, 0.9; 5.0, 0.5; 10.0, 0.7\n##END=\n")
    ir = read_jcamp(Source(text.encode(), "um.jdx"))
    np.testing.assert_allclose(ir["wavenumber_cm1"], [1000, 2000, 4000])
    np.testing.assert_allclose(ir.to_numpy(), [0.7, 0.5, 0.9])


def test_jcamp_multi_block_returns_first_with_note():
    one = (DATA / "affn_raman.jdx").read_text()
    two = one.replace("AFFN Raman", "second").replace("1.5 2.5", "9.5 9.5")
    text = f"##TITLE= link\n##JCAMP-DX= 4.24\n##BLOCKS= 2\n{one}{two}##END=\n"
    s = read_jcamp(Source(text.encode(), "multi.jdx"))
    assert s.attrs["battlab"]["n_blocks"] == 2 and "2 spectra" in " ".join(s.attrs["battlab"]["notes"])
    assert float(s[0]) == 1.5
    assert float(read_jcamp(Source(text.encode(), "multi.jdx"), block=1)[0]) == 9.5


def test_jcamp_ntuples_refused():
    text = b"##TITLE= fid\n##JCAMP-DX= 5.01\n##DATA TYPE= NMR FID\n##NTUPLES= NMR FID\n##END NTUPLES=\n##END=\n"
    with pytest.raises(UnsupportedVersionError, match="NTUPLES"):
        read_jcamp(Source(text, "fid.jdx"))


# --------------------------------------------------------------------------- XAS (real files)


def _edge(spec, *, pre=(-200, -30), post=(50, 400)):
    """Edge energy (max of the smoothed dmu/dE) and edge step from pre-/post-edge lines."""
    e = spec["energy_eV"].to_numpy()
    mu = spec.to_numpy()
    ok = np.isfinite(mu)
    e, idx = np.unique(e[ok], return_index=True)
    mu = mu[ok][idx]
    grid = np.arange(e[0], e[-1], 0.5)
    smooth = np.convolve(np.interp(grid, e, mu), np.ones(7) / 7, mode="same")
    d = np.gradient(smooth, grid)
    d[:10] = d[-10:] = np.nan
    e0 = grid[np.nanargmax(d)]
    lo = (e > e0 + pre[0]) & (e < e0 + pre[1])
    hi = (e > e0 + post[0]) & (e < e0 + post[1])
    step = np.polyval(np.polyfit(e[hi], mu[hi], 1), e0) - np.polyval(np.polyfit(e[lo], mu[lo], 1), e0)
    return e0, step


# file, K-edge (eV), tolerance (eV), expected mu source
REAL_XAS = [
    ("xraylarch_fe2o3_rt1.xmu", 7112, 15, "mu"),            # Fe3+: edge ~13 eV above Fe metal
    ("xraylarch_ni_metal_rt.xdi", 8333, 15, "mutrans"),
    ("xraylarch_mn_cpmnco3.dat", 6539, 15, "xmu(trans)"),
    ("xraylarch_APS10BM_2019.dat", 6539, 20, "transmission"),  # MnO2: Mn4+ edge ~17 eV above Mn metal
    ("xraylarch_PF9A_2022.dat", 7112, 15, "mu"),            # Fe (sample Fe010), fluorescence, Bragg angles
]


@pytest.mark.parametrize("fname,edge_eV,tol,mu_from", REAL_XAS, ids=[r[0] for r in REAL_XAS])
def test_real_xas_edge_at_the_element_k_edge(real_data, fname, edge_eV, tol, mu_from):
    path = real_data / "xas" / fname
    s = load_spectrum(path)
    assert s.attrs["technique"] == "xas" and s.dims == ("energy_eV",)
    assert s.attrs["battlab"]["format"] in ("xas-columns", "xdi", "xas-pf9809")
    e = s["energy_eV"].to_numpy()
    assert np.all(np.diff(e) >= 0) and e.min() > 1000 and e.max() < 20000
    assert s.attrs["battlab"]["mu_from"] == mu_from
    e0, step = _edge(s)
    assert abs(e0 - edge_eV) < tol, (fname, e0)
    assert step > 0, (fname, step)
    assert any("mu(E)" in n for n in s.attrs["battlab"]["notes"])


def test_real_xdi_metadata(real_data):
    s = load_spectrum(real_data / "xas" / "xraylarch_ni_metal_rt.xdi")
    assert s.attrs["battlab"]["format"] == "xdi"
    assert s.attrs["element"] == "Ni" and s.attrs["edge"] == "K" and s.attrs["edge_energy_eV"] == 8333.0
    assert s.attrs["battlab"]["start_time_utc"].startswith("2001-06-26T21:46:07")
    assert s.attrs["mono_d_spacing_A"] == pytest.approx(3.13555)


def test_real_pf9809_bragg_angles_to_energy(real_data):
    s = load_spectrum(real_data / "xas" / "xraylarch_PF9A_2022.dat")
    assert s.attrs["battlab"]["format"] == "xas-pf9809" and s.attrs["sample"] == "Fe010"
    # Header blocks: 6606.2 to 8211.2 eV; the observed angles reproduce them.
    e = s["energy_eV"].to_numpy()
    assert e.min() == pytest.approx(6606.2, abs=1.0) and e.max() == pytest.approx(8211.2, abs=1.0)
    assert s.sizes["energy_eV"] == 1426


def test_pf9809_without_d_spacing_is_refused(real_data):
    data = (real_data / "xas" / "xraylarch_PF9A_2022.dat").read_bytes().replace(b"D=  3.13551 A", b"D=  ?")
    with pytest.raises(UnsupportedVersionError, match="d-spacing"):
        read_xas(Source(data, "pf.dat"))


def test_real_esrf_sample_and_reference_channels(real_data):
    path = real_data / "xas" / "xraylarch_ESRF_BM08_LISA_2021.dat"
    s = load_spectrum(path)
    assert s.attrs["battlab"]["mu_from"] == "mu"
    # mode="transmission" recomputes the file's mu = ln(I0_EH1/I1_EH1).
    t = load_spectrum(path, mode="transmission")
    np.testing.assert_allclose(t.to_numpy(), s.to_numpy(), rtol=1e-6)
    # The sample channel shows no edge in this window; the reference foil (mu_ref) is Ge (K 11103 eV).
    ref = load_spectrum(path, mode="mu_ref")
    e0, step = _edge(ref, pre=(-150, -20), post=(30, 400))
    assert abs(e0 - 11103) < 15 and step > 1


def test_real_aps_fluorescence_forced(real_data):
    s = load_spectrum(real_data / "xas" / "xraylarch_APS10BM_2019.dat", mode="fluorescence")
    assert s.attrs["battlab"]["mu_from"] == "fluorescence"
    assert any("If/Io" in n for n in s.attrs["battlab"]["notes"])
    assert s.attrs["edge_energy_eV"] == 6540.0


def test_xas_kev_converted_and_missing_channels():
    rows = "\n".join(f"{7.0 + 0.001 * k:.4f} {100000:d} {int(60000 - 20000 * (k > 100))}" for k in range(200))
    s = read_xas(Source(f"# energy i0 it\n{rows}\n".encode(), "kev.dat"))
    assert s["energy_eV"].min() == pytest.approx(7000) and any("keV" in n for n in s.attrs["battlab"]["notes"])
    with pytest.raises(MissingDataError, match="I0"):
        read_xas(Source(f"# energy a b\n{rows}\n".encode(), "nolabels.dat"))


# --------------------------------------------------------------------------- VAMAS


def test_vamas_regions_kinetic_to_binding():
    d = load_spectrum(DATA / "xps_regions.vms")
    assert list(d) == ["C 1s", "O 1s"]
    c1s, o1s = d["C 1s"], d["O 1s"]
    # KE 1190.6 + 0.5 k; BE = 1486.6 - KE - 4.5 (work function) = 291.5 - 0.5 k
    np.testing.assert_allclose(c1s["binding_energy_eV"], 291.5 - 0.5 * np.arange(6)[::-1])
    assert float(c1s.sel(binding_energy_eV=290.5)) == 400  # third value at BE 290.5
    np.testing.assert_allclose(o1s["binding_energy_eV"], [528, 529, 530, 531, 532])
    assert o1s.attrs["photon_energy_eV"] == 1486.6 and c1s.attrs["n_scans"] == 5
    assert c1s.attrs["units"] == "counts"
    # 2024-03-12 10:30 at GMT+1
    assert c1s.attrs["battlab"]["start_time_utc"].startswith("2024-03-12T09:30")
    assert "regions:    2" in describe(d)


@pytest.mark.parametrize("cut", [0.1, 0.3, 0.5, 0.8, 0.97])
def test_vamas_truncated(cut):
    data = (DATA / "xps_regions.vms").read_bytes()
    with pytest.raises(BattlabError):
        read_vamas(Source(data[: int(len(data) * cut)], "cut.vms"))


def test_vamas_irregular_and_huge_counts_refused():
    data = (DATA / "xps_regions.vms").read_bytes()
    with pytest.raises(UnsupportedVersionError, match="REGULAR"):
        read_vamas(Source(data.replace(b"REGULAR", b"IRREGULAR"), "irr.vms"))
    with pytest.raises(TooLargeError):
        read_vamas(Source(data.replace(b"\n6\n100\n400\n", b"\n999999999\n100\n400\n"), "big.vms"))


# --------------------------------------------------------------------------- SPC, registry, series, info


def test_spc_refused_with_export_advice():
    with pytest.raises(UnsupportedFormatError, match="CSV or JCAMP-DX"):
        battlab.load(DATA / "tiny.spc")
    assert detect(DATA / "tiny.spc").name == "galactic-spc"


def test_formats_are_registered_as_spectrum_kind():
    names = {f.name: f for f in formats()}
    for n in ("spectrum-text", "jcamp-dx", "xas-columns", "vamas", "galactic-spc"):
        assert names[n].kind == "spectrum"


def test_series_with_timestamps_csv(tmp_path):
    for k in range(3):
        (tmp_path / f"r{k}.csv").write_bytes((DATA / "raman_comma.csv").read_bytes().replace(b"1580,100",
                                                                                           f"1580,{100 + k}".encode()))
    (tmp_path / "timestamps.csv").write_text("file,time\nr0.csv,2024-01-01T00:00:00Z\n"
                                             "r1.csv,2024-01-01T00:10:00Z\nr2.csv,2024-01-01T00:20:00Z\n")
    series = load_spectra_series(tmp_path, timestamps=tmp_path / "timestamps.csv")
    assert series.dims == ("time", "wavenumber_cm1") and series.sizes["time"] == 3
    np.testing.assert_allclose(series["elapsed_s"], [0, 600, 1200])
    np.testing.assert_allclose(series.sel(wavenumber_cm1=1580).to_numpy(), [100, 101, 102])
    assert "spectra:    3" in describe(series)
    with pytest.raises(MissingDataError):
        load_spectra_series(tmp_path)  # no times in the files, none given


def test_cli_info_and_formats(capsys):
    from battlab.cli import main

    assert main(["info", str(DATA / "xps_regions.vms")]) == 0
    out = capsys.readouterr().out
    assert "vamas" in out and "C 1s" in out
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for n in ("jcamp-dx", "xas-columns", "vamas", "galactic-spc", "spectrum-text"):
        assert n in out
