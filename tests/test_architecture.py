"""Import boundaries between the stages, read from the source with ``ast`` (nothing is imported).

A stage is a first-level package or module of ``cibwatch`` (``coord``, ``review``, ``schema``, …;
the package's own ``__init__`` is the stage ``cibwatch``). Every import counts, inside functions
and ``TYPE_CHECKING`` blocks too. Two rules keep "never through each other's internals"
(docs/architecture.md) checkable:

- no stage imports a private name of another: ``_name``, or anything from a module ``_module``;
- the stages import each other without a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "cibwatch"

# (importing module, imported name): private imports allowed for now; empty, and meant to stay so.
# A stage that needs another's helper asks for it to be made public.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()

# Stage cycles that other issue-16 work removes, each as its stages from the least one: none today.
# The loop through data this test could not see (campaigns' case file read review's review_log table
# while review imported campaigns.case_file) is gone: both now read the case file from cibwatch.views.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, dotted
    target: str  # what it imports, dotted: a module, or a module and a name in it
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path) -> list[Import]:
    """Every import of package ``root``'s own modules made anywhere below ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found += [Import(module, alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # `from . import x` (level 1) is the module's own package; each level more, its parent.
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                source = ".".join(p for p in (base, node.module or "") if p)
                found += [Import(module, f"{source}.{alias.name}", node.lineno) for alias in node.names]
    return [i for i in found if i.target.split(".")[0] == root.name]


def stage_of(dotted: str, root: Path) -> str:
    """The stage a dotted name belongs to: ``cibwatch.coord.detect.connect`` → ``coord``."""
    parts = dotted.split(".")
    if len(parts) > 1 and ((root / parts[1]).is_dir() or (root / f"{parts[1]}.py").is_file()):
        return parts[1]
    return parts[0]  # a name of the package's own __init__ (its __version__, …)


def is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def private_imports(root: Path) -> list[Import]:
    """Imports of a private name or module of another stage."""
    return [
        i
        for i in imports(root)
        if stage_of(i.importer, root) != stage_of(i.target, root)
        and any(is_private(part) for part in i.target.split(".")[1:])
    ]


def stage_graph(root: Path) -> dict[tuple[str, str], Import]:
    """Each (stage, stage it imports) edge, with the first import that makes it."""
    edges: dict[tuple[str, str], Import] = {}
    for i in imports(root):
        edge = (stage_of(i.importer, root), stage_of(i.target, root))
        if edge[0] != edge[1]:
            edges.setdefault(edge, i)
    return edges


def cycles(edges: dict[tuple[str, str], Import]) -> list[tuple[str, ...]]:
    """Every elementary cycle once, as its stages in import order from the least stage."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    found: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...]) -> None:
        for nxt in sorted(graph[path[-1]]):
            if nxt == path[0]:
                found.append(path)
            elif nxt > path[0] and nxt not in path:
                walk((*path, nxt))

    for start in sorted(graph):
        walk((start,))
    return found


def describe(cycle: tuple[str, ...], edges: dict[tuple[str, str], Import]) -> str:
    steps = zip(cycle, (*cycle[1:], cycle[0]), strict=True)
    return " → ".join([*cycle, cycle[0]]) + "".join(f"\n    {edges[step]}" for step in steps)


def test_no_stage_imports_a_private_name_of_another() -> None:
    found = {(i.importer, i.target): i for i in private_imports(SOURCE)}
    new = [str(i) for key, i in sorted(found.items()) if key not in KNOWN_PRIVATE_IMPORTS]
    if new:
        pytest.fail("private names of another stage (make them public there):\n" + "\n".join(new))
    gone = KNOWN_PRIVATE_IMPORTS - set(found)
    assert not gone, f"no longer imported, remove from KNOWN_PRIVATE_IMPORTS: {sorted(gone)}"


def test_stages_import_each_other_without_a_cycle() -> None:
    edges = stage_graph(SOURCE)
    found = cycles(edges)
    new = [describe(c, edges) for c in found if c not in KNOWN_CYCLES]
    if new:
        pytest.fail("import cycles between stages:\n" + "\n".join(new))
    gone = set(KNOWN_CYCLES) - set(found)
    assert not gone, f"no longer a cycle, remove from KNOWN_CYCLES: {sorted(gone)}"


def test_the_graph_sees_the_real_stages() -> None:
    """A guard on the checker itself: the edges it reads from the source are the known ones."""
    edges = stage_graph(SOURCE)
    assert ("cli", "coord") in edges and ("review", "views") in edges
    assert ("bots", "values") in edges  # a top-level module is a stage of its own
    assert ("api", "cibwatch") in edges  # `from cibwatch import __version__`: the package's __init__


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "fake"


def test_private_imports_of_another_stage_are_found(tmp_path: Path) -> None:
    fake = write_tree(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/alpha/__init__.py": "",
            "fake/alpha/use.py": (
                "from fake.beta.impl import _hidden, public\n"
                "from ..beta import _helpers\n"
                "def later():\n"
                "    import fake.beta._helpers\n"
                "    from fake.beta._helpers import anything\n"
                "    from fake.shared import _SECRET, __doc__\n"
            ),
            "fake/beta/__init__.py": "from fake.beta.impl import _hidden\n",  # its own: allowed
            "fake/beta/impl.py": "_hidden = public = 1\n",
            "fake/beta/_helpers.py": "from . import impl\nanything = impl._hidden\n",
            "fake/shared.py": "_SECRET = 2\n",
        },
    )
    assert [str(i) for i in private_imports(fake)] == [
        "fake.alpha.use:1 imports fake.beta.impl._hidden",
        "fake.alpha.use:2 imports fake.beta._helpers",
        "fake.alpha.use:4 imports fake.beta._helpers",
        "fake.alpha.use:5 imports fake.beta._helpers.anything",
        "fake.alpha.use:6 imports fake.shared._SECRET",
    ]


def test_import_cycles_between_stages_are_found(tmp_path: Path) -> None:
    fake = write_tree(
        tmp_path,
        {
            "fake/__init__.py": "from fake.shared import helper\n__version__ = '1'\n",
            "fake/alpha/__init__.py": "from fake.alpha.run import go\n",
            "fake/alpha/run.py": "from fake.beta import work\ngo = 1\n",
            "fake/beta/__init__.py": "def work():\n    from fake.gamma import tail\n",
            "fake/gamma.py": "import fake.alpha.run\nfrom fake.shared import helper\ntail = 1\n",
            "fake/shared.py": "from fake import __version__\nhelper = 1\n",
        },
    )
    edges = stage_graph(fake)
    assert cycles(edges) == [("alpha", "beta", "gamma"), ("fake", "shared")]
    assert describe(("alpha", "beta", "gamma"), edges) == (
        "alpha → beta → gamma → alpha\n"
        "    fake.alpha.run:1 imports fake.beta.work\n"
        "    fake.beta:2 imports fake.gamma.tail\n"
        "    fake.gamma:1 imports fake.alpha.run"
    )
