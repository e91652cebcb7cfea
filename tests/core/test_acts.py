"""The act reader on its own: numbers, placeholders, typos, restating the step, descriptions,
and what is allowed where."""

from __future__ import annotations

import pytest

from bot.core.acts import Act, ActReader, act_reader
from bot.core.dialogue import descriptions
from bot.core.knowledge import KnowledgeBase


@pytest.fixture(scope="module")
def reader(kb: KnowledgeBase) -> ActReader:
    """The reader over the shipped acts and descriptions."""
    return act_reader(kb.dialogue, descriptions(kb))


@pytest.mark.parametrize(
    ("text", "number"),
    [("2", 2), ("#3", 3), ("option 4", 4), ("the second one", 2), ("option one", 1), ("3rd", 3)],
)
def test_numbers_are_read_with_their_value(reader: ActReader, text: str, number: int) -> None:
    reading = reader.read(text)

    assert (reading.act, reading.number) == (Act.NUMBER, number)


@pytest.mark.parametrize(("typo", "act"), [("dnoe", Act.DONE), ("stcuk", Act.STUCK)])
def test_swapped_letters_are_repaired(reader: ActReader, typo: str, act: Act) -> None:
    assert reader.read(typo).act is act


def test_a_name_on_screen_reads_like_the_placeholder(reader: ActReader) -> None:
    items = ("Deletion by Receiving Software", "Not Allowed")

    assert reader.read("switched it to Not Allowed", items=items).act is Act.DONE
    assert reader.read("where is Deletion by Receiving Software", items=items).act is Act.STUCK


def test_restating_the_check_on_screen_reads_as_done(reader: ActReader) -> None:
    check = "Send a test email to the account"

    assert reader.read("sent the test email", context=check).act is Act.DONE
    assert reader.read("how do i send a test email", context=check).act is not Act.DONE


def test_a_description_of_a_problem_is_not_an_act(reader: ActReader) -> None:
    reading = reader.read("no, and my mailbox is full and senders get bounce 552")

    assert reading.act is None


def test_only_allowed_acts_are_read(reader: ActReader) -> None:
    assert reader.read("yes").act is Act.YES
    assert reader.read("yes", allowed=frozenset({Act.DONE, Act.BACK})).act is None


@pytest.mark.parametrize(
    ("text", "upset"),
    [
        ("this is ridiculous", True),
        ("WHY IS MY WEBMAIL EMPTY", True),
        ("it still bounces!!!", True),
        ("my mails vanish after outlook sync", False),
        ("I use Outlook on Windows", False),
    ],
)
def test_upset_messages_are_noticed(reader: ActReader, text: str, upset: bool) -> None:
    assert reader.is_upset(text) is upset
