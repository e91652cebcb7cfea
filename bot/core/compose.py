"""Knowledge rendered as core markup: steps, details, FAQ answers and full case cards."""

from __future__ import annotations

from bot.core.i18n import _
from bot.core.knowledge import Faq, KnowledgeBase, Problem, Step
from bot.core.matching import MatchResult


def step_text(problem: Problem, index: int) -> str:
    """'Step i of n' with the step's own text."""
    step = problem.steps[index]
    head = _("Step {current} of {total}").format(current=index + 1, total=len(problem.steps))
    return f"**{head}**\n{step.text}"


def client_step_text(problem: Problem) -> str:
    """The client half of a fix: the guide says to configure the email client too."""
    clients = _(" or ").join(tip.client for tip in problem.client_tips)
    return _(
        "Your email client needs the same care: configure both your email client and Alibaba "
        "Mail, so the client doesn't delete what it downloads. My guide has the exact setting "
        "for {clients}: pick your client below."
    ).format(clients=clients)


def step_details(problem: Problem, index: int) -> str | None:
    """The navigation path, form field, options and client tips for a step, if it has any."""
    step = problem.steps[index]
    lines = _detail_lines(step)
    # Client tips concern the whole fix, so they help whichever step someone is stuck on.
    lines.extend(
        _("{client} tip: {tip}").format(client=tip.client, tip=tip.tip)
        for tip in problem.client_tips
    )
    if not lines:
        return None
    return "\n".join(lines)


def _detail_lines(step: Step) -> list[str]:
    lines = []
    if step.navigation:
        lines.append(_("Where: {path}").format(path=f"`{step.navigation}`"))
    if step.form_field:
        lines.append(_("Setting: {field}").format(field=f"`{step.form_field}`"))
    if step.options:
        options = ", ".join(f"**{o}**" for o in step.options)
        lines.append(_("Options: {options}").format(options=options))
    return lines


def check_text(problem: Problem, index: int) -> str:
    """'Check j of m' with the verification step."""
    total = len(problem.verification)
    head = _("Check {current} of {total}").format(current=index + 1, total=total)
    return f"**{head}**\n{problem.verification[index]}"


def intro_text(problem: Problem, *, steps: int | None = None) -> str:
    """Title, what is going on and why, before the first step."""
    symptom = problem.symptoms[0] if problem.symptoms else ""
    lines = [f"**{problem.title}**"]
    if symptom:
        lines.append(_("What you see: {symptom}").format(symptom=symptom))
    lines.append(_("Why: {cause}").format(cause=problem.root_cause))
    count = len(problem.steps) if steps is None else steps
    lines.append(
        _("Let's fix it in {count} steps. Tell me when each one is done.").format(count=count)
    )
    return "\n".join(lines)


def faq_text(faq: Faq) -> str:
    """The question in bold and its answer."""
    return f"**{faq.question}**\n{faq.answer}"


def full_guide(problem: Problem) -> str:
    """Every step with its details and every check, in one message ready to copy."""
    parts = [
        f"**{problem.title}**",
        _("Cause: {cause}").format(cause=problem.root_cause),
        "**{}**".format(_("Fix")),
    ]
    for i, step in enumerate(problem.steps, start=1):
        parts.append(f"{i}. {step.text}")
        parts.extend(f"   {line}" for line in _detail_lines(step))
    parts.extend(
        _("Tip ({client}): {tip}").format(client=tip.client, tip=tip.tip)
        for tip in problem.client_tips
    )
    parts.extend(problem.notes)
    parts.append("**{}**".format(_("Check that it worked")))
    parts.extend(f"{i}. {check}" for i, check in enumerate(problem.verification, start=1))
    return "\n".join(parts)


def case_card(kb: KnowledgeBase, result: MatchResult) -> str:
    """A staff-facing card: topic, confidence, evidence and the full answer.

    ``kb`` is in the staff member's language (and ``_`` speaks it); the message may be in another.
    """
    if not result.candidates or result.decision.value == "none":
        lines = [
            "**{}**".format(_("No match in the guide")),
            _("The guide does not cover this question."),
        ]
        if result.out_of_scope:
            lines.append(
                _("Closest out-of-scope group: {group}").format(group=result.out_of_scope)
            )
        lines.append(_("Pick a topic below if one fits, or answer it yourself."))
        return "\n".join(lines)
    best = result.candidates[0]
    confidence = _("high") if result.decision.value == "answer" else _("low, please check")
    header = [
        "**{}**: {}".format(_("Case card"), kb.title_of(best.topic)),
        _("Topic: {topic}, confidence {score} ({confidence})").format(
            topic=f"`{best.topic}`", score=f"{best.score:.2f}", confidence=confidence
        ),
    ]
    if best.evidence:
        header.append(_("Matched: {evidence}").format(evidence=best.evidence))
    others = [f"{c.topic} {c.score:.2f}" for c in result.candidates[1:3]]
    if others:
        header.append(_("Other candidates: {others}").format(others=", ".join(others)))
    s = result.settings
    header.append(
        _("Thresholds: answer {answer}, margin {margin}, clarify {clarify}").format(
            answer=s.answer_floor, margin=s.margin, clarify=s.clarify_floor
        )
    )
    body = []
    entry = kb.entry(best.id)
    if isinstance(entry, Faq):
        body.append(faq_text(entry))
    problem = kb.problem(best.topic)
    if problem is not None:
        body.append(full_guide(problem))
    return "\n".join(header) + "\n\n" + "\n\n".join(body)


def article_text(kb: KnowledgeBase, entry_id: str) -> str:
    """What an inline-mode article sends: a FAQ answer or a problem's full guide."""
    entry = kb.entry(entry_id)
    if isinstance(entry, Faq):
        return faq_text(entry)
    if isinstance(entry, Problem):
        return full_guide(entry)
    return ""


def summary_of(kb: KnowledgeBase, entry_id: str) -> str:
    """A one-line description for menus and inline results."""
    entry = kb.entry(entry_id)
    if isinstance(entry, Problem):
        return entry.summary
    if isinstance(entry, Faq):
        first = entry.answer.split(". ")[0]
        return first if first.endswith(".") else first + "."
    return ""
