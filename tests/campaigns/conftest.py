from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cibwatch.campaigns import assemble
from cibwatch.store.case import Case
from tests.campaigns.corpus import build


@pytest.fixture(scope="session")
def assembled_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The constructed corpus assembled once; tests get copies (DuckDB view refreshes are slow)."""
    root = tmp_path_factory.mktemp("template") / "case"
    with build(root) as c:
        assemble(c)
    return root


@pytest.fixture
def case(assembled_template: Path, tmp_path: Path) -> Iterator[Case]:
    """A fresh copy of the constructed corpus, assembled under the default policy."""
    root = tmp_path / "case"
    shutil.copytree(assembled_template, root)
    c = Case.open(root)
    yield c
    c.close()
