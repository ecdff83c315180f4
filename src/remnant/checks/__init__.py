"""The checks beside the model: the slow event-by-event reference simulation
(:mod:`remnant.checks.reference`) and the statistical verification of the engine against it
and against theory (:mod:`remnant.checks.verification`, ``make verify``)."""
