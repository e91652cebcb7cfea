"""deploy/constraints.txt pins exactly the runtime packages the tests run with."""

from __future__ import annotations

import importlib.util
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import DEPLOY, ROOT


def pins() -> dict[str, str]:
    lines = (DEPLOY / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


def installed_runtime_pins() -> dict[str, str]:
    """What deploy/freeze_constraints.py would write for this environment."""
    spec = importlib.util.spec_from_file_location("freeze", DEPLOY / "freeze_constraints.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.pins())


def test_every_runtime_package_is_pinned_at_the_version_the_tests_run_with() -> None:
    # A pin nothing needs any more (a dependency dropped) is harmless until the next
    # regeneration; a missing or different one means the image would not be what was tested.
    pinned = pins()

    wrong = {
        name: (pinned.get(name), version)
        for name, version in installed_runtime_pins().items()
        if pinned.get(name) != version
    }

    assert wrong == {}, "run: python3 deploy/freeze_constraints.py (pinned, installed) " + str(
        wrong
    )


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins()

    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in deploy/constraints.txt"
        assert requirement.specifier.contains(pinned[name]), (name, pinned[name])
