from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.corpus import build
from cibwatch.campaigns import assemble
from cibwatch.store.case import Case


@pytest.fixture
def case(tmp_path: Path) -> Case:
    """The constructed corpus, assembled under the default policy."""
    c = build(tmp_path / "case")
    assemble(c)
    yield c
    c.close()
