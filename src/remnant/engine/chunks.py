"""Chunks of patients: the unit of work, of randomness and of output.

Patients are cut into chunks of :data:`CHUNK_SIZE` by index. Chunk ``i`` draws from its own
stream, ``SeedSequence(seed, spawn_key=(i,))``, so a patient's numbers depend only on the
seed, the scenario and the patient's index: never on the number of workers, the order in
which chunks finish or the machine that ran them. :func:`run_chunk` is a pure function of a
:class:`ChunkPlan` and a chunk index, which is all a cluster backend needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from remnant.engine.kernel import simulate_chunk
from remnant.model.mechanisms import derive, mechanism_vector
from remnant.model.outcomes import EVENTS, ORIGINS, PHASES
from remnant.model.scenario import Scenario
from remnant.model.units import DAYS_PER_YEAR

CHUNK_SIZE = 32_768

_EVENT_DICT = pa.array(EVENTS)
_ORIGIN_DICT = pa.array(ORIGINS)
_PHASE_DICT = pa.array(PHASES)

SCHEMA = pa.schema(
    [
        ("patient", pa.int64()),
        ("time_days", pa.float64()),
        ("event", pa.dictionary(pa.int8(), pa.string())),
        ("origin", pa.dictionary(pa.int8(), pa.string())),
        ("escaped_low_immunity", pa.bool_()),
        ("immune_phase", pa.dictionary(pa.int8(), pa.string())),
        ("clones_alive", pa.int32()),
        ("dormant_alive", pa.int64()),
        ("profile", pa.int16()),
    ]
)


@dataclass(frozen=True)
class ChunkPlan:
    """Everything a worker needs to simulate any chunk of a run (picklable)."""

    profiles: np.ndarray
    cum_weights: np.ndarray
    mechanism: np.ndarray
    dips: np.ndarray
    horizon_days: float
    seed: int
    n_patients: int
    chunk_size: int = CHUNK_SIZE

    @classmethod
    def build(
        cls, scenario: Scenario, n_patients: int, seed: int, horizon_years: float
    ) -> ChunkPlan:
        mech = scenario.mechanism
        profiles = np.vstack([derive(p, mech).profile_row(p, mech) for p in scenario.profiles])
        cum = np.cumsum(np.asarray(scenario.weights, dtype=np.float64))
        cum[-1] = 1.0
        vec, dips = mechanism_vector(mech)
        return cls(profiles, cum, vec, dips, horizon_years * DAYS_PER_YEAR, seed, n_patients)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_patients // self.chunk_size)

    def bounds(self, index: int) -> tuple[int, int]:
        start = index * self.chunk_size
        return start, min(start + self.chunk_size, self.n_patients)


def chunk_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of chunk ``index`` of a run with this seed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


def run_chunk(plan: ChunkPlan, index: int) -> pa.RecordBatch:
    """Simulate chunk ``index`` of the plan; returns its rows as an Arrow record batch."""
    start, stop = plan.bounds(index)
    n = stop - start
    time = np.empty(n)
    event = np.empty(n, dtype=np.int8)
    origin = np.empty(n, dtype=np.int8)
    escaped = np.empty(n, dtype=np.bool_)
    phase = np.empty(n, dtype=np.int8)
    alive = np.empty(n, dtype=np.int32)
    dormant = np.empty(n, dtype=np.int64)
    profile = np.empty(n, dtype=np.int16)
    simulate_chunk(
        chunk_rng(plan.seed, index),
        n,
        plan.profiles,
        plan.cum_weights,
        plan.mechanism,
        plan.dips,
        plan.horizon_days,
        time,
        event,
        origin,
        escaped,
        phase,
        alive,
        dormant,
        profile,
    )
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.arange(start, stop, dtype=np.int64)),
            pa.array(time),
            pa.DictionaryArray.from_arrays(pa.array(event), _EVENT_DICT),
            pa.DictionaryArray.from_arrays(pa.array(origin), _ORIGIN_DICT),
            pa.array(escaped),
            pa.DictionaryArray.from_arrays(pa.array(phase), _PHASE_DICT),
            pa.array(alive),
            pa.array(dormant),
            pa.array(profile),
        ],
        schema=SCHEMA,
    )
