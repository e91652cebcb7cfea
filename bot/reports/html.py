"""The report as one self-contained HTML file: inline CSS and hand-written SVG charts.

No script, no font, no image and no URL: it opens in any browser with no network, and can be
mailed as an attachment. The charts: conversations per day, each topic from question to
solution, the resolution of each topic, and the step drop-off of each walkthrough.
"""

from __future__ import annotations

from html import escape

from bot.reports.report import DECISIONS, Report, _duration, _pct, _when

BAR = "#3b82f6"
GOOD = "#16a34a"
MEH = "#a3a3a3"
BAD = "#dc2626"
WARN = "#f59e0b"
CHART_WIDTH = 720

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 760px; color: #111 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 2em }
table { border-collapse: collapse; margin: .5em 0 }
td, th { padding: .2em .7em; text-align: right }
td:first-child, th:first-child { text-align: left } tr:nth-child(even) { background: #f4f4f5 }
.muted { color: #666 } svg text { font: 12px system-ui, sans-serif }
.legend span { display: inline-block; margin-right: 1.2em }
.legend i { display: inline-block; width: .8em; height: .8em; margin-right: .3em }
"""


def format_html(report: Report) -> str:
    """The whole report page."""
    r = report
    asked = sum(r.decisions.values())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Alibaba Mail bot report, last {r.days:g} days</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Alibaba Mail bot: last {r.days:g} days</h1>",
        f'<p class="muted">{_when(r.since)} to {_when(r.until)}. {r.events} events.</p>',
        "<table>",
        _row("Conversations", f"{r.conversations} from {r.chats} chats"),
        *(
            _row(f"First reply: {d}", f"{r.decisions[d]} ({_pct(r.decisions[d], asked)})")
            for d in DECISIONS
        ),
        _row(
            "Escalations to a person",
            f"{r.escalations} ({r.escalations_before_walkthrough} before any walkthrough)",
        ),
        _row("Tickets opened", str(r.tickets_opened)),
        _row("Time to first staff reply (median)", _duration(r.first_reply_median)),
        _row("Ratings of the bot", f"👍 {r.bot_ratings['up']} · 👎 {r.bot_ratings['down']}"),
        _row(
            "Ratings of people",
            f"{r.people_average:.1f} of 5 from {sum(r.people_ratings.values())}"
            if r.people_average is not None
            else "none yet",
        ),
        _row("Unanswered questions", str(r.unanswered)),
        "</table>",
        "<h2>Conversations per day</h2>",
        daily_chart(r),
        "<h2>From question to solution, per topic</h2>",
        _legend((MEH, "recognised"), (BAR, "started"), (WARN, "whole answer"), (GOOD, "resolved")),
        topic_funnel_chart(r),
        "<h2>Resolution per topic</h2>",
        _legend((GOOD, "confirmed"), (BAR, "assumed"), (WARN, "reopened"), (MEH, "unresolved")),
        resolution_chart(r),
        _resolution_table(r),
        "<h2>Where people give up</h2>",
        '<p class="muted">Walkthrough runs that reached each step; the red part stopped '
        "there.</p>",
        *(dropoff_chart(r, i) for i in range(len(r.funnels))),
    ]
    if not r.funnels:
        parts.append('<p class="muted">No walkthroughs in this period.</p>')
    if r.inbox:
        parts += [
            "<h2>Top inbox groups</h2>",
            "<table><tr><th>question</th><th>count</th><th>best guess</th></tr>",
            *(
                f"<tr><td>{escape(example)}</td><td>{n}</td><td>{escape(guess)}</td></tr>"
                for n, example, guess in r.inbox
            ),
            "</table>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _row(label: str, value: str) -> str:
    return f"<tr><td>{escape(label)}</td><td>{escape(value)}</td></tr>"


def _legend(*items: tuple[str, str]) -> str:
    spans = "".join(
        f'<span><i style="background:{color}"></i>{escape(label)}</span>' for color, label in items
    )
    return f'<p class="legend">{spans}</p>'


def _resolution_table(r: Report) -> str:
    rows = [
        "<table><tr><th>topic</th><th>runs</th><th>confirmed</th><th>assumed</th>"
        "<th>reopened</th><th>unresolved</th><th>rate</th></tr>"
    ]
    for t in r.resolution:
        cells = (t.runs, t.confirmed, t.assumed, t.reopened, t.unresolved)
        rows.append(
            f"<tr><td>{escape(t.topic)}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td>{t.rate:.0%}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg role="img" aria-label="{escape(label)}" '
        f'width="{CHART_WIDTH}" height="{height}" viewBox="0 0 {CHART_WIDTH} {height}">'
        + "".join(body)
        + "</svg>"
    )


def daily_chart(r: Report) -> str:
    """Vertical bars: conversations started each day."""
    height, top, bottom, left = 180, 16, 28, 34
    peak = max((n for _, n in r.daily), default=0) or 1
    slot = (CHART_WIDTH - left) / max(len(r.daily), 1)
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{CHART_WIDTH}" y2="{height - bottom}" '
        'stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>',
    ]
    every = max(1, len(r.daily) // 10)
    for i, (day, n) in enumerate(r.daily):
        bar = (height - top - bottom) * n / peak
        x = left + i * slot + slot * 0.15
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{height - bottom - bar:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bar:.1f}" fill="{BAR}">'
            f"<title>{day}: {n}</title></rect>"
        )
        if i % every == 0:
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - 10}" text-anchor="middle">'
                f"{day[5:]}</text>"
            )
    return _svg(height, body, "conversations per day")


def resolution_chart(r: Report) -> str:
    """One stacked horizontal bar per topic: confirmed, assumed, reopened, unresolved."""
    row, left = 26, 170
    height = max(len(r.resolution), 1) * row + 10
    widest = max((t.runs for t in r.resolution), default=0) or 1
    scale = (CHART_WIDTH - left - 40) / widest
    body: list[str] = []
    for i, t in enumerate(r.resolution):
        y = 5 + i * row
        body.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(t.topic)}</text>'
        )
        x = float(left)
        for value, color, name in (
            (t.confirmed, GOOD, "confirmed"),
            (t.assumed, BAR, "assumed"),
            (t.reopened, WARN, "reopened"),
            (t.unresolved, MEH, "unresolved"),
        ):
            if value:
                body.append(
                    f'<rect class="bar" x="{x:.1f}" y="{y}" width="{value * scale:.1f}" '
                    f'height="{row - 8}" fill="{color}"><title>{escape(t.topic)}: {value} '
                    f"{name}</title></rect>"
                )
                x += value * scale
        body.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{t.rate:.0%}</text>')
    return _svg(height, body, "resolution per topic")


def topic_funnel_chart(r: Report) -> str:
    """Per topic, four bars: recognised, started, given the whole answer, resolved."""
    bar, gap, left = 11, 12, 170
    stages = (("recognised", MEH), ("started", BAR), ("answered", WARN), ("resolved", GOOD))
    block = len(stages) * bar + gap
    height = max(len(r.topic_funnels), 1) * block + 10
    widest = max((max(f.recognised, f.started) for f in r.topic_funnels), default=0) or 1
    scale = (CHART_WIDTH - left - 40) / widest
    body: list[str] = []
    for i, funnel in enumerate(r.topic_funnels):
        y = 5 + i * block
        body.append(
            f'<text x="{left - 8}" y="{y + 2 * bar + 4}" text-anchor="end">'
            f"{escape(funnel.topic)}</text>"
        )
        for j, (stage, color) in enumerate(stages):
            value = getattr(funnel, stage)
            top = y + j * bar
            body.append(
                f'<rect class="bar" x="{left}" y="{top}" width="{value * scale:.1f}" '
                f'height="{bar - 2}" fill="{color}"><title>{escape(funnel.topic)}: {value} '
                f"{stage}</title></rect>"
            )
            body.append(
                f'<text x="{left + value * scale + 4:.1f}" y="{top + bar - 3}" '
                f'font-size="10">{value}</text>'
            )
    return _svg(height, body, "per-topic funnel")


def dropoff_chart(r: Report, index: int) -> str:
    """One walkthrough's funnel: a bar per step (reached), its drop-off in red."""
    funnel = r.funnels[index]
    row, left = 24, 110
    height = len(funnel.steps) * row + 34
    scale = (CHART_WIDTH - left - 80) / max(funnel.started, 1)
    body = [
        f'<text x="0" y="16" font-weight="bold">{escape(funnel.title)} '
        f"({funnel.started} started)</text>"
    ]
    for i, step in enumerate(funnel.steps):
        y = 26 + i * row
        kept = step.reached - step.dropped
        body.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{step.position}</text>')
        body.append(
            f'<rect class="bar" x="{left}" y="{y}" width="{kept * scale:.1f}" height="{row - 6}" '
            f'fill="{GOOD if step.position == "resolved" else BAR}">'
            f"<title>{step.position}: {step.reached} reached</title></rect>"
        )
        if step.dropped:
            body.append(
                f'<rect class="drop" x="{left + kept * scale:.1f}" y="{y}" '
                f'width="{step.dropped * scale:.1f}" height="{row - 6}" fill="{BAD}">'
                f"<title>{step.position}: {step.dropped} stopped here</title></rect>"
            )
        note = f"{step.reached}" + (f" (-{step.dropped})" if step.dropped else "")
        body.append(f'<text x="{left + step.reached * scale + 6:.1f}" y="{y + 14}">{note}</text>')
    return _svg(height, body, f"step drop-off: {funnel.topic}")
