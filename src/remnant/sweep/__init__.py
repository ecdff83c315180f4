"""Sweeps: many scenarios, one summary row each, run as one resumable job.

A sweep file (TOML, docs/sweeps.md) names a base scenario, the mechanism and patient
parameters to vary with their ranges, a design (``grid``, ``lhs``, ``sobol`` or ``saltelli``)
and the seeds. :func:`remnant.sweep.run.run_sweep` simulates every point (design row times
seed) on this process's threads or on a Dask cluster and stores one summary row per point in
a directory of Parquet files with a manifest; :mod:`remnant.sweep.runs` lists and queries the
stored runs with DuckDB; :mod:`remnant.sweep.sensitivity` computes Sobol indices.

Modules: :mod:`~remnant.sweep.spec` (the file, validated), :mod:`~remnant.sweep.design`
(the design's rows), :mod:`~remnant.sweep.summary` (one point's statistics),
:mod:`~remnant.sweep.storage` (the directory), :mod:`~remnant.sweep.execute` (where points
run), :mod:`~remnant.sweep.run` (the job), :mod:`~remnant.sweep.runs` (listing and queries),
:mod:`~remnant.sweep.priors` and :mod:`~remnant.sweep.sensitivity` (global sensitivity).
"""
