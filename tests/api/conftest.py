"""The constructed campaigns corpus, assembled once, plus a profile snapshot that carries markup, and
the users of tests/review/people.py with their API tokens."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cibwatch import schema
from cibwatch.api import create_app
from cibwatch.campaigns import assemble
from tests.campaigns.corpus import build, table
from tests.review.people import add_people

EVIL = "<script>alert('pwned')</script>"
BASE = "http://127.0.0.1"  # a name the Host allowlist serves (TestClient's own "testserver" is refused)
TOKENS = "tokens.json"  # beside the template case: the people's API tokens


def bearer(app_or_case: object, token: str) -> TestClient:
    """A client of the app (or of a new app on the case directory) sending ``token``."""
    app = create_app(app_or_case) if isinstance(app_or_case, str | Path) else app_or_case
    return TestClient(app, base_url=BASE, headers={"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]


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
        (root.parent / TOKENS).write_text(json.dumps(add_people(case)))
    return root


@pytest.fixture(scope="session")
def tokens(api_template: Path) -> dict[str, str]:
    """Each person's API token, valid in every copy of the template."""
    return json.loads((api_template.parent / TOKENS).read_text())


@pytest.fixture
def case_dir(api_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "case"
    shutil.copytree(api_template, root)
    return root


@pytest.fixture
def as_user(case_dir: Path, tokens: dict[str, str]) -> Callable[[str], TestClient]:
    """``as_user("ana")``: a client of one app on ``case_dir`` acting with ana's API token."""
    app = create_app(case_dir)
    return lambda name: bearer(app, tokens[name])


@pytest.fixture
def client(as_user: Callable[[str], TestClient]) -> Iterator[TestClient]:
    """The admin's client: may read, decide, appeal and resolve."""
    with as_user("boss") as c:
        yield c
