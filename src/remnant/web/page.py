"""The calculator's page: a form and, below it, the answer, rendered on the server.

The form is sent with GET, so the inputs live in the URL and a result can be shared and
opened again. Nothing is loaded from elsewhere: the curve and the icon array are inline SVG,
the style is in the page, and the only script is the print button's.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from remnant.errors import RemnantInputError
from remnant.model.units import DAYS_PER_YEAR
from remnant.web.messages import LANGUAGES, catalogue
from remnant.web.schema import PredictRequest

CAUSES = ("immunity", "removal", "stage")
CAUSE_COLOUR = {"immunity": "#1b7a1b", "removal": "#b3191b", "stage": "#17609e"}
REFERENCE_COLOUR = "#6b6b6b"
NO_RECURRENCE_COLOUR = "#e3e3e3"
WHATIFS = ("earlier", "clear_margin", "high_immunity", "all")
WHATIF_DASH = {"earlier": "6 3", "clear_margin": "2 3", "high_immunity": "8 3 2 3", "all": "1 2"}
HORIZONS = ("1", "3", "5", "10")
# Form fields: (name, kind); "choice" fields list their values.
CHOICES: dict[str, tuple[str, ...]] = {
    "cancer": ("colon", "breast"),
    "stage": ("", "I", "II", "III"),
    "grade": ("1", "2", "3"),
    "margin": ("R0", "R1", "R2"),
    "immune": ("low", "intermediate", "high"),
}
NUMBERS: dict[str, type] = {
    "size_mm": float,
    "nodes": int,
    "age": float,
    "recurrence_free_years": float,
}
FORM_FIELDS = ("cancer", "stage", "size_mm", "nodes", "grade", "margin", "immune", "age")
DEFAULTS = {
    "cancer": "colon",
    "stage": "II",
    "grade": "2",
    "margin": "R0",
    "immune": "intermediate",
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans",sans-serif;color:#111;
background:#fff;margin:0 auto;max-width:60rem;padding:1rem;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:1.6rem}
form{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.8rem;
padding:1rem;border:1px solid #999;border-radius:.4rem}
label{display:block;font-weight:600}
input,select,button{font:inherit;padding:.35rem;border:1px solid #555;border-radius:.25rem;
width:100%;box-sizing:border-box;background:#fff;color:#111}
button{background:#17609e;color:#fff;border-color:#17609e;cursor:pointer;width:auto}
:focus-visible{outline:3px solid #c55a00;outline-offset:2px}
.error{color:#a00000;font-weight:600}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.bar{display:inline-block;height:.9rem;vertical-align:middle}
.lang a{margin-right:.8rem}.legend{list-style:none;padding:0}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem}
.disclaimer{border-left:4px solid #c55a00;padding:.4rem .8rem;background:#fff6ee}
@media print{form,.lang,.noprint,.skip{display:none}body{max-width:none}}
"""


def parse(params: Mapping[str, str]) -> tuple[PredictRequest | None, dict[str, str], bool]:
    """The request a form's query asks for, or None; the errors by field; whether asked.

    Empty values are "not given". A bad value is kept in the form with its error beside it.
    """
    asked = any(params.get(k) for k in FORM_FIELDS)
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in (*FORM_FIELDS, "recurrence_free_years"):
        raw = (params.get(name) or "").strip()
        if not raw:
            continue
        if name in NUMBERS:
            try:
                data[name] = NUMBERS[name](raw)
            except ValueError:
                errors[name] = "a number" if NUMBERS[name] is float else "a whole number"
        elif name == "grade":
            data[name] = int(raw) if raw in CHOICES["grade"] else raw
        else:
            data[name] = raw
    if not asked or errors:
        return None, errors, asked
    try:
        request = PredictRequest.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            errors[str(err["loc"][0]) if err["loc"] else "form"] = err["msg"]
        return None, errors, asked
    from remnant.explanation.fields import patient_from_fields

    try:
        patient_from_fields(request.patient_fields())
    except RemnantInputError as exc:
        errors[exc.field] = f"{exc.allowed}"
        return None, errors, asked
    return request, errors, asked


def _t(m: Mapping[str, str], key: str, **values: Any) -> str:
    return html.escape(m[key].format(**values))


def out_of_100(p: float) -> int:
    """A probability as a whole number of people out of 100."""
    from remnant.explanation.report import out_of_100 as people

    return people(p)


def _form(
    m: Mapping[str, str], params: Mapping[str, str], errors: Mapping[str, str], lang: str
) -> str:
    def value(name: str) -> str:
        given = params.get(name)
        return given if given is not None else DEFAULTS.get(name, "")

    cells = []
    for name in (*FORM_FIELDS, "recurrence_free_years"):
        label = m[name] + ("" if name in ("cancer", "margin", "immune") else f" ({m['optional']})")
        err = errors.get(name)
        described = f' aria-describedby="err-{name}" aria-invalid="true"' if err else ""
        if name in CHOICES:
            options = []
            for v in CHOICES[name]:
                text = m.get(f"{name}_{v}", v) if v else m["stage_none"]
                sel = " selected" if value(name) == v else ""
                options.append(f'<option value="{v}"{sel}>{html.escape(text)}</option>')
            field = f'<select id="{name}" name="{name}"{described}>{"".join(options)}</select>'
        else:
            step = "1" if NUMBERS[name] is int else "any"
            field = (
                f'<input id="{name}" name="{name}" type="number" step="{step}" '
                f'inputmode="decimal" value="{html.escape(value(name))}"{described}>'
            )
        note = (
            f'<span id="err-{name}" class="error">{html.escape(m["error"])}: '
            f"{html.escape(err)}</span>"
            if err
            else ""
        )
        cells.append(f'<div><label for="{name}">{html.escape(label)}</label>{field}{note}</div>')
    return (
        f'<form method="get" action="/" aria-label="{html.escape(m["title"])}">'
        + "".join(cells)
        + f'<input type="hidden" name="lang" value="{lang}">'
        + f'<div><button type="submit">{html.escape(m["submit"])}</button></div></form>'
    )


def _curve_svg(m: Mapping[str, str], e: Any) -> str:
    """Risk over 10 years: the band, the patient's curve and the what-ifs (inline SVG)."""
    c = e.curve
    width, height, left, bottom = 640, 300, 48, 36
    years = c.index.to_numpy() / DAYS_PER_YEAR
    top = max(0.05, float(c["upper"].max()))

    def xy(t: float, r: float) -> str:
        x = left + (width - left - 10) * t / 10.0
        y = height - bottom - (height - bottom - 10) * r / top
        return f"{x:.1f},{y:.1f}"

    band = " ".join(xy(t, r) for t, r in zip(years, c["upper"], strict=True))
    band += " " + " ".join(xy(t, r) for t, r in zip(years[::-1], c["lower"][::-1], strict=True))
    lines = [f'<polygon points="{band}" fill="#9ec5e8" opacity="0.6"/>']
    for name in WHATIFS:
        pts = " ".join(xy(t, r) for t, r in zip(years, c[f"risk_{name}"], strict=True))
        lines.append(
            f'<polyline points="{pts}" fill="none" stroke="#555" stroke-width="1.5" '
            f'stroke-dasharray="{WHATIF_DASH[name]}"/>'
        )
    pts = " ".join(xy(t, r) for t, r in zip(years, c["risk"], strict=True))
    lines.append(f'<polyline points="{pts}" fill="none" stroke="#17609e" stroke-width="3"/>')
    ticks = []
    for y in range(0, 11, 2):
        x = xy(y, 0).split(",")[0]
        ticks.append(
            f'<text x="{x}" y="{height - bottom + 16}" font-size="12" '
            f'text-anchor="middle">{y}</text>'
        )
    for k in range(0, 5):
        r = top * k / 4
        yy = xy(0, r).split(",")[1]
        ticks.append(
            f'<text x="{left - 6}" y="{yy}" font-size="12" text-anchor="end">{out_of_100(r)}</text>'
            f'<line x1="{left}" x2="{width - 10}" y1="{yy}" y2="{yy}" stroke="#ddd"/>'
        )
    return (
        f'<svg id="curve" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{_t(m, "curve_alt")}">'
        + "".join(ticks)
        + "".join(lines)
        + "</svg>"
    )


def _legend(m: Mapping[str, str], e: Any, whatif_label: Mapping[str, str]) -> str:
    """What each line of the curve is; the axes' units."""

    def sample(dash: str, colour: str, width: float) -> str:
        return (
            '<svg width="36" height="10" aria-hidden="true"><line x1="0" x2="36" y1="5" y2="5" '
            f'stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dash}"/></svg>'
        )

    items = [f"<li>{sample('', '#17609e', 3)} {_t(m, 'this_patient')}</li>"]
    items.append(
        '<li><svg width="36" height="10" aria-hidden="true"><rect width="36" height="10" '
        f'fill="#9ec5e8"/></svg> {_t(m, "range")}</li>'
    )
    items += [
        f"<li>{sample(WHATIF_DASH[k], '#555', 1.5)} {html.escape(whatif_label[k])}</li>"
        for k in WHATIFS
    ]
    return f'<p>{_t(m, "curve_axes")}</p><ul class="legend">{"".join(items)}</ul>'


def _icons(m: Mapping[str, str], e: Any) -> str:
    ref = out_of_100(e.reference_risk)
    counts = [(REFERENCE_COLOUR, ref)]
    counts += [(CAUSE_COLOUR[c], out_of_100(max(e.shares[c], 0.0))) for c in CAUSES]
    colours: list[str] = []
    for colour, n in counts:
        colours += [colour] * n
    colours = colours[:100]
    extra = len(colours) - ref
    none = 100 - len(colours)
    colours += [NO_RECURRENCE_COLOUR] * none
    cells = []
    for i, colour in enumerate(colours):
        x, y = 14 + (i % 10) * 26, 14 + (i // 10) * 26
        cells.append(
            f'<circle cx="{x}" cy="{y - 4}" r="4.5" fill="{colour}"/>'
            f'<rect x="{x - 5}" y="{y + 1}" width="10" height="9" rx="3" fill="{colour}"/>'
        )
    label = _t(m, "icons_alt", ref=ref, extra=extra, none=none)
    return (
        f'<svg id="icons" xmlns="http://www.w3.org/2000/svg" width="270" height="270" '
        f'role="img" aria-label="{label}">' + "".join(cells) + "</svg>"
    )


def _answer(m: Mapping[str, str], e: Any, given: Any) -> str:
    r = {h: out_of_100(e.risk[h]) for h in HORIZONS}
    lo = {h: out_of_100(e.risk_lower[h]) for h in HORIZONS}
    hi = {h: out_of_100(e.risk_upper[h]) for h in HORIZONS}
    cf = {k: {h: out_of_100(v["risk"][h]) for h in HORIZONS} for k, v in e.counterfactuals.items()}
    whatif_label = {k: m[f"whatif_{k}"].format(m=f"{e.earlier_months:g}") for k in WHATIFS}
    head = "".join(
        f'<th scope="col">{html.escape(x)}</th>'
        for x in (m["within"], m["this_patient"], m["range"], *whatif_label.values())
    )
    rows = []
    for h in HORIZONS:
        when = m["year"] if h == "1" else m["years"].format(n=h)
        cells = [f'<td data-risk="{h}">{r[h]}</td>', f'<td data-range="{h}">{lo[h]}-{hi[h]}</td>']
        cells += [f'<td data-whatif="{k}-{h}">{cf[k][h]}</td>' for k in WHATIFS]
        rows.append(f'<tr><th scope="row">{html.escape(when)}</th>{"".join(cells)}</tr>')
    table = (
        f'<table id="risk"><caption>{_t(m, "risk_table")}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    shares = []
    for c in CAUSES:
        pts = 100 * e.shares[c]
        lo_c, hi_c = (100 * x for x in e.share_intervals[c])
        width = max(0.0, min(pts, 100.0)) * 3
        shares.append(
            f'<tr><th scope="row">{_t(m, f"cause_{c}")}</th><td data-share="{c}">{pts:.1f}</td>'
            f'<td>{lo_c:.1f} – {hi_c:.1f}</td><td><span class="bar" style="width:{width:.0f}px;'
            f'background:{CAUSE_COLOUR[c]}"></span></td></tr>'
        )
    parts = ", ".join(
        f"{m[f'cause_{c}']} {out_of_100(max(e.shares[c], 0.0))}"
        for c in CAUSES
        if e.shares[c] >= 0.005
    )
    sentences = [
        _t(m, "sentence_risk", r5=r["5"], lo=lo["5"], hi=hi["5"], r1=r["1"], r10=r["10"]),
        _t(m, "sentence_reference", ref=out_of_100(e.reference_risk)),
    ]
    if e.excess_risk > 0.005 and parts:
        sentences.append(_t(m, "sentence_shares", excess=out_of_100(e.excess_risk), parts=parts))
    for k in WHATIFS:
        sentences.append(_t(m, "sentence_whatif", label=whatif_label[k], n=cf[k]["5"]))
    if e.conditional is not None:
        sentences.append(
            _t(
                m,
                "sentence_conditional",
                y=f"{e.recurrence_free_years:g}",
                n=out_of_100(e.conditional["5"]),
            )
        )
    filled = ""
    if given.filled:
        names = ", ".join(m[k] for k in given.filled)
        filled = f"<p>{_t(m, 'filled', stage=given.stage, fields=names)}</p>"
    return (
        f'<section id="answer" aria-live="polite"><h2>{_t(m, "answer")}</h2>{filled}'
        + "".join(f'<p class="sentence">{s}</p>' for s in sentences)
        + table
        + _curve_svg(m, e)
        + _legend(m, e, whatif_label)
        + f"<h2>{_t(m, 'icons_title')}</h2>"
        + _icons(m, e)
        + f'<h2>{_t(m, "shares_title")}</h2><table id="shares">{"".join(shares)}</table>'
        + f'<p class="noprint"><button type="button" onclick="window.print()">{_t(m, "print")}'
        + "</button></p></section>"
    )


def render(params: Mapping[str, str], lang: str) -> str:
    """The whole page for the query ``params`` in ``lang``."""
    m = catalogue(lang)
    request, errors, asked = parse(params)
    answer = ""
    if request is not None:
        from remnant.web.service import explain_request

        given, e = explain_request(request)
        answer = _answer(m, e, given)
    keep = {k: v for k, v in params.items() if k != "lang" and v}
    links = []
    for code in LANGUAGES:
        query = html.escape(urlencode({**keep, "lang": code}))
        current = ' aria-current="true"' if code == lang else ""
        name = html.escape(catalogue(code)["lang_name"])
        links.append(f'<a href="/?{query}" hreflang="{code}" lang="{code}"{current}>{name}</a>')
    switch = " ".join(links)
    html_lang = "zh-Hans" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_t(m, 'title')}</title><style>{STYLE}</style></head><body>"
        + (f'<a class="skip" href="#answer">{_t(m, "answer")}</a>' if answer else "")
        + f'<nav class="lang" aria-label="{_t(m, "language")}">{switch}</nav>'
        + f"<h1>{_t(m, 'title')}</h1><p>{_t(m, 'intro')}</p>"
        + _form(m, params, errors, lang)
        + answer
        + f'<p class="disclaimer">{_t(m, "disclaimer")}</p></body></html>'
    )
