"""The correlation app's table reader survives damaged uploads with only battlab errors, fast.

Seed: a results table as the XRD app exports it (the multimodal demo's). Mutations as in
``_fuzz.py``; each verdict (a table with its time column, or a BattlabError) within 2 s.
"""

import random
import time

import pytest

from battlab.correlate.workflow import read_table
from battlab.errors import BattlabError
from tests.hardening import _fuzz

LIMIT_S = 2.0


@pytest.mark.slow
def test_results_table_reader_survives_mutations():
    from battlab.datasets.correlation import make_multimodal

    seed = make_multimodal(n_frames=12).data.tables["xrd"].to_csv(index=False).encode()
    rng = random.Random(11)
    n = max(200, _fuzz.cases_per_reader() // 5)
    failures, slowest = [], 0.0
    for k in range(n):
        kind = _fuzz.MUTATIONS[k % len(_fuzz.MUTATIONS)]
        data = _fuzz.mutate(seed, kind, rng)
        start = time.perf_counter()
        try:
            table, column = read_table(data, name="xrd.csv")
            assert column in table  # a table that reads has its time column
        except BattlabError:
            pass
        except Exception as exc:  # noqa: BLE001  anything else is a failure to report
            failures.append(f"case {k} ({kind}): {type(exc).__name__}: {exc}"[:200])
        slowest = max(slowest, time.perf_counter() - start)
    print(f"\nresults-table reader: {n} cases, {len(failures)} failures, max {slowest * 1000:.0f} ms")
    assert not failures, "\n".join(failures[:20])
    assert slowest < LIMIT_S
