"""Terminal channel: plain text, buttons as numbered choices, driven by stdin lines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TextIO

from bot.channels.render import to_plain
from bot.conversation import Conversation, Journal
from bot.core.dialogue import Engine
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.replies import Button, Reply
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
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        name, _, arg = text[1:].partition(" ")
        return Command(name=name.split("@")[0], arg=arg.strip())
    return UserText(text=text)


def run_console(
    engine: Engine,
    store: SessionStore,
    *,
    stdin: TextIO,
    stdout: TextIO,
    clock: Callable[[], float],
    journal: Journal | None = None,
) -> None:
    """Chat until end of input (Ctrl-D) or /quit; each turn goes through the service."""
    service = Conversation(engine, store, journal=journal)
    asyncio.run(_chat(service, stdin=stdin, stdout=stdout, clock=clock))


async def _chat(
    service: Conversation, *, stdin: TextIO, stdout: TextIO, clock: Callable[[], float]
) -> None:
    interactive = stdin.isatty()
    greeting = await service.handle(CHAT_ID, Command(name="start"), now=clock())
    session = greeting.session
    buttons = _show(greeting.replies, stdout)
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
        turn = await service.handle(CHAT_ID, event, now=clock())
        session = turn.session
        shown = _show(turn.replies, stdout)
        if shown or turn.replies:
            buttons = shown
    stdout.write("bye\n")
    stdout.flush()


def _show(replies: tuple[Reply, ...], stdout: TextIO) -> tuple[Button, ...]:
    buttons: tuple[Button, ...] = ()
    for reply in replies:
        stdout.write(f"bot> {render_plain(reply)}\n")
        if reply.buttons:
            buttons = reply.buttons
    stdout.flush()
    return buttons
