"""Terminal channel: plain text, buttons as numbered choices, driven by stdin lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from bot.channels.render import to_plain
from bot.core.dialogue import Engine, Outcome
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.replies import Button, Reply
from bot.core.session import Session
from bot.store import SessionStore

CHAT_ID = "console"
PROMPT = "you> "


def render_plain(reply: Reply, *, numbered: bool = True) -> str:
    """A reply as terminal text; buttons become numbered lines."""
    lines = [to_plain(reply.text)]
    if reply.buttons:
        for i, button in enumerate(reply.buttons, start=1):
            lines.append(f"  {i}. {button.label}" if numbered else f"  - {button.label}")
    return "\n".join(lines)


def read_event(line: str, buttons: tuple[Button, ...], version: int) -> Event:
    """A typed line: a number picks a shown button, /word is a command, the rest is text."""
    text = line.strip()
    if text.isdigit() and buttons and 1 <= int(text) <= len(buttons):
        button = buttons[int(text) - 1]
        return ButtonPress(action=button.action, version=version, arg=button.arg)
    if text.startswith("/") and len(text) > 1 and " " not in text:
        return Command(name=text[1:].split("@")[0])
    return UserText(text=text)


def run_console(
    engine: Engine,
    store: SessionStore,
    *,
    stdin: TextIO,
    stdout: TextIO,
    clock: Callable[[], float],
) -> None:
    """Chat until end of input (Ctrl-D) or /quit, saving the session after every turn."""
    interactive = stdin.isatty()
    session = store.get(CHAT_ID) or engine.new_session(CHAT_ID, now=clock())
    greeting = engine.handle(session, Command(name="start"), now=clock())
    session = _save(store, session, greeting)
    buttons = _show(greeting, stdout)
    while True:
        if interactive:
            stdout.write(PROMPT)
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        if line.strip() in ("/quit", "/exit"):
            break
        if not line.strip():
            continue
        if not interactive:
            stdout.write(f"{PROMPT}{line.strip()}\n")
        event = read_event(line, buttons, session.version)
        outcome = engine.handle(session, event, now=clock())
        session = _save(store, session, outcome)
        shown = _show(outcome, stdout)
        if shown or outcome.replies:
            buttons = shown
    stdout.write("bye\n")
    stdout.flush()


def _save(store: SessionStore, old: Session, outcome: Outcome) -> Session:
    if outcome.session != old:
        expected = old.version if store.get(old.chat_id) is not None else None
        store.put(outcome.session, expected_version=expected)
    return outcome.session


def _show(outcome: Outcome, stdout: TextIO) -> tuple[Button, ...]:
    buttons: tuple[Button, ...] = ()
    for reply in outcome.replies:
        stdout.write(f"bot> {render_plain(reply)}\n")
        if reply.buttons:
            buttons = reply.buttons
    stdout.flush()
    return buttons
