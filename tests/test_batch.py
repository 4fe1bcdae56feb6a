"""Campaigns: a 2-worker dask LocalCluster gives the same results as one process.

Inputs are synthetic cycling records with known capacities (``make_cycling``, written
as Battery Data Format CSV), one of them in a sub-folder, plus one damaged file that must
fail alone. Re-running skips what is done; changing an input redoes only that file.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from battlab.batch import campaign_inputs, run_campaign
from battlab.datasets import make_cycling
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.io import write_bdf_csv

pytestmark = pytest.mark.slow

MASS = ["--mass-mg", "12.5"]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cells")
    truths = {}
    for k, n_cycles in enumerate((3, 4, 5)):
        demo = make_cycling(n_cycles=n_cycles, rng=k)
        path = (folder / "rack2" if k == 2 else folder) / f"cell{k}.csv"
        path.parent.mkdir(exist_ok=True)
        write_bdf_csv(demo.data, path)
        truths[path] = n_cycles
    (folder / "damaged.csv").write_text("Test Time / s,Voltage / V\nnot,numbers\n")
    (folder / "notes.md").write_text("not an input")
    return folder, truths


def _cycles(result_dir):
    return pd.read_csv(result_dir / "cycles.csv")


def test_inputs_are_found_recursively_by_what_the_technique_reads(campaign):
    folder, truths = campaign
    found = campaign_inputs("cycling", folder)
    assert set(truths) | {folder / "damaged.csv"} == set(found)
    assert campaign_inputs("cycling", folder, pattern="cell*") == sorted(truths)


def test_cluster_results_equal_single_process_results(campaign, tmp_path):
    folder, truths = campaign
    serial = run_campaign("cycling", folder, tmp_path / "serial", options=MASS, n_workers=0, progress=None)
    parallel = run_campaign("cycling", folder, tmp_path / "dask", options=MASS, n_workers=2, progress=None)
    for table in (serial, parallel):
        status = dict(zip(table["file"], table["status"], strict=True))
        assert status[str(folder / "damaged.csv")] == "failed"
        assert all(status[str(p)] == "done" for p in truths)
        message = table.loc[table["file"] == str(folder / "damaged.csv"), "message"].item()
        assert "damaged.csv" in message
    for path, n_cycles in truths.items():
        rel = path.relative_to(folder)
        a = _cycles(tmp_path / "serial" / rel.parent / rel.name.replace(".", "_"))
        b = _cycles(tmp_path / "dask" / rel.parent / rel.name.replace(".", "_"))
        assert len(a) == n_cycles
        pd.testing.assert_frame_equal(a, b)
        # The numbers are right, not only equal: the demo's known capacities (0.1 %).
        truth = make_cycling(n_cycles=n_cycles, rng=list(truths).index(path)).truth["cycles"]
        assert a["charge_capacity_mAh"].to_numpy() == pytest.approx(truth["delithiation_capacity_mAh"].to_numpy(),
                                                                    rel=1e-3)
    record = json.loads((tmp_path / "dask" / "cell0_csv" / "provenance.json").read_text())
    assert record["command"].startswith("battlab cycling") and "--mass-mg 12.5" in record["command"]
    assert (tmp_path / "dask" / "campaign.csv").is_file()


def test_rerun_skips_done_files_and_redoes_changed_ones(campaign, tmp_path):
    folder, truths = campaign
    out = tmp_path / "out"
    first = run_campaign("cycling", folder, out, options=MASS, n_workers=0, progress=None)
    assert (first["status"] == "done").sum() == len(truths)
    again = run_campaign("cycling", folder, out, options=MASS, n_workers=0, progress=None)
    status = dict(zip(again["file"], again["status"], strict=True))
    assert all(status[str(p)] == "skipped" for p in truths)
    assert status[str(folder / "damaged.csv")] == "failed"  # failures are retried
    # New content under the same name is analysed again.
    changed = sorted(truths)[0]
    original = changed.read_bytes()
    try:
        write_bdf_csv(make_cycling(n_cycles=2, rng=9).data, changed)
        third = run_campaign("cycling", folder, out, options=MASS, n_workers=0, progress=None)
        status = dict(zip(third["file"], third["status"], strict=True))
        assert status[str(changed)] == "done"
        assert sum(s == "skipped" for s in status.values()) == len(truths) - 1
        assert len(_cycles(out / changed.name.replace(".", "_"))) == 2
    finally:
        changed.write_bytes(original)


def test_bad_campaigns_get_clear_errors(campaign, tmp_path):
    folder, _ = campaign
    with pytest.raises(InvalidParameterError, match="outside the input folder"):
        run_campaign("cycling", folder, folder / "results", n_workers=0, progress=None)
    with pytest.raises(InvalidParameterError, match="--out is set per file"):
        run_campaign("cycling", folder, tmp_path / "o", options=["--out", "x"], n_workers=0, progress=None)
    with pytest.raises(InvalidParameterError, match="sensor kind"):
        run_campaign("sensors", folder, tmp_path / "o", n_workers=0, progress=None)
    with pytest.raises(MissingDataError, match="no files"):
        run_campaign("xrd", folder, tmp_path / "o", n_workers=0, progress=None)
    with pytest.raises(InvalidParameterError, match="technique"):
        campaign_inputs("afm", folder)


def test_command_line_campaign(campaign, tmp_path):
    folder, truths = campaign
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "battlab.cli", "batch", "cycling", str(folder), "--out", str(out),
                           "--workers", "0", "--", *MASS], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 1  # one file failed, and the exit code says so
    assert f"{len(truths) + 1} files: {len(truths)} analysed, 0 already done, 1 failed" in proc.stdout
    assert "failed: damaged.csv" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "4/4 files, 1 failed" in proc.stderr  # the progress bar
    table = pd.read_csv(out / "campaign.csv")
    assert sorted(table["status"]) == ["done", "done", "done", "failed"]


def test_campaign_on_a_running_scheduler(campaign, tmp_path):
    from distributed import LocalCluster

    folder, truths = campaign
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        table = run_campaign("cycling", folder, tmp_path / "remote", options=MASS, pattern="cell*",
                             scheduler=cluster.scheduler_address, progress=None)
    assert list(table["status"]) == ["done"] * len(truths)
    for path, n_cycles in truths.items():
        rel = path.relative_to(folder)
        assert len(_cycles(tmp_path / "remote" / rel.parent / rel.name.replace(".", "_"))) == n_cycles


def test_a_file_that_kills_its_worker_fails_alone():
    # A real worker process dies with SIGSEGV on one file; the campaign records that file as
    # failed (not retried on the other workers) and finishes the rest.
    from distributed import Client

    from battlab.batch import _collect, _local_cluster, _Task
    from tests.hardening._bad_readers import crash_on_named_task

    tasks = [_Task(f"/in/{name}.csv", f"/out/{name}", ()) for name in ("a", "crash", "b", "c")]
    with _local_cluster(1) as cluster, Client(cluster) as client:
        rows = {Path(r["file"]).stem: r for r in _collect(client, crash_on_named_task, tasks)}
    assert set(rows) == {"a", "crash", "b", "c"}
    assert rows["crash"]["status"] == "failed" and "worker" in rows["crash"]["message"]
    assert all(rows[k]["status"] == "done" for k in ("a", "b", "c")), rows
