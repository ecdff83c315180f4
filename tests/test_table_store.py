"""Kernel tables on disk: read back bit for bit, keyed by arguments and code, never in the way."""

import numpy as np
import pytest

from remnant.inference import table_store, tables
from remnant.model.parameters import Mechanism


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(table_store.CACHE_ENV, str(tmp_path / "tables"))
    tables.clear_tables()
    yield tmp_path / "tables"
    tables.clear_tables()


def small(mech: Mechanism, **kw):
    return tables.build_table(mech, "colon", (2,), n_draws=2, years=3.0, **kw)


def test_a_stored_table_is_read_back_identical(store):
    built = small(Mechanism())
    assert len(list(store.iterdir())) == 1
    tables.clear_tables()
    read = small(Mechanism())
    assert read is not built
    assert read.values.tobytes() == built.values.tobytes()
    assert read.weights.tobytes() == built.weights.tobytes()
    assert np.array_equal(read.log2_i0, built.log2_i0)
    assert (read.cancer, read.grades, read.dt, read.m_local, read.sub_rows) == (
        built.cancer,
        built.grades,
        built.dt,
        built.m_local,
        built.sub_rows,
    )
    assert not read.values.flags.writeable


def test_other_arguments_or_code_are_other_entries(store, monkeypatch):
    small(Mechanism())
    small(Mechanism(kill_rate=0.018))
    assert len(list(store.iterdir())) == 2
    key = ("m", "colon", (2,))
    name = table_store.entry_name(key)
    monkeypatch.setattr(table_store, "source_digest", lambda: "changed code")
    assert table_store.entry_name(key) != name


def test_a_damaged_entry_is_rebuilt(store):
    built = small(Mechanism())
    (entry,) = store.iterdir()
    (entry / "values.npy").write_bytes(b"not an array")
    tables.clear_tables()
    again = small(Mechanism())
    assert again.values.tobytes() == built.values.tobytes()


def test_switched_off_or_unwritable_cache_builds_in_memory(tmp_path, monkeypatch):
    tables.clear_tables()
    monkeypatch.setenv(table_store.CACHE_ENV, "off")
    assert table_store.cache_dir() is None
    small(Mechanism())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(table_store.CACHE_ENV, str(blocker / "tables"))  # under a file
    tables.clear_tables()
    assert small(Mechanism()).values.shape[0] == 1
    tables.clear_tables()


def test_at_most_max_entries_are_kept(store, monkeypatch):
    monkeypatch.setattr(table_store, "MAX_STORED_TABLES", 2)
    for k in (1.0, 1.2, 1.4):
        small(Mechanism(kill_rate=0.012 * k))
    assert len(list(store.iterdir())) == 2


def test_each_grade_is_stored_and_a_table_of_several_is_their_rows(store):
    both = tables.build_table(Mechanism(), "colon", (1, 3), n_draws=2, years=3.0)
    assert len(list(store.iterdir())) == 2  # one entry per grade
    tables.clear_tables()
    alone = [tables.build_table(Mechanism(), "colon", (g,), n_draws=2, years=3.0) for g in (1, 3)]
    for g, one in zip((1, 3), alone, strict=True):
        n = both.rows_of(g)
        assert one.values.shape[1] == n == one.rows_of(g)
        i = both.grades.index(g)
        assert one.values.tobytes() == both.values[i : i + 1, :n].tobytes()
        # rows past a grade's own repeat its last
        assert (both.values[i, n:] == both.values[i, n - 1]).all()
    tables.clear_tables()
    again = tables.build_table(Mechanism(), "colon", (1, 3), n_draws=2, years=3.0)
    assert again.values.tobytes() == both.values.tobytes()  # stacked from the stored grades
    assert again.grade_rows == both.grade_rows


def test_a_grade_of_a_kept_table_is_a_view_not_a_copy(store):
    both = tables.build_table(Mechanism(), "colon", (1, 2), n_draws=2, years=3.0)
    one = tables.build_table(Mechanism(), "colon", (2,), n_draws=2, years=3.0)
    assert np.shares_memory(one.values, both.values)
    assert one.grades == (2,)
    assert one.log2_i0.shape[0] == one.values.shape[1] == both.rows_of(2)


def test_callers_at_once_wait_for_one_build(store, monkeypatch):
    import threading

    calls = []
    real = tables._tabulate
    started = threading.Event()

    def counted(*args):
        calls.append(args[1])
        started.set()
        return real(*args)

    monkeypatch.setattr(tables, "_tabulate", counted)
    out = []
    first = threading.Thread(target=lambda: out.append(small(Mechanism())))
    first.start()
    started.wait(60)  # the first caller is tabulating: the second must wait for it
    out.append(small(Mechanism()))
    first.join()
    assert calls == [(2,)]
    assert out[0] is out[1]


BUILD_AND_COUNT = """
from remnant.inference import tables
from remnant.model.parameters import Mechanism
calls = []
real = tables._tabulate
tables._tabulate = lambda *args: (calls.append(1), real(*args))[1]
tables.build_table(Mechanism(), "colon", (2,), n_draws=2, years=3.0)
print(len(calls))
"""


@pytest.mark.slow  # two fresh processes: about 15 s beside the rest of the suite (make verify)
def test_processes_at_once_tabulate_a_table_once(store):
    # two processes asking for the same table: the second waits on the store's lock and reads
    # what the first stored
    import os
    import subprocess
    import sys

    env = {**os.environ, table_store.CACHE_ENV: str(store)}
    runs = [
        subprocess.Popen([sys.executable, "-c", BUILD_AND_COUNT], env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    counts = [int(p.communicate(timeout=300)[0]) for p in runs]
    assert sorted(counts) == [0, 1]
    assert len([p for p in store.iterdir() if p.is_dir()]) == 1
