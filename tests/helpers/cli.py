"""Running the ``alimail-bot`` command line in-process, as the CLI tests do."""

from __future__ import annotations

import pytest

from bot.cli import main


def run_cli(
    argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run ``main`` and return (exit code, stdout, stderr)."""
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
