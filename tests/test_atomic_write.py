"""Exports are written atomically: a failure mid-write leaves the previous file whole."""

import os

import pytest

from battlab.provenance import atomic_write


def test_atomic_write_replaces_the_file_in_one_step(tmp_path):
    target = tmp_path / "out" / "cycles.csv"
    atomic_write(target, "cycle,capacity_mAh\n1,2.5\n")
    atomic_write(target, b"cycle,capacity_mAh\n1,2.4\n")
    assert target.read_text() == "cycle,capacity_mAh\n1,2.4\n"
    assert [p.name for p in target.parent.iterdir()] == ["cycles.csv"]  # no temporary file left


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failure_mid_write_keeps_the_previous_file_and_leaves_no_debris(tmp_path, monkeypatch, failing):
    target = tmp_path / "cycles.csv"
    atomic_write(target, "previous, complete\n")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, data):
                self.fh.write(data[: len(data) // 2])  # half the bytes reach the temporary file
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, "new content " * 10_000)
    monkeypatch.undo()
    assert target.read_text() == "previous, complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cycles.csv"]
