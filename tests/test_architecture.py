"""Arrows point inward: ``bot/core`` imports no transport, store, configuration or I/O
module, reads no environment, files or clock (the loader alone reads files), and the CLI
starts without importing Telegram."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE = REPO_ROOT / "bot" / "core"
CORE_MODULES = sorted(CORE.glob("*.py"))

FORBIDDEN_IMPORTS = (
    "telegram",
    # Configuration is read at the edge; the core gets plain values (MatchSettings is core).
    "bot.config",
    "bot.cli",
    "bot.channels",
    "bot.store",
    "httpx",
    "asyncio",
    "os",
    "socket",
    "sqlite3",
    "redis",
)
# The knowledge loader is the one core module allowed to read files.
FILE_READERS = {"loader.py"}
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
CLOCK_CALLS = {("time", "time"), ("time", "monotonic"), ("datetime", "now"), ("date", "today")}


def imported_modules(tree: ast.Module, module: str) -> list[str]:
    """Every module an AST imports, relative imports resolved against ``module``."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            names.append(prefix)
            names.extend(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def is_forbidden(name: str) -> bool:
    """True for a forbidden module or anything inside one."""
    return any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN_IMPORTS)


def io_uses(tree: ast.Module) -> list[str]:
    """Environment reads, file reads/writes and clock reads in an AST, as 'line: what'."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            found.append(f"{node.lineno}: {node.attr}")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FILE_CALLS:
            found.append(f"{node.lineno}: {func.id}()")
        elif isinstance(func, ast.Attribute):
            if func.attr in FILE_CALLS:
                found.append(f"{node.lineno}: .{func.attr}()")
            owner = func.value
            if isinstance(owner, ast.Name) and (owner.id, func.attr) in CLOCK_CALLS:
                found.append(f"{node.lineno}: {owner.id}.{func.attr}()")
    return found


def parse(path: Path) -> ast.Module:
    """The AST of one source file."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_core_package_has_the_documented_modules() -> None:
    names = {path.name for path in CORE_MODULES}

    assert names >= {"knowledge.py", "loader.py", "text.py", "matching.py", "dialogue.py"}


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_core_modules_import_no_transport_store_or_io_module(path: Path) -> None:
    module = f"bot.core.{path.stem}"

    bad = [name for name in imported_modules(parse(path), module) if is_forbidden(name)]

    assert bad == []


@pytest.mark.parametrize(
    "path", [p for p in CORE_MODULES if p.name not in FILE_READERS], ids=lambda p: p.name
)
def test_core_modules_read_no_environment_files_or_clock(path: Path) -> None:
    assert io_uses(parse(path)) == []


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import os\n", ["os"]),
        ("from telegram.ext import Application\n", ["telegram.ext"]),
        ("from ..store import open_store\n", ["bot.store"]),
        ("from bot import channels\n", ["bot.channels"]),
        ("from bot.config import Settings\n", ["bot.config"]),
        ("from bot import config\n", ["bot.config"]),
        ("import asyncio.locks\n", ["asyncio.locks"]),
        ("import ossaudiodev\nimport redistribution\n", []),
    ],
)
def test_the_import_check_catches_what_it_should(source: str, bad: list[str]) -> None:
    names = imported_modules(ast.parse(source), "bot.core.dialogue")

    forbidden = {name for name in names if is_forbidden(name)}
    assert set(bad) <= forbidden
    assert bool(forbidden) == bool(bad)


@pytest.mark.parametrize(
    "source",
    [
        "x = os.environ['A']\n",
        "y = os.getenv('A')\n",
        "f = open('x')\n",
        "t = Path('x').read_text()\n",
        "now = time.time()\n",
        "now = datetime.now()\n",
    ],
)
def test_the_io_check_catches_what_it_should(source: str) -> None:
    assert io_uses(ast.parse(source)) != []


IMPORT_PROBE = """
import sys
import bot.cli, bot.core.dialogue, bot.core.loader, bot.core.compose, bot.core.callback
leaked = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("telegram", "httpx", "redis")
    or m.startswith(("bot.channels", "bot.store"))
)
assert leaked == [], leaked
"""


def test_the_cli_and_the_core_import_without_telegram_or_the_store() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stderr
