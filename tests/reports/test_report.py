"""The report's figures on the scripted week, in every format."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.reports.html import format_html
from bot.reports.inbox import build_inbox
from bot.reports.records import DAY, Event
from bot.reports.report import Report, build_report, format_csv, format_json, format_text
from tests.reports.conftest import END, START


@pytest.fixture(scope="module")
def report(week: list[Event], kb: KnowledgeBase, matcher: Matcher) -> Report:
    return build_report(iter(week), kb, days=7, until=END, inbox=build_inbox(week, matcher, kb))


def test_conversations_chats_and_the_decision_mix(report: Report) -> None:
    assert report.conversations == 11  # chat e's two questions are one conversation; h's two
    assert report.chats == 10
    assert report.decisions == {"answer": 8, "clarify": 1, "none": 3}


def test_conversations_per_day_cover_every_day_of_the_period(report: Report) -> None:
    per_day = dict(report.daily)

    assert len(per_day) == 8  # 7 days back from a time of day: both end days are partial
    assert [per_day[d] for d in sorted(per_day)] == [2, 2, 3, 1, 0, 1, 2, 0]


def test_resolution_per_topic_is_confirmed_assumed_reopened(report: Report) -> None:
    rows = {
        t.topic: (t.runs, t.confirmed, t.assumed, t.reopened, t.unresolved)
        for t in report.resolution
    }

    assert rows == {
        "mailbox-full": (5, 1, 0, 1, 3),  # a works; g cancels; h works, comes back, gives up; j
        "pop-deletion": (2, 1, 0, 0, 1),  # c works; b gives up
        "faq-imap": (1, 0, 1, 0, 0),  # f reads the answer and goes quiet
    }


def test_each_topic_from_question_to_solution(report: Report) -> None:
    rows = {
        f.topic: (f.recognised, f.started, f.answered, f.resolved) for f in report.topic_funnels
    }

    assert rows == {
        # a, g, h twice, and j's FAQ; a, h and j got the whole answer; h came back: a alone.
        "mailbox-full": (5, 5, 3, 1),
        # b, c, and i's clarification (refused); c got through and confirmed.
        "pop-deletion": (3, 2, 1, 1),
        "faq-imap": (1, 1, 1, 1),
    }


def test_drop_off_is_counted_at_step_two_of_the_pop_walkthrough(report: Report) -> None:
    funnel = next(f for f in report.funnels if f.topic == "pop-deletion")

    reached = {s.position: s.reached for s in funnel.steps}
    dropped = {s.position: s.dropped for s in funnel.steps if s.dropped}
    assert funnel.started == 2
    assert reached["step 1"] == reached["step 2"] == 2
    assert reached["step 3"] == reached["resolved"] == 1
    assert dropped == {"step 2": 1}


def test_the_full_mailbox_funnel_loses_two_at_step_one(report: Report) -> None:
    funnel = next(f for f in report.funnels if f.topic == "mailbox-full")

    assert funnel.started == 4
    assert {s.position: s.dropped for s in funnel.steps if s.dropped} == {"step 1": 2}


def test_escalations_tickets_and_ratings_are_apart(report: Report) -> None:
    assert (report.escalations, report.escalations_before_walkthrough) == (1, 1)
    assert report.tickets_opened == 1
    assert report.tickets_closed == {"staff": 1}
    assert report.first_reply_median == 300.0
    assert report.bot_ratings == {"up": 1, "down": 1}
    assert report.people_ratings == {1: 0, 2: 0, 3: 0, 4: 1, 5: 0}
    assert report.unanswered == 3


def test_top_inbox_groups_are_in_the_report(report: Report) -> None:
    assert report.inbox[0][:2] == (2, "how do i reset my password")


def test_events_outside_the_period_are_left_out(week: list[Event], kb: KnowledgeBase) -> None:
    two_days = build_report(week, kb, days=2, until=END)

    assert two_days.conversations == 3  # h on day 6; i and j on day 7
    assert two_days.tickets_opened == 0


def test_an_empty_log_gives_an_empty_report_in_every_format(kb: KnowledgeBase) -> None:
    empty = build_report([], kb, days=7, until=END)

    assert empty.conversations == 0
    assert "no walkthroughs" in format_text(empty)
    assert json.loads(format_json(empty))["conversations"] == 0
    assert "conversations" in format_csv(empty)
    assert "<svg" in format_html(empty)


def test_text_format_has_every_section(report: Report) -> None:
    text = format_text(report)

    for part in (
        "Conversations: 11 from 10 chats",
        "answer 8 (67%), clarify 1 (8%), none 3 (25%)",
        "mailbox-full: 5 runs: 1 / 0 / 1 / 3, 20%",
        "pop-deletion (2 started): step 1 2, step 2 2 (-1), step 3 1",
        "Escalations to a person: 1 (1 before any walkthrough)",
        "median 5 min",
        "👍 1  👎 1",
        "average 4.0 of 5 from 1",
        '2 x "how do i reset my password"',
    ):
        assert part in text


def test_json_format_carries_the_same_figures(report: Report) -> None:
    data = json.loads(format_json(report))

    assert data["conversations"] == 11
    assert data["decisions"] == {"answer": 8, "clarify": 1, "none": 3}
    pop = next(f for f in data["funnels"] if f["topic"] == "pop-deletion")
    assert [s["dropped"] for s in pop["steps"]][:3] == [0, 1, 0]
    assert data["people_ratings"]["4"] == 1
    assert data["first_reply_median_seconds"] == 300.0


def test_csv_format_is_one_long_table(report: Report) -> None:
    rows = list(csv.reader(io.StringIO(format_csv(report))))

    assert rows[0] == ["section", "topic", "item", "value"]
    table = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert table[("summary", "", "conversations")] == "11"
    assert table[("funnel", "pop-deletion", "dropped at step 2")] == "1"
    assert table[("resolution", "mailbox-full", "reopened")] == "1"
    assert table[("ratings", "people", "4 stars")] == "1"


class _Page(HTMLParser):
    """Collects the tags, attributes and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_one_self_contained_page_with_the_three_charts(report: Report) -> None:
    page = format_html(report)
    parsed = _Page()
    parsed.feed(page)

    charts = [attrs.get("aria-label") for tag, attrs in parsed.tags if tag == "svg"]
    assert charts[:3] == ["conversations per day", "per-topic funnel", "resolution per topic"]
    assert "step drop-off: pop-deletion" in charts
    assert "step drop-off: mailbox-full" in charts
    # No URL of any kind: no network needed, nothing to leak.
    assert not re.search(r"(?i)https?:|//[a-z]|url\(|@import", page)
    assert not [t for t, a in parsed.tags if t in ("script", "link", "img", "iframe")]
    assert not [a for _, a in parsed.tags if "src" in a or "href" in a]
    # The drop-off at step 2 is drawn: a red bar whose tooltip says so.
    assert "step 2: 1 stopped here" in page
    # One bar per day of the period.
    daily = page.split('aria-label="conversations per day"')[1].split("</svg>")[0]
    assert daily.count('class="bar"') == len(report.daily)


def test_html_escapes_what_users_wrote(kb: KnowledgeBase, matcher: Matcher) -> None:
    hostile = [
        Event(
            kind="dialogue.unanswered", chat_id="x", detail="<script>alert(1)</script>", at=START
        )
    ]
    page = format_html(
        build_report(hostile, kb, days=7, until=END, inbox=build_inbox(hostile, matcher, kb))
    )

    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_a_long_period_labels_days_sparsely_and_keeps_every_bar(kb: KnowledgeBase) -> None:
    events = [
        Event(kind="matcher.decision", chat_id=str(i), detail="answer", at=START + i * DAY)
        for i in range(60)
    ]

    page = format_html(build_report(events, kb, days=60, until=START + 60 * DAY))

    daily = page.split('aria-label="conversations per day"')[1].split("</svg>")[0]
    assert daily.count('class="bar"') == 61
