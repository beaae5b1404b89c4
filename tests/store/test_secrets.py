from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cibwatch.store.secrets import read_secret, secret, secret_path


def test_a_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        return f"key-{len(calls)}".encode()

    assert read_secret(tmp_path, "pseudonym.key") is None
    first = secret(tmp_path, "pseudonym.key", make)
    again = secret(tmp_path, "pseudonym.key", make)
    assert first == again == b"key-1"
    assert len(calls) == 1
    mode = secret_path(tmp_path, "pseudonym.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert not [p for p in (tmp_path / "keys").iterdir() if p.name.startswith(".")]


def test_a_secret_made_meanwhile_by_another_process_wins(tmp_path: Path) -> None:
    def make_while_another_wins() -> bytes:
        path = secret_path(tmp_path, "signing.key")
        path.write_bytes(b"theirs")
        return b"mine"

    assert secret(tmp_path, "signing.key", make_while_another_wins) == b"theirs"


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_secret_names_stay_inside_the_keys_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        secret_path(tmp_path, name)
