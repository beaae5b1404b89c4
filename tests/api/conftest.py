"""The constructed campaigns corpus, assembled once, plus a profile snapshot that carries markup."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cibwatch import schema
from cibwatch.api import create_app
from cibwatch.campaigns import assemble
from tests.campaigns.corpus import build, table

EVIL = "<script>alert('pwned')</script>"


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/campaigns' corpus, assembled; op1's newest profile snapshot has a <script> description."""
    root = tmp_path_factory.mktemp("api-template") / "case"
    with build(root) as case:
        newer = {
            "account_id": "op1",
            "platform": "twitter",
            "screen_name": "patriot_jane01",
            "name": "Jane <b>0</b>",
            "description": f"Proud american {EVIL}",
            "probed_at": datetime(2016, 9, 2, tzinfo=UTC),
            "snapshot_id": "s-op1-evil",
        }
        case.write_part("accounts", table([newer], schema.ACCOUNTS), "accounts-evil")
        assemble(case)
    return root


@pytest.fixture
def case_dir(api_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "case"
    shutil.copytree(api_template, root)
    return root


@pytest.fixture
def client(case_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(case_dir)) as c:
        yield c
