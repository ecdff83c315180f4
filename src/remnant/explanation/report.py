"""The explanation for people: plain sentences, a curve, the shares and an icon array.

:func:`render_html` writes one self-contained HTML file: the figures are embedded (a PNG as a
data URI, the shares and the 100-person icon array as inline SVG), there is no network
request. A short script at the end records on ``<body>`` whether each figure was drawn
(``data-curve``, ``data-shares``, ``data-icons``), which the test suite reads back from
headless Chromium.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from remnant.explanation.explain import CAUSES, DISCLAIMER, Explanation
from remnant.model.units import DAYS_PER_YEAR

CAUSE_LABEL = {
    "immunity": "immunity (the body's defence was weaker than the reference)",
    "removal": "removal (cells left at the edge of the surgery)",
    "stage": "stage (the tumour was larger or had reached lymph nodes)",
}
CAUSE_COLOUR = {"immunity": "#2ca02c", "removal": "#d62728", "stage": "#1f77b4"}
WHATIF_LABEL = {
    "earlier": "found {m:g} months earlier",
    "clear_margin": "clear margin (R0)",
    "high_immunity": "immunity at the high level",
    "all": "all three together",
}


def out_of_100(p: float) -> int:
    """A probability as a whole number of people out of 100."""
    return int(np.clip(round(100 * p), 0, 100))


def sentences(e: Explanation) -> list[str]:
    """Short plain sentences with numbers as N out of 100."""
    r5 = out_of_100(e.risk["5"])
    lo, hi = out_of_100(e.risk_lower["5"]), out_of_100(e.risk_upper["5"])
    out = [
        f"Out of 100 people like this patient, about {r5} would have the cancer come back "
        f"within 5 years (the model's range: {lo} to {hi}); {out_of_100(e.risk['1'])} within "
        f"1 year and {out_of_100(e.risk['10'])} within 10 years.",
        f"For 100 people with the same cancer found at stage I, removed with a clear margin and "
        f"with strong immunity, about {out_of_100(e.reference_risk)} would within 5 years.",
    ]
    if e.excess_risk > 0.005:
        parts = [f"{c} {out_of_100(max(e.shares[c], 0.0))}" for c in CAUSES if e.shares[c] >= 0.005]
        out.append(
            f"The difference, {out_of_100(e.excess_risk)} out of 100, splits between the causes "
            f"as: {', '.join(parts) if parts else 'none clearly'}."
        )
    for name, cf in e.counterfactuals.items():
        label = WHATIF_LABEL[name].format(m=e.earlier_months)
        out.append(f"If {label}: about {out_of_100(cf['risk']['5'])} out of 100 within 5 years.")
    if e.conditional is not None:
        out.append(
            f"For someone already free of recurrence for {e.recurrence_free_years:g} years, "
            f"about {out_of_100(e.conditional['5'])} out of 100 would have it come back in the "
            "next 5 years."
        )
    return out


def curve_png(e: Explanation) -> bytes:
    """Risk of recurrence over 10 years with its band and the what-if curves (PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = e.curve
    years = c.index.to_numpy() / DAYS_PER_YEAR
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.fill_between(
        years, 100 * c["lower"], 100 * c["upper"], color="#444", alpha=0.15, label="95% band"
    )
    ax.plot(years, 100 * c["risk"], color="black", lw=2.2, label="this patient")
    styles = {
        "earlier": "#1f77b4",
        "clear_margin": "#d62728",
        "high_immunity": "#2ca02c",
        "all": "#9467bd",
    }
    for name, colour in styles.items():
        ax.plot(
            years,
            100 * c[f"risk_{name}"],
            color=colour,
            lw=1.4,
            ls="--",
            label=WHATIF_LABEL[name].format(m=e.earlier_months),
        )
    ax.set_xlabel("years after surgery")
    ax.set_ylabel("people out of 100 with a recurrence")
    ax.set_xlim(0, years[-1])
    ax.set_ylim(0, max(5.0, 100 * float(c["upper"].max()) * 1.1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def shares_svg(e: Explanation) -> str:
    """Horizontal bars of the Shapley shares (points out of 100) with their intervals."""
    width, row, left = 560, 34, 150
    scale_max = max(
        [abs(v) for v in e.shares.values()] + [hi for _, hi in e.share_intervals.values()] + [0.01]
    )
    k = (width - left - 30) / (100 * scale_max)
    items = []
    for i, c in enumerate(CAUSES):
        y = 10 + i * row
        v = 100 * e.shares[c]
        lo, hi = (100 * x for x in e.share_intervals[c])
        x0 = left + min(0.0, v) * k
        items.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" font-size="13">{c}</text>'
            f'<rect class="share" x="{x0:.1f}" y="{y + 4}" width="{abs(v) * k:.1f}" '
            f'height="16" fill="{CAUSE_COLOUR[c]}"/>'
            f'<line x1="{left + lo * k:.1f}" x2="{left + hi * k:.1f}" y1="{y + 12}" '
            f'y2="{y + 12}" stroke="black"/>'
            f'<text x="{left + max(v, hi) * k + 6:.1f}" y="{y + 16}" font-size="12">'
            f"{v:.1f}</text>"
        )
    h = 20 + row * len(CAUSES)
    return (
        f'<svg id="shares" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
        f'role="img" aria-label="shares of the excess risk">'
        f'<line x1="{left}" x2="{left}" y1="5" y2="{h - 5}" stroke="#888"/>'
        + "".join(items)
        + "</svg>"
    )


def icons_svg(e: Explanation) -> str:
    """100 people: the reference's risk, each cause's share, and no recurrence."""
    counts = [("reference", out_of_100(e.reference_risk), "#7f7f7f")]
    for c in CAUSES:
        counts.append((c, out_of_100(max(e.shares[c], 0.0)), CAUSE_COLOUR[c]))
    colours: list[tuple[str, str]] = []
    for label, n, colour in counts:
        colours += [(label, colour)] * n
    colours = colours[:100]
    colours += [("no recurrence", "#e8e8e8")] * (100 - len(colours))
    cells = []
    for i, (label, colour) in enumerate(colours):
        x, y = 14 + (i % 10) * 26, 14 + (i // 10) * 26
        cells.append(
            f'<circle class="person" data-kind="{label}" cx="{x}" cy="{y - 4}" r="4.5" '
            f'fill="{colour}"/><rect class="body" x="{x - 5}" y="{y + 1}" width="10" '
            f'height="9" rx="3" fill="{colour}"/>'
        )
    return (
        '<svg id="icons" xmlns="http://www.w3.org/2000/svg" width="270" height="270" '
        'role="img" aria-label="100 people">' + "".join(cells) + "</svg>"
    )


_CHECK = """<script>
(function () {
  var img = document.getElementById('curve');
  var b = document.body;
  function mark() {
    b.setAttribute('data-curve', img.complete && img.naturalWidth > 0 ? 'drawn' : 'missing');
    var s = document.querySelectorAll('#shares rect.share');
    var box = document.getElementById('shares').getBoundingClientRect();
    b.setAttribute('data-shares', s.length === 3 && box.width > 0 ? 'drawn' : 'missing');
    var p = document.querySelectorAll('#icons circle.person');
    var ib = document.getElementById('icons').getBoundingClientRect();
    b.setAttribute('data-icons', p.length === 100 && ib.width > 0 ? 'drawn' : 'missing');
  }
  if (img.complete) { mark(); } else { img.onload = mark; img.onerror = mark; }
})();
</script>"""


def render_html(e: Explanation) -> str:
    """The whole report as one HTML string."""
    png = base64.b64encode(curve_png(e)).decode("ascii")
    p = e.patient
    rows = "".join(
        f"<tr><td>{h} year{'s' if h != '1' else ''}</td><td>{out_of_100(e.risk[h])} of 100</td>"
        f"<td>{out_of_100(e.risk_lower[h])}-{out_of_100(e.risk_upper[h])}</td>"
        + "".join(f"<td>{out_of_100(cf['risk'][h])}</td>" for cf in e.counterfactuals.values())
        + "</tr>"
        for h in e.risk
    )
    heads = "".join(
        f"<th>{html.escape(WHATIF_LABEL[n].format(m=e.earlier_months))}</th>"
        for n in e.counterfactuals
    )
    legend = "".join(
        f'<li><span style="color:{CAUSE_COLOUR[c]}">&#9679;</span> '
        f"{html.escape(CAUSE_LABEL[c])}</li>"
        for c in CAUSES
    )
    text = "".join(f"<p>{html.escape(s)}</p>" for s in sentences(e))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>remnant: recurrence risk explained</title>
<style>
body {{ font-family: sans-serif; max-width: 820px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 4px 10px; border-bottom: 1px solid #ddd; }}
.disclaimer {{ background: #fff4e0; padding: 0.8em; border-left: 4px solid #e0a000; }}
</style></head>
<body>
<h1>Risk of the cancer coming back</h1>
<p class="disclaimer">{html.escape(DISCLAIMER)}</p>
<p>Patient: {html.escape(p.cancer)} cancer, {p.size_mm:g} mm, {p.nodes} positive nodes,
grade {p.grade}, margin {html.escape(p.margin)}, immunity {p.immunity:g}, age {p.age:g}.</p>
<h2>In plain words</h2>
{text}
<h2>Over time</h2>
<img id="curve" alt="risk of recurrence over 10 years" src="data:image/png;base64,{png}">
<table><tr><th>within</th><th>this patient</th><th>95% range</th>{heads}</tr>{rows}</table>
<h2>Why: the share of each cause</h2>
<p>Extra risk at 5 years over the reference patient (stage I, clear margin, strong immunity):
{100 * e.excess_risk:.1f} out of 100, shared exactly between the three causes (Shapley values,
points out of 100; lines: 95% intervals).</p>
{shares_svg(e)}
<ul>{legend}</ul>
<h2>100 people like this patient</h2>
<p>Grey: would have a recurrence even as the reference patient; coloured: the extra recurrences
by cause; light: no recurrence within 5 years.</p>
{icons_svg(e)}
{_CHECK}
</body></html>
"""


def write_html(e: Explanation, path: str | Path) -> Path:
    """Write the report atomically."""
    from remnant.files import write_text_atomic

    p = Path(path)
    write_text_atomic(p, render_html(e))
    return p
