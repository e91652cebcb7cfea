"""Callback data codec: what a button carries to Telegram and back, within 64 bytes."""

from __future__ import annotations

import pytest

from bot.core.callback import MAX_BYTES, pack, unpack
from bot.core.events import ButtonPress
from bot.core.replies import Action


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_every_action_round_trips(action: Action) -> None:
    data = pack(action, 12, "mailbox-full")

    assert unpack(data) == ButtonPress(action=action, version=12, arg="mailbox-full")


@pytest.mark.parametrize("arg", ["", "faq-mailbox-usage", "a:b:c", "邮箱", "📧"])
def test_args_with_colons_and_non_ascii_round_trip(arg: str) -> None:
    assert unpack(pack(Action.CHOOSE, 0, arg)) == ButtonPress(
        action=Action.CHOOSE, version=0, arg=arg
    )


def test_packed_data_has_the_documented_shape() -> None:
    assert pack(Action.STUCK, 7) == "v1:7:stuck:"


def test_data_of_exactly_64_bytes_is_accepted() -> None:
    prefix = "v1:1:pick:"
    arg = "x" * (MAX_BYTES - len(prefix))

    assert len(pack(Action.CHOOSE, 1, arg).encode()) == MAX_BYTES


@pytest.mark.parametrize("arg", ["x" * 60, "邮" * 20, "📧" * 14])
def test_data_over_64_bytes_raises_value_error(arg: str) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        pack(Action.CHOOSE, 1, arg)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "v1",
        "v1:7:stuck",
        "v2:7:stuck:",
        "v1:x:stuck:",
        "v1:-1:stuck:",
        "v1:7:explode:",
        "v1::stuck:",
        "stuck",
        "menu_1",
        '{"action": "done"}',
        "V1:7:stuck:",
    ],
)
def test_malformed_or_foreign_data_unpacks_to_none(data: str | None) -> None:
    assert unpack(data) is None
