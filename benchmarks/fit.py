"""Time to fit the three-cause model to about 3000 patients.

    .venv/bin/python benchmarks/fit.py

Rows: the Rotterdam cohort (2982 patients, 8 columns, 18 parameters, column links with the
spread of immunity) and 3000 engine-simulated colon patients (mechanism links, 3 parameters).
Each fit is timed end to end (kernel table, optimisation, Laplace Hessian) after a warm-up
fit that compiles the kernels; the stages are reported separately.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from remnant.data import load_cohort
from remnant.fit.model import fit
from remnant.fit.recovery import simulated_cohort


def main() -> None:
    cohort = load_cohort("rotterdam")
    X, t, e = simulated_cohort(3000, seed=0)
    fit(X.iloc[:300], t[:300], e[:300], links="mechanism", cancer="colon")  # compile
    rows = []
    for label, call in (
        ("rotterdam, column links (2982 patients)", lambda: fit(cohort)),
        ("engine colon, mechanism links (3000)", lambda: fit(X, t, e, links="mechanism")),
    ):
        start = time.perf_counter()
        f = call()
        total = time.perf_counter() - start
        r = f.result
        rows.append((label, len(r.names), r.iterations, r.evaluations, r.seconds, total))
    table = Table(title="fit time (s), one process, 2 cores")
    for col in ("data", "parameters", "iterations", "evaluations", "optimise+Hessian s", "total s"):
        table.add_column(col)
    for label, p, it, ev, opt, total in rows:
        table.add_row(label, str(p), str(it), str(ev), f"{opt:.1f}", f"{total:.1f}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
