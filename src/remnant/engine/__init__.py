"""The stochastic engine: samplers, chunks, backends and the ``simulate`` entry point."""

from remnant.engine.simulate import SimulationResult, read_metadata, simulate

__all__ = ["SimulationResult", "read_metadata", "simulate"]
