"""The page's words: one catalogue per language (messages/<lang>.json), the numbers the same.

The language comes from ``?lang=`` when given, else the first language of the browser's
``Accept-Language`` that has a catalogue, else English.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """The messages of ``lang`` (one of :data:`LANGUAGES`)."""
    text = resources.files("remnant.web").joinpath(f"messages/{lang}.json").read_text("utf-8")
    return dict(json.loads(text))


def choose(query: str | None, accept_language: str | None) -> str:
    """The page's language from the query's ``lang`` and the ``Accept-Language`` header."""
    if query in LANGUAGES:
        return query
    ranked: list[tuple[float, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, f"{i:04d}{tag.strip().lower()}"))
    for _, key in sorted(ranked):
        base = key[4:].split("-")[0]
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE
