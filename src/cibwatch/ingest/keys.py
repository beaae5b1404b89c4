"""The case's key index: a 64-bit hash of every stored row's dedupe key, by part, so a commit
finds its staged rows already in the case with a hash join over 8-byte integers instead of
reading every stored key column (a long ``watch`` commits thousands of times into a case of
millions of posts).

It lives in ``CASE/keys.duckdb`` and is a cache of the parts: each commit first syncs it with
the parts the case holds (known by name, size and mtime: rows of parts gone are dropped, parts
new to it are read once, merged parts included), so it agrees with the parts whatever happened
since (a crash, a merge, a part rewritten). A hash hit is only a candidate: the commit confirms
it against the stored rows of the parts the hit names (keys compared exactly), so a collision
never makes a duplicate. A missing, damaged or foreign (another DuckDB's hash) file is rebuilt.

>>> with connect_keys(con, case) as keys:  # doctest: +SKIP
...     keys.sync("posts", ("platform", "post_id"))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from cibwatch import schema
from cibwatch.errors import CaseError
from cibwatch.store import sql
from cibwatch.store.case import Case
from cibwatch.store.duck import DUCKDB_TYPES

KEYS_DB = "keys.duckdb"
ALIAS = "case_keys"
# Changes when the index's layout does, or when DuckDB's hash of this value does: either way the
# stored hashes cannot be compared with new ones, and the file is rebuilt.
_FORMAT = 1
_PROBE = "hash('cibwatch-keys', 1::BIGINT)"


def key_hash(table: str, keys: tuple[str, ...], alias: str) -> str:
    """The SQL hash of ``alias``'s key columns, each cast to its schema type (a staged column
    read as another type must hash as the stored one)."""
    types = {f.name: f.type for f in schema.TABLES[table]}
    return "hash(" + ", ".join(f"CAST({alias}.{k} AS {DUCKDB_TYPES[types[k]]})" for k in keys) + ")"


class KeyIndex:
    """The key index attached to a DuckDB connection as ``case_keys`` (see the module doc)."""

    def __init__(self, con: Any, case: Case) -> None:
        self.con = con
        self.case = case

    def sync(self, table: str, keys: tuple[str, ...]) -> None:
        """Make ``table``'s hashes those of the parts the case holds now, in one transaction."""
        con = self.con
        current = {_identity(p): p for p in self.case.parts(table)}
        known = {
            (name, size, mtime): part_id
            for part_id, name, size, mtime in con.execute(
                f"SELECT part_id, name, size, mtime_ns FROM {ALIAS}.parts WHERE tbl = ?", [table]
            ).fetchall()
        }
        gone = [part_id for identity, part_id in known.items() if identity not in current]
        new = [path for identity, path in current.items() if identity not in known]
        if not gone and not new:
            return
        hashes = f'{ALIAS}."keys_{table}"'
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS {hashes} (part_id BIGINT, h UBIGINT)")
            if gone:
                listed = ", ".join(str(int(g)) for g in gone)
                con.execute(f"DELETE FROM {hashes} WHERE part_id IN ({listed})")
                con.execute(f"DELETE FROM {ALIAS}.parts WHERE part_id IN ({listed})")
            for path in new:
                part_id = con.execute(f"SELECT nextval('{ALIAS}.part_ids')").fetchall()[0][0]
                con.execute(
                    f"INSERT INTO {hashes} SELECT {part_id}, {key_hash(table, keys, 'e')} "
                    f"FROM {sql.read_parquet([path])} e"
                )
                name, size, mtime = _identity(path)
                con.execute(
                    f"INSERT INTO {ALIAS}.parts VALUES (?, ?, ?, ?, ?)", [part_id, table, name, size, mtime]
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def candidates(self, table: str, staged: str, keys: tuple[str, ...]) -> str:
        """SQL for (seq, part_id): staged rows of ``staged`` (a temp table with ``_seq``) whose key
        hash is stored, with the part holding it. Call ``sync`` first."""
        hashes = f'{ALIAS}."keys_{table}"'
        if not self.has(table):
            return "(SELECT NULL::BIGINT AS seq, NULL::BIGINT AS part_id WHERE false)"
        return (
            f"(SELECT DISTINCT s._seq AS seq, k.part_id FROM {staged} s "
            f"JOIN {hashes} k ON k.h = {key_hash(table, keys, 's')})"
        )

    def has(self, table: str) -> bool:
        n = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [ALIAS, f"keys_{table}"],
        ).fetchall()[0][0]
        return bool(n)

    def paths(self, table: str, part_ids: list[int]) -> list[Path]:
        """The case's parts of ``table`` with these ids."""
        if not part_ids:
            return []
        listed = ", ".join(str(int(p)) for p in part_ids)
        names = self.con.execute(
            f"SELECT name FROM {ALIAS}.parts WHERE tbl = ? AND part_id IN ({listed}) ORDER BY name", [table]
        ).fetchall()
        return [self.case.table_dir(table) / name for (name,) in names]


@contextlib.contextmanager
def connect_keys(con: Any, case: Case) -> Iterator[KeyIndex]:
    """Attach the case's key index to ``con`` (creating or rebuilding it as needed); call with the
    case lock held (one process at a time opens the file)."""
    path = case.root / KEYS_DB
    try:
        _attach(con, path)
    except duckdb.Error as exc:  # damaged, or another DuckDB's file: a cache, rebuilt from the parts
        if "lock" in str(exc).lower():  # held by another process (a DuckDB shell?): not ours to remove
            raise CaseError(f"{path} is open in another process; close it and run again") from exc
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DETACH {ALIAS}")
        _remove(path)
        _attach(con, path)
    try:
        yield KeyIndex(con, case)
    finally:
        con.execute(f"DETACH {ALIAS}")


def _attach(con: Any, path: Path) -> None:
    con.execute(f"ATTACH {sql.literal(path)} AS {ALIAS}")
    probe = con.execute(f"SELECT {_PROBE}").fetchall()[0][0]
    meta = f"{ALIAS}.meta"
    con.execute(f"CREATE TABLE IF NOT EXISTS {meta} (format INTEGER, probe UBIGINT)")
    stored = con.execute(f"SELECT format, probe FROM {meta}").fetchall()
    if stored and stored[0] == (_FORMAT, probe):
        return
    if stored:  # hashes from another layout or another DuckDB: start again
        con.execute(f"DETACH {ALIAS}")
        _remove(path)
        con.execute(f"ATTACH {sql.literal(path)} AS {ALIAS}")
        con.execute(f"CREATE TABLE {meta} (format INTEGER, probe UBIGINT)")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {ALIAS}.parts "
        "(part_id BIGINT, tbl VARCHAR, name VARCHAR, size BIGINT, mtime_ns BIGINT)"
    )
    con.execute(f"CREATE SEQUENCE IF NOT EXISTS {ALIAS}.part_ids")
    con.execute(f"INSERT INTO {meta} VALUES (?, ?)", [_FORMAT, probe])


def _remove(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def _identity(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return path.name, stat.st_size, stat.st_mtime_ns
