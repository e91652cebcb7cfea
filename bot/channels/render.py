"""Render the engine's tiny markup (``**bold**``, `` `code` ``) as Telegram HTML or plain text.

Pure functions, no Telegram import. Everything that is not markup is literal and escaped, so
the HTML produced is well-formed whatever the input. Long texts are split into parts that each
fit Telegram's limit, measured as Telegram does: visible characters (tags and entities do not
count) in UTF-16 code units. Breaks prefer paragraph boundaries, then line boundaries, then
spaces, then a hard cut that never separates a character from its combining marks or joiners.

Theory of operation: text is first turned into *atoms*, one visible character each, tagged with
the stack of HTML tags open around it. Splitting chooses cut points in the visible text only,
and each part is rendered from its atoms by opening and closing tags where the stack changes,
so every part is balanced by construction.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "render_parts",
    "split_message",
    "to_html",
    "to_plain",
    "utf16_len",
]

MAX_MESSAGE_LENGTH = 4096  # telegram.constants.MessageLimit.MAX_TEXT_LENGTH, in UTF-16 units

# A code span: backticks around one line of at least one non-backtick character.
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BOLD_MARK = "**"

# One open tag: (name, source text of the start tag).
_Tag = tuple[str, str]
_NO_TAGS: tuple[_Tag, ...] = ()
_BOLD: _Tag = ("b", "<b>")
_CODE: _Tag = ("code", "<code>")

# Tags Telegram accepts, so split_message can keep them (anything else is literal text).
_TELEGRAM_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
_HTML_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z_][A-Za-z0-9_-]*(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'=<>`]+))?)*)"
    r"\s*>"
)
_HTML_ATTRIBUTE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?"
)
_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as Telegram counts message length."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True, slots=True)
class _Atom:
    """One visible character and the tags open around it."""

    char: str
    tags: tuple[_Tag, ...]


# ----------------------------------------------------------------------------- markup parsing


def _bold_spans(text: str, code_spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pairs (start, end) of ``**`` markers that form bold, outside code; others stay literal."""
    markers: list[int] = []
    spans = iter(code_spans)
    next_code = next(spans, None)
    i = 0
    while i < len(text) - 1:
        if next_code is not None and i >= next_code[0]:
            i = next_code[1]
            next_code = next(spans, None)
            continue
        if text.startswith(_BOLD_MARK, i):
            markers.append(i)
            i += len(_BOLD_MARK)
        else:
            i += 1
    pairs: list[tuple[int, int]] = []
    k = 0
    while k < len(markers) - 1:
        start, end = markers[k], markers[k + 1]
        inner = text[start + len(_BOLD_MARK) : end]
        # Like Markdown: no empty bold, no bold across lines, no space just inside a marker.
        if inner and "\n" not in inner and not inner[0].isspace() and not inner[-1].isspace():
            pairs.append((start, end))
            k += 2
        else:
            k += 1
    return pairs


def _markup_atoms(text: str) -> list[_Atom]:
    """Parse the tiny markup into atoms; unbalanced markers are kept as literal characters."""
    code_spans = [(m.start(), m.end()) for m in _CODE_SPAN.finditer(text)]
    bold_spans = _bold_spans(text, code_spans)
    skip: dict[int, int] = {}  # marker start -> marker length, for markers that are markup
    bold_at = [False] * len(text)
    code_at = [False] * len(text)
    for start, end in code_spans:
        skip[start] = skip[end - 1] = 1
        for i in range(start + 1, end - 1):
            code_at[i] = True
    for start, end in bold_spans:
        skip[start] = skip[end] = len(_BOLD_MARK)
        for i in range(start + len(_BOLD_MARK), end):
            bold_at[i] = True
    atoms: list[_Atom] = []
    i = 0
    while i < len(text):
        if i in skip:
            i += skip[i]
            continue
        tags = (_BOLD,) if bold_at[i] else _NO_TAGS
        if code_at[i]:
            tags = (*tags, _CODE)
        atoms.append(_Atom(text[i], tags))
        i += 1
    return atoms


def _html_atoms(source: str) -> list[_Atom]:
    """Tokenize Telegram HTML leniently: unknown tags, stray ``<``/``&`` become literal text."""
    atoms: list[_Atom] = []
    stack: list[_Tag] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            match = _HTML_TAG.match(source, i)
            if match is not None and match.group(2).lower() in _TELEGRAM_TAGS:
                closing, name = match.group(1), match.group(2).lower()
                start_tag = None if closing else _start_tag(name, match.group(3))
                if start_tag is not None:
                    stack.append((name, start_tag))
                    i = match.end()
                    continue
                if stack and stack[-1][0] == name:
                    stack.pop()
                    i = match.end()
                    continue
        elif char == "&":
            match = _HTML_ENTITY.match(source, i)
            decoded = _decode_entity(match) if match is not None else None
            if match is not None and decoded is not None:
                atoms.append(_Atom(decoded, tuple(stack)))
                i = match.end()
                continue
        atoms.append(_Atom(char, tuple(stack)))
        i += 1
    return atoms  # tags left open are closed at the end of each part by _render_atoms


def _start_tag(name: str, attributes: str) -> str | None:
    """Rebuild a start tag with only the attributes Telegram reads; None if it is invalid."""
    attrs = {
        m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
        for m in _HTML_ATTRIBUTE.finditer(attributes)
    }
    if name == "a":
        href = attrs.get("href", "").strip()
        return f'<a href="{html.escape(href)}">' if href else None
    if name == "span":
        return '<span class="tg-spoiler">' if attrs.get("class") == "tg-spoiler" else None
    if name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        return f'<tg-emoji emoji-id="{emoji_id}">' if emoji_id.isdigit() else None
    if name == "code" and attrs.get("class", "").startswith("language-"):
        return f'<code class="{html.escape(attrs["class"])}">'
    if name == "blockquote" and "expandable" in attrs:
        return "<blockquote expandable>"
    return f"<{name}>"


def _decode_entity(match: re.Match[str]) -> str | None:
    name, decimal, hexadecimal = match.groups()
    if name:
        return _NAMED_ENTITIES[name]
    code_point = int(decimal) if decimal else int(hexadecimal, 16)
    if code_point == 0 or code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        return None
    return chr(code_point)


# ----------------------------------------------------------------------------- rendering


def _render_atoms(atoms: Sequence[_Atom], *, as_html: bool = True) -> str:
    """Render atoms, opening and closing tags where the stack changes (always balanced)."""
    if not as_html:
        return "".join(atom.char for atom in atoms)
    out: list[str] = []
    open_tags: tuple[_Tag, ...] = ()
    for atom in atoms:
        if atom.tags != open_tags:
            out.append(_retag(open_tags, atom.tags))
            open_tags = atom.tags
        out.append(html.escape(atom.char, quote=False))
    out.append(_retag(open_tags, ()))
    return "".join(out)


def _retag(current: tuple[_Tag, ...], wanted: tuple[_Tag, ...]) -> str:
    common = 0
    while common < min(len(current), len(wanted)) and current[common] == wanted[common]:
        common += 1
    closing = "".join(f"</{name}>" for name, _ in reversed(current[common:]))
    opening = "".join(start for _, start in wanted[common:])
    return closing + opening


def to_html(text: str) -> str:
    """Render the tiny markup as Telegram HTML, escaping everything else."""
    return _render_atoms(_markup_atoms(text))


def to_plain(text: str) -> str:
    """Render the tiny markup as plain text (markers removed), for the console."""
    return _render_atoms(_markup_atoms(text), as_html=False)


# ----------------------------------------------------------------------------- splitting


def _is_attached(char: str) -> bool:
    """True for characters that belong to the previous one (marks, joiners, selectors)."""
    code_point = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char in "\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= code_point <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code_point <= 0xE007F  # tag characters (flag sequences)
    )


def _cut(visible: str, start: int, end_max: int) -> int:
    """Where to end a part within ``visible[start:end_max]``: paragraph, line, space, hard."""
    paragraph = visible.rfind("\n\n", start + 1, end_max + 2)
    if paragraph > start:
        return paragraph
    line = visible.rfind("\n", start + 1, end_max + 1)
    if line > start:
        return line
    for i in range(min(end_max, len(visible) - 1), start, -1):
        if visible[i].isspace():
            return i
    cut = end_max
    while cut > start + 1 and (_is_attached(visible[cut]) or visible[cut - 1] == "\u200d"):
        cut -= 1
    if cut == start + 1 and (_is_attached(visible[cut]) or visible[cut - 1] == "\u200d"):
        return end_max  # one cluster longer than the limit: cut it after all
    return cut


def _split_atoms(atoms: Sequence[_Atom], limit: int) -> list[Sequence[_Atom]]:
    """Group atoms into parts of at most ``limit`` visible UTF-16 units, trimmed at the cuts."""
    if limit < 2:
        raise ValueError(f"limit must be at least 2 UTF-16 units (one emoji), got {limit}")
    visible = "".join(atom.char for atom in atoms)
    # units[i] = UTF-16 length of visible[:i]
    units = [0]
    for char in visible:
        units.append(units[-1] + (2 if ord(char) > 0xFFFF else 1))
    parts: list[Sequence[_Atom]] = []
    start = 0
    while True:
        while start < len(visible) and visible[start].isspace():
            start += 1
        if start >= len(visible):
            return parts
        if units[-1] - units[start] <= limit:
            end = len(visible)
            cut = end
        else:
            # The furthest end such that visible[start:end] fits.
            end_max = bisect.bisect_right(units, units[start] + limit) - 1
            cut = _cut(visible, start, end_max)
            end = cut
        while end > start and visible[end - 1].isspace():
            end -= 1
        parts.append(atoms[start:end])
        start = cut


def split_message(
    html_or_text: str, limit: int = MAX_MESSAGE_LENGTH, *, as_html: bool = True
) -> list[str]:
    """Split a message into parts of at most ``limit`` visible UTF-16 units, tags balanced.

    With ``as_html`` the input is Telegram HTML: tags stay whole and are closed at the end of
    a part and reopened in the next; entities count as the one character they stand for; stray
    ``<`` and ``&`` and unsupported tags are treated as text and escaped. Without it the input
    is plain text, split the same way. Blank input gives no parts (Telegram refuses empty text).
    """
    atoms = _html_atoms(html_or_text) if as_html else [_Atom(c, ()) for c in html_or_text]
    return [_render_atoms(part, as_html=as_html) for part in _split_atoms(atoms, limit)]


def render_parts(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Render the tiny markup as HTML messages that each fit Telegram's length limit."""
    return [_render_atoms(part) for part in _split_atoms(_markup_atoms(text), limit)]
