"""What the package imports is what it declares: a fresh `pip install .` must be enough.

networkx was once imported by `coord` and the web API but reached the test environment only
through the test extra, so the README's first command failed on a fresh machine while every test
passed. CI's clean-install step (.ci/run) runs that command; this test names the culprit sooner.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import defaultdict
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cibwatch"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Imported only where it may be missing (inside `try: … except ImportError`), and with a reason.
TOLERATED = {"click": "cli/main.py: only typer < 0.29 raises click's own exceptions"}
# Extras whose modules the package itself imports (lazily); `test` is for the test suite only.
OPTIONAL_EXTRAS = ("qut", "spark")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]).lower()


_DISTRIBUTIONS = packages_distributions()  # slow to build: once


def _dists(module: str) -> set[str]:
    return {_name(d) for d in _DISTRIBUTIONS.get(module, [])}


def _imports() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Third-party top-level modules imported by src/cibwatch: (at module level, anywhere)."""
    top: dict[str, set[str]] = defaultdict(set)
    anywhere: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root in sys.stdlib_module_names or root == "cibwatch":
                    continue
                where = str(path.relative_to(SRC))
                anywhere[root].add(where)
                if id(node) in module_level:
                    top[root].add(where)
    return top, anywhere


CORE = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS = {_name(r) for extra in OPTIONAL_EXTRAS for r in PYPROJECT["project"]["optional-dependencies"][extra]}


def test_every_imported_module_is_declared() -> None:
    _, anywhere = _imports()
    undeclared = {
        module: sorted(files)
        for module, files in anywhere.items()
        if module not in TOLERATED and not _dists(module) & (CORE | EXTRAS)
    }
    assert not undeclared, f"imported but not a dependency (add it to pyproject.toml): {undeclared}"


def test_optional_modules_are_imported_only_where_they_are_used() -> None:
    """A module-level import of an extra would break `import cibwatch…` without that extra."""
    top, _ = _imports()
    eager = {module: sorted(files) for module, files in top.items() if not _dists(module) & CORE}
    assert not eager, f"imported at module level but not a core dependency: {eager}"


def test_every_core_dependency_is_imported() -> None:
    _, anywhere = _imports()
    used = set().union(*(_dists(module) for module in anywhere))
    assert CORE - used == set(), "declared but never imported: drop them from pyproject.toml"


def test_package_data_globs_match_files() -> None:
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["cibwatch"]
    empty = [g for g in globs if not list(SRC.glob(g))]
    assert not empty, f"package-data names no file: {empty}"


def test_a_missing_optional_part_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from cibwatch.errors import ConfigError
    from cibwatch.evaluate import qut

    monkeypatch.setattr(qut.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "coordination_network_toolkit", None)  # import fails
    with pytest.raises(ConfigError, match=r"pip install 'cibwatch\[qut\]'"):
        qut.toolkit_command()
    assert "qut" in PYPROJECT["project"]["optional-dependencies"]
