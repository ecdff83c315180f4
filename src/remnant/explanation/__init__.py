"""One patient explained: risk over time, the share of each cause, what would change it.

``remnant.explanation.explain.explain(patient)`` returns an ``Explanation``; the report and the
default model live in ``report`` and ``default_model`` (docs/explain.md).
"""
