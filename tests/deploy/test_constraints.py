"""deploy/constraints.txt pins exactly the runtime packages the tests run with."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import DEPLOY, ROOT


def pins() -> dict[str, str]:
    lines = (DEPLOY / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


def test_the_constraints_file_matches_the_tested_environment() -> None:
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "freeze_constraints.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins()

    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in deploy/constraints.txt"
        assert requirement.specifier.contains(pinned[name]), (name, pinned[name])
