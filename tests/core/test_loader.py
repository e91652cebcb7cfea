"""Tests for the knowledge loader: the model it builds and every error it reports, with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.knowledge import ClientTip, Faq, KnowledgeBase, OutOfScope, Problem, Source, Step
from bot.core.loader import load_knowledge, parse_knowledge, validate_knowledge
from bot.errors import KnowledgeError

FILE = "knowledge/alimail-email.yaml"

VALID = """\
guide: alimail-email
title: Alibaba Mail user guide
problems:
  - id: mailbox-full
    title: Mailbox full
    severity: high
    summary: Free up space or upgrade.
    symptoms:
      - Senders get a bounce
    error_messages:
      - "552 Mailbox full"
    error_codes: ["552", "MailboxFull"]
    root_cause: The mailbox reached its quota.
    steps:
      - text: Open **Settings**
        navigation: Settings > Mailbox
      - text: Empty the `Trash`
        form_field: "Auto-clean = On"
        options: [Daily, Weekly]
    verification:
      - Send yourself a test message
    notes: ["Quota limit: 10GB per mailbox (free tier)"]
    related: [missing-email]
    client_tips:
      - client: Outlook
        tip: Compact the data file
    keywords: [quota, storage]
    examples:
      - my mailbox is full
      - error 552 when people mail me
  - id: missing-email
    title: Email not in Inbox
    severity: medium
    summary: Check filters and spam.
    symptoms: [An expected email never arrives]
    root_cause: A filter moved it.
    steps:
      - text: Check the Spam folder
    verification: [The email is found]
    examples: [where did my email go]
faqs:
  - id: faq-mailbox-usage
    question: How do I check whether my mailbox is full?
    answer: Look at the storage bar.
    problem: mailbox-full
    see_also: [missing-email]
    examples: [how much space do I have left]
out_of_scope:
  - id: oos-password
    reply: I can't help with passwords.
    examples: [reset my password]
"""

# A second guide that refers to a problem defined in VALID (references work across files).
OTHER = """\
guide: alimail-other
title: Another guide
problems:
  - id: sent-not-saved
    title: Sent mail missing
    severity: low
    summary: Turn on saving sent mail.
    symptoms: [Sent folder is empty]
    root_cause: The client does not save a copy.
    steps:
      - text: Enable "save sent mail"
    verification: [A sent message shows up in Sent]
    related: [mailbox-full]
    examples: [my sent folder is empty]
faqs:
  - id: faq-client-sent
    question: Why is client-sent mail not in Sent?
    answer: The client keeps its own copy.
    problem: sent-not-saved
    see_also: [mailbox-full]
    examples: [outlook mail not in sent]
"""


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in fixture")


def edited(old: str, new: str, text: str = VALID) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def errors_of(text: str, *, filename: str = FILE) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        parse_knowledge(text, filename=filename)
    return caught.value.problems


def write(directory: Path, name: str, content: str | bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# -- a valid file -------------------------------------------------------------------------------


def test_a_valid_file_loads_into_frozen_dataclasses_with_tuples() -> None:
    kb = parse_knowledge(VALID, filename=FILE)

    assert isinstance(kb, KnowledgeBase)
    assert [problem.id for problem in kb.problems] == ["mailbox-full", "missing-email"]
    problem = kb.problems[0]
    assert problem == Problem(
        id="mailbox-full",
        title="Mailbox full",
        severity="high",
        summary="Free up space or upgrade.",
        symptoms=("Senders get a bounce",),
        error_messages=("552 Mailbox full",),
        error_codes=("552", "MailboxFull"),
        root_cause="The mailbox reached its quota.",
        steps=(
            Step(text="Open **Settings**", navigation="Settings > Mailbox"),
            Step(
                text="Empty the `Trash`", form_field="Auto-clean = On", options=("Daily", "Weekly")
            ),
        ),
        verification=("Send yourself a test message",),
        examples=("my mailbox is full", "error 552 when people mail me"),
        keywords=("quota", "storage"),
        client_tips=(ClientTip(client="Outlook", tip="Compact the data file"),),
        notes=("Quota limit: 10GB per mailbox (free tier)",),
        related=("missing-email",),
    )
    assert kb.faqs == (
        Faq(
            id="faq-mailbox-usage",
            question="How do I check whether my mailbox is full?",
            answer="Look at the storage bar.",
            examples=("how much space do I have left",),
            problem="mailbox-full",
            see_also=("missing-email",),
        ),
    )
    assert kb.out_of_scope == (
        OutOfScope(
            id="oos-password",
            reply="I can't help with passwords.",
            examples=("reset my password",),
        ),
    )


def test_optional_problem_fields_default_to_empty_tuples() -> None:
    problem = parse_knowledge(VALID, filename=FILE).problems[1]

    assert problem.error_messages == ()
    assert problem.error_codes == ()
    assert problem.notes == ()
    assert problem.related == ()
    assert problem.client_tips == ()
    assert problem.keywords == ()
    assert problem.steps == (Step(text="Check the Spam folder"),)


def test_each_entry_carries_the_file_and_line_of_its_mapping() -> None:
    kb = parse_knowledge(VALID, filename=FILE)

    assert kb.problems[0].source == Source(file=FILE, line=line_of(VALID, "id: mailbox-full"))
    assert kb.problems[1].source == Source(file=FILE, line=line_of(VALID, "id: missing-email"))
    assert kb.faqs[0].source == Source(file=FILE, line=line_of(VALID, "id: faq-mailbox-usage"))
    assert kb.out_of_scope[0].source == Source(file=FILE, line=line_of(VALID, "id: oos-password"))


def test_out_of_scope_is_optional_and_reply_defaults_to_none() -> None:
    text = VALID.split("out_of_scope:")[0] + "out_of_scope:\n  - id: oos-x\n    examples: [hi]\n"

    kb = parse_knowledge(text, filename=FILE)
    assert kb.out_of_scope == (OutOfScope(id="oos-x", reply=None, examples=("hi",)),)

    assert parse_knowledge(VALID.split("out_of_scope:")[0], filename=FILE).out_of_scope == ()


def test_block_scalars_are_stripped_text() -> None:
    text = edited(
        "    root_cause: The mailbox reached its quota.\n",
        "    root_cause: |\n      The mailbox reached\n      its quota.\n",
    )

    problem = parse_knowledge(text, filename=FILE).problems[0]
    assert problem.root_cause == "The mailbox reached\nits quota."


# -- errors in one file: (old, new, line marker in the edited text, expected message) ----------

ERROR_CASES = [
    pytest.param(
        "    root_cause: The mailbox reached its quota.\n",
        "",
        "id: mailbox-full",
        "problem 'mailbox-full': missing required field 'root_cause'",
        id="missing-field",
    ),
    pytest.param(
        "    symptoms:\n      - Senders",
        "    sympton:\n      - Senders",
        "sympton:",
        "problem 'mailbox-full': unknown field 'sympton' (did you mean 'symptoms'?)",
        id="unknown-field-with-suggestion",
    ),
    pytest.param(
        "out_of_scope:\n",
        "out_of_scop:\n",
        "out_of_scop:",
        "unknown field 'out_of_scop' (did you mean 'out_of_scope'?)",
        id="unknown-top-level-field",
    ),
    pytest.param(
        "    severity: high\n",
        "    severity: high\n    title: Again\n",
        "title: Again",
        "problem 'mailbox-full': duplicate key 'title'"
        f" (first at line {line_of(VALID, 'title: Mailbox full')})",
        id="duplicate-key",
    ),
    pytest.param(
        "        navigation: Settings > Mailbox\n",
        "        navigation: Settings > Mailbox\n        text: Again\n",
        "text: Again",
        "problem 'mailbox-full': step 1: duplicate key 'text'"
        f" (first at line {line_of(VALID, 'text: Open')})",
        id="duplicate-key-in-step",
    ),
    pytest.param(
        'error_codes: ["552", "MailboxFull"]',
        'error_codes: [552, "MailboxFull"]',
        "error_codes:",
        "problem 'mailbox-full': error_codes[0] is an integer (552); quote it: \"552\"",
        id="unquoted-552",
    ),
    pytest.param(
        "options: [Daily, Weekly]",
        "options: [Daily, no]",
        "options:",
        "problem 'mailbox-full': step 2 options[1] is a boolean (no); quote it: \"no\"",
        id="unquoted-no",
    ),
    pytest.param(
        "answer: Look at the storage bar.",
        "answer: on",
        "answer: on",
        "faq 'faq-mailbox-usage': answer is a boolean (on); quote it: \"on\"",
        id="unquoted-on",
    ),
    pytest.param(
        "keywords: [quota, storage]",
        "keywords: [quota, 0123]",
        "keywords:",
        "problem 'mailbox-full': keywords[1] is an integer (0123); quote it: \"0123\"",
        id="leading-zero-number",
    ),
    pytest.param(
        "      - my mailbox is full\n",
        "      - 2024-01-01\n",
        "2024-01-01",
        "problem 'mailbox-full': examples[0] is a date (2024-01-01)",
        id="unquoted-date",
    ),
    pytest.param(
        "root_cause: The mailbox reached its quota.",
        "root_cause: null",
        "root_cause:",
        "problem 'mailbox-full': root_cause is null",
        id="null-where-text-expected",
    ),
    pytest.param(
        "root_cause: The mailbox reached its quota.",
        "root_cause:",
        "root_cause:",
        "problem 'mailbox-full': root_cause is null (no value given)",
        id="empty-value-where-text-expected",
    ),
    pytest.param(
        "    title: Mailbox full\n",
        "    title: [Mailbox, full]\n",
        "title: [Mailbox",
        "problem 'mailbox-full': title must be text, not a list",
        id="list-where-text-expected",
    ),
    pytest.param(
        "      - text: Empty the `Trash`\n",
        '      - text: "   "\n',
        'text: "   "',
        "problem 'mailbox-full': step 2 is empty",
        id="empty-step",
    ),
    pytest.param(
        "      - text: Check the Spam folder\n",
        "      - Check the Spam folder\n",
        "- Check the Spam folder",
        "problem 'missing-email': step 1 must be a mapping with 'text', not text",
        id="step-not-a-mapping",
    ),
    pytest.param(
        "      - text: Check the Spam folder\n",
        "      - navigation: Settings\n",
        "- navigation: Settings",
        "problem 'missing-email': step 1: missing required field 'text'",
        id="step-without-text",
    ),
    pytest.param(
        "    severity: medium\n",
        "    severity: urgent\n",
        "severity: urgent",
        "problem 'missing-email': severity 'urgent' must be one of high, medium, low",
        id="bad-severity",
    ),
    pytest.param(
        "  - id: oos-password\n",
        "  - id: Oos_Password\n",
        "id: Oos_Password",
        "out_of_scope 'Oos_Password': id 'Oos_Password' must be lowercase letters, digits and",
        id="bad-id",
    ),
    pytest.param(
        "symptoms: [An expected email never arrives]",
        "symptoms: []",
        "symptoms: []",
        "problem 'missing-email': symptoms is empty",
        id="empty-required-list",
    ),
    pytest.param(
        "    examples: [how much space do I have left]\n",
        "",
        "id: faq-mailbox-usage",
        "faq 'faq-mailbox-usage': missing required field 'examples'",
        id="faq-without-examples",
    ),
    pytest.param(
        "verification: [The email is found]",
        "verification: The email is found",
        "verification: The email",
        "problem 'missing-email': verification must be a list, not text",
        id="text-where-list-expected",
    ),
    pytest.param(
        "        tip: Compact the data file\n",
        "",
        "- client: Outlook",
        "problem 'mailbox-full': client_tips[0]: missing required field 'tip'",
        id="client-tip-without-tip",
    ),
    pytest.param(
        "    problem: mailbox-full\n",
        "    problem: nope\n",
        "problem: nope",
        "faq 'faq-mailbox-usage': problem 'nope' does not exist",
        id="unknown-faq-problem",
    ),
    pytest.param(
        "    see_also: [missing-email]\n",
        "    see_also: [missing-mail]\n",
        "see_also:",
        "faq 'faq-mailbox-usage': see_also problem 'missing-mail' does not exist"
        " (did you mean 'missing-email'?)",
        id="unknown-see-also",
    ),
    pytest.param(
        "related: [missing-email]",
        "related: [missing-mail]",
        "related:",
        "problem 'mailbox-full': related problem 'missing-mail' does not exist"
        " (did you mean 'missing-email'?)",
        id="unknown-related",
    ),
    pytest.param(
        "related: [missing-email]",
        "related: [faq-mailbox-usage]",
        "related:",
        "problem 'mailbox-full': related problem 'faq-mailbox-usage' is a faq, not a problem",
        id="related-names-a-faq",
    ),
    pytest.param(
        "related: [missing-email]",
        "related: [mailbox-full]",
        "related:",
        "problem 'mailbox-full': related names the problem itself",
        id="related-names-itself",
    ),
    pytest.param(
        "  - id: oos-password\n",
        "  - id:  mailbox-full\n",
        "id:  mailbox-full",
        "out_of_scope 'mailbox-full': id 'mailbox-full' is already used by"
        f" problem 'mailbox-full' at {FILE}:{line_of(VALID, 'id: mailbox-full')}",
        id="duplicate-id-in-one-file",
    ),
    pytest.param(
        "examples: [how much space do I have left]",
        "examples: [My  Mailbox is FULL]",
        "My  Mailbox",
        "faq 'faq-mailbox-usage': example \"My  Mailbox is FULL\" also appears under"
        f" problem 'mailbox-full' at {FILE}:{line_of(VALID, '- my mailbox is full')}",
        id="duplicate-example-across-entries",
    ),
    pytest.param(
        "  - id: missing-email\n",
        "  - id: missing-email: x\n",
        "missing-email: x",
        "invalid YAML: mapping values are not allowed here",
        id="bad-yaml-syntax",
    ),
    pytest.param(
        "    examples: [reset my password]\n",
        "    examples: [reset my password]\n---\nguide: second\n",
        "guide: second",
        "a second YAML document starts here",
        id="two-documents",
    ),
    pytest.param(
        "title: Alibaba Mail user guide",
        'title: !!python/object/apply:os.system ["true"]',
        "title: !!python",
        "title must be text, not a list",
        id="python-tag-is-not-constructed",
    ),
]


@pytest.mark.parametrize(("old", "new", "line_marker", "message"), ERROR_CASES)
def test_a_broken_file_reports_the_error_with_file_line_and_entry(
    old: str, new: str, line_marker: str, message: str
) -> None:
    text = edited(old, new)

    problems = errors_of(text)

    expected = f"{FILE}:{line_of(text, line_marker)}: {message}"
    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", f"{FILE}:1: file is empty", id="empty-file"),
        pytest.param("# only a comment\n", f"{FILE}:1: file is empty", id="comment-only"),
        pytest.param(
            "- a\n- b\n", f"{FILE}:1: the top level must be a mapping, not a list", id="a-list"
        ),
        pytest.param("a: [\n", f"{FILE}:2: invalid YAML: ", id="unclosed-flow-list"),
        pytest.param("title: x\x00\n", f"{FILE}:1: invalid YAML: character U+0000", id="nul"),
    ],
)
def test_a_file_that_is_not_a_knowledge_mapping_is_reported(text: str, message: str) -> None:
    problems = errors_of(text)

    assert any(problem.startswith(message) for problem in problems), problems


def test_an_entry_without_a_usable_id_is_named_by_its_position() -> None:
    text = edited("  - id: missing-email\n", "  - id: 5\n")

    problems = errors_of(text)

    line = line_of(text, "id: 5")
    assert f'{FILE}:{line}: problem #2: id is an integer (5); quote it: "5"' in problems


def test_every_error_in_a_file_is_reported_in_line_order() -> None:
    text = edited('error_codes: ["552", "MailboxFull"]', "error_codes: [552, MailboxFull]")
    text = edited("    severity: medium\n", "    severity: urgent\n", text)
    text = edited("    problem: mailbox-full\n", "    problem: nope\n", text)

    problems = errors_of(text)

    assert problems == [
        f"{FILE}:{line_of(text, 'error_codes:')}: problem 'mailbox-full': error_codes[0]"
        ' is an integer (552); quote it: "552"',
        f"{FILE}:{line_of(text, 'severity: urgent')}: problem 'missing-email':"
        " severity 'urgent' must be one of high, medium, low",
        f"{FILE}:{line_of(text, 'problem: nope')}: faq 'faq-mailbox-usage':"
        " problem 'nope' does not exist",
    ]


def test_the_same_example_twice_in_one_entry_is_allowed() -> None:
    text = edited(
        "      - my mailbox is full\n", "      - my mailbox is full\n      - MY mailbox is full\n"
    )

    assert parse_knowledge(text, filename=FILE).problems[0].examples[:2] == (
        "my mailbox is full",
        "MY mailbox is full",
    )


# -- a directory of files -----------------------------------------------------------------------


def test_a_directory_merges_its_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "b-other.yml", OTHER)
    write(tmp_path, "a-alimail.yaml", VALID)
    write(tmp_path, "notes.txt", "not knowledge")

    kb = load_knowledge(tmp_path)

    assert kb.ids == (
        "mailbox-full",
        "missing-email",
        "sent-not-saved",
        "faq-mailbox-usage",
        "faq-client-sent",
    )
    assert kb.problem("sent-not-saved").source == Source(
        file=str(tmp_path / "b-other.yml"), line=4
    )
    assert kb.faq("faq-client-sent").see_also == ("mailbox-full",)


def test_file_names_in_messages_are_built_from_the_directory_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "knowledge", "alimail-email.yaml", edited("severity: high", "severity: HIGH"))
    monkeypatch.chdir(tmp_path)

    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(Path("knowledge"))

    assert caught.value.problems == [
        f"{FILE}:6: problem 'mailbox-full': severity 'HIGH' must be one of high, medium, low"
    ]


def test_a_duplicate_id_across_two_files_names_both_locations(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", edited("id: sent-not-saved", "id: mailbox-full", OTHER))

    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tmp_path)

    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    assert (
        f"{second}:4: problem 'mailbox-full': id 'mailbox-full' is already used by"
        f" problem 'mailbox-full' at {first}:4"
    ) in caught.value.problems


def test_a_duplicate_example_across_two_files_names_both_locations(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", edited("[outlook mail not in sent]", "[Reset my  password]", OTHER))

    problems = validate_knowledge(tmp_path)

    line = line_of(OTHER, "outlook mail not in sent")
    assert problems == [
        f"{tmp_path / 'b.yaml'}:{line}: faq 'faq-client-sent': example \"Reset my  password\""
        f" also appears under out_of_scope 'oos-password'"
        f" at {tmp_path / 'a.yaml'}:{line_of(VALID, 'reset my password')}"
    ]


def test_a_duplicate_guide_name_across_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", edited("guide: alimail-other", "guide: alimail-email", OTHER))

    problems = validate_knowledge(tmp_path)

    assert problems == [
        f"{tmp_path / 'b.yaml'}:1: guide 'alimail-email' is already defined"
        f" at {tmp_path / 'a.yaml'}:1"
    ]


def test_a_reference_to_a_problem_in_a_missing_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", OTHER)

    problems = validate_knowledge(tmp_path)

    other = tmp_path / "b.yaml"
    assert problems == [
        f"{other}:{line_of(OTHER, 'related:')}: problem 'sent-not-saved':"
        " related problem 'mailbox-full' does not exist",
        f"{other}:{line_of(OTHER, 'see_also:')}: faq 'faq-client-sent':"
        " see_also problem 'mailbox-full' does not exist",
    ]


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", b"\xff\xfeguide: x\n")

    problems = validate_knowledge(tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'b.yaml'}:1: not valid UTF-8 (")


def test_a_bad_utf8_byte_is_reported_on_its_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID.encode() + b"# caf\xe9\n")

    problems = validate_knowledge(tmp_path)

    assert problems[0].startswith(f"{tmp_path / 'a.yaml'}:{VALID.count(chr(10)) + 1}: not valid")


@pytest.mark.parametrize("other_files", [(), ("README.md", "notes.yaml.bak")])
def test_a_directory_without_yaml_files_is_an_error(
    tmp_path: Path, other_files: tuple[str, ...]
) -> None:
    for name in other_files:
        write(tmp_path, name, "not knowledge")

    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tmp_path)

    assert caught.value.problems == [f"{tmp_path}: no knowledge files (*.yaml, *.yml)"]


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(missing)

    assert caught.value.problems == [f"{missing}: knowledge directory does not exist"]


def test_a_file_given_as_the_directory_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", VALID)

    assert validate_knowledge(path) == [f"{path}: not a directory"]


def test_several_broken_files_report_every_error_and_load_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", edited("severity: high", "severity: HIGH"))
    write(tmp_path, "b.yaml", "guide: [broken\n")
    write(tmp_path, "c.yaml", b"\xff")
    write(
        tmp_path, "d.yaml", edited("    problem: sent-not-saved\n", "    problem: nope\n", OTHER)
    )

    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tmp_path)

    problems = caught.value.problems
    assert [problem.split(":")[0] for problem in problems] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b.yaml"),
        str(tmp_path / "c.yaml"),
        str(tmp_path / "d.yaml"),
    ]
    assert "severity 'HIGH'" in problems[0]
    assert "invalid YAML" in problems[1]
    assert "not valid UTF-8" in problems[2]
    assert "problem 'nope' does not exist" in problems[3]
    assert str(caught.value) == "\n".join(problems)


def test_validate_knowledge_returns_no_errors_for_a_valid_directory(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", OTHER)

    assert validate_knowledge(tmp_path) == []


def test_hidden_yaml_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, ".a.yaml.swp.yaml", "broken: [")

    assert validate_knowledge(tmp_path) == []
