"""A case directory: Parquet tables (zstd) plus a DuckDB file that views them.

Layout::

    DIR/case.json                 format version
    DIR/case.duckdb               views over the tables + small mutable tables of later stages
    DIR/tables/<table>/*.parquet  the normalized tables of ``cibwatch.schema`` and stage outputs

Tables are append-only sets of Parquet parts; each ingest run adds at most one
part per table, already deduplicated against what the case holds.

Crash safety. A part becomes visible only by a rename: ``write_part`` writes a hidden
``.*.tmp`` file first, and an ingest run writes all its parts (author stubs included) into its
own folder ``.staging/<run>/commit/``, syncs them, records them in a manifest (written
atomically), then renames them into ``tables/`` and drops the manifest. A run holds a lock on its
folder (``flock`` on ``.staging/<run>/run.lock``) while it lives, and writers hold the case lock
(``DIR/.lock``) while they change ``tables/``. The next writer, or the next open, takes the case
lock and recovers: a dead run's manifest is rolled forward (its remaining renames done), then its
folder and any stray ``.tmp`` file are removed. So a killed run leaves the case as it was or with
the whole run in it, and never a part without its footer or posts without their authors.

``CIBWATCH_CRASH_AT=<step>`` makes the process kill itself (SIGKILL) at a named step, for the
crash tests: ``read`` (staging written, commit not begun), ``write:<table>`` and ``write:stubs``
(a commit part written but not closed), ``written`` (all parts written, no manifest), ``manifest``
(manifest written, nothing renamed), ``publish`` (one part renamed), ``published`` (all renamed,
manifest kept), ``recover`` (one rename of a roll-forward done), ``merge:written`` (a merged
part written, no manifest), ``publish:removes`` and ``recover:removes`` (a merge's part in place,
one old part removed), ``write_part`` (a stage's part
written under its temporary name) and ``replace_table`` (a stage's new part in place, older ones
not yet removed).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.errors import CaseError
from cibwatch.store import duck, sql

CASE_FORMAT = 1
STAGING = ".staging"
LOCK = ".lock"
RUN_LOCK = "run.lock"
MANIFEST = "manifest.json"
CRASH_ENV = "CIBWATCH_CRASH_AT"
# Tables a commit renames last: a reader never sees a post before its author's row.
_PUBLISH_LAST = ("posts",)


class Case:
    """An open case directory. Create with ``Case.create`` or open with ``open_case``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._views: dict[str, list[Path]] = {}

    # -- lifecycle -----------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path) -> Case:
        """Open ``root`` as a case, creating an empty one if it does not exist."""
        root = Path(root)
        _check_database_path(root)
        marker = root / "case.json"
        if root.exists() and not marker.exists() and any(not _is_marker_tmp(p) for p in root.iterdir()):
            raise CaseError(
                f"{root} exists and is not a cibwatch case (no case.json); choose an empty or new directory"
            )
        root.mkdir(parents=True, exist_ok=True)
        if not marker.exists():  # the marker first: a folder with tables/ but no case.json is no case
            write_atomic(marker, json.dumps({"format": CASE_FORMAT, "tool": "cibwatch"}) + "\n")
        (root / "tables").mkdir(exist_ok=True)
        return cls.open(root)

    @classmethod
    def open(cls, root: str | Path) -> Case:
        """Open an existing case; a run that died while publishing is finished first (if the case is
        writable and no other run holds its lock)."""
        root = Path(root)
        marker = root / "case.json"
        if not marker.exists():
            raise CaseError(
                f"{root} is not a cibwatch case (no case.json); create one with `cibwatch ingest`"
            )
        try:
            meta = json.loads(marker.read_text())
        except ValueError as exc:
            raise CaseError(f"{marker} is damaged: {exc}") from None
        if meta.get("format") != CASE_FORMAT:
            raise CaseError(f"{root} is case format {meta.get('format')}, this cibwatch reads {CASE_FORMAT}")
        case = cls(root)
        if (root / STAGING).exists():
            with contextlib.suppress(OSError), case.locked(blocking=False) as held:
                if held:
                    case.recover()
        return case

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths and tables ----------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / "case.duckdb"

    def table_dir(self, table: str) -> Path:
        return self.root / "tables" / table

    def parts(self, table: str) -> list[Path]:
        """The committed Parquet parts of ``table``, in name order (temporary files left out)."""
        try:
            entries = list(self.table_dir(table).iterdir())
        except FileNotFoundError:
            return []
        return sorted(p for p in entries if p.suffix == ".parquet" and not p.name.startswith("."))

    def has_table(self, table: str) -> bool:
        return bool(self.parts(table))

    def has_db_table(self, name: str) -> bool:
        """Whether ``case.duckdb`` holds the table ``name`` (the review log, users: not Parquet)."""
        n = self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
        return bool(n)

    def table_sql(self, table: str, *, union_by_name: bool = True) -> str:
        """A DuckDB ``FROM`` source over ``table``'s parts (an empty typed select if it has none).

        >>> con.sql(f"SELECT count(*) FROM {case.table_sql('posts')}")  # doctest: +SKIP
        """
        parts = self.parts(table)
        if parts:
            return sql.read_parquet(parts, union_by_name=union_by_name)
        known = schema.table_schema(table)
        if known is None:
            raise CaseError(f"case {self.root} has no table {table!r}")
        return _empty_select(known)

    def write_part(self, table: str, data: pa.Table | pl.DataFrame, name: str) -> Path:
        """Add one Parquet part to ``table`` (a stage's output, or a new normalized part).

        Written under a hidden temporary name, synced, then renamed: readers see all of it or none.
        """
        if isinstance(data, pl.DataFrame):
            data = data.to_arrow()
        target = self.table_dir(table)
        path = target / f"{name}.parquet"
        with self.locked():
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / f".{name}.{uuid.uuid4().hex[:8]}.parquet.tmp"
            try:
                pq.write_table(data, tmp, compression="zstd")
                _fsync(tmp)
                crash_point("write_part")
                tmp.replace(path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _fsync(target)
        self._refresh_views()
        return path

    def replace_table(self, table: str, data: pa.Table | pl.DataFrame) -> Path:
        """Replace a derived table (stage output) whole: reruns recompute, never append.

        The new part replaces ``part-0`` by a rename, so the table is never empty or half
        written; older parts of other names are removed after it.
        """
        with self.locked():
            path = self.write_part(table, data, "part-0")
            crash_point("replace_table")
            for part in self.parts(table):
                if part != path:
                    part.unlink()
        self._refresh_views()
        return path

    def merge_parts(self, table: str, parts: list[Path]) -> Path | None:
        """Replace ``parts`` of ``table`` by one part holding their rows (a long ``watch`` adds a
        part per batch; many small parts make every read slower).

        The merged part is written in a run folder and published like an ingest commit, with the
        old parts listed in the manifest for removal: a kill before the manifest leaves the old
        parts, after it the next writer finishes the merge. Rows are streamed part by part."""
        if len(parts) < 2:
            return None
        with self.run_folder() as folder, self.locked():
            current = set(self.parts(table))
            if not set(parts) <= current:
                raise CaseError(f"cannot merge parts of {table!r} that are not in {self.root}: {parts}")
            table_schema = pq.read_schema(parts[0])
            if any(not pq.read_schema(p).equals(table_schema) for p in parts[1:]):
                return None  # parts of older layouts: left as they are
            commit = self.begin_commit(folder)
            # Named after the first part, so the merged part keeps its place in name order.
            stem = parts[0].stem.split("-merged-")[0]
            target = commit.new_path(table, f"{stem}-merged-{uuid.uuid4().hex[:8]}")
            rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
            with pq.ParquetWriter(target, table_schema, compression="zstd") as writer:
                for part in parts:  # a row group at a time: memory stays that of one row group
                    source = pq.ParquetFile(part)
                    for k in range(source.num_row_groups):
                        writer.write_table(source.read_row_group(k))
            merged = pq.ParquetFile(target).metadata.num_rows
            if merged != rows:  # counted from the inputs' footers and the output's, apart
                raise CaseError(
                    f"merging {len(parts)} parts of {table!r} wrote {merged:,} rows, not {rows:,}"
                )
            crash_point("merge:written")
            commit.add(table, [target])
            commit.remove(parts)
            commit.publish()
        self._refresh_views()
        return self.table_dir(table) / target.name

    # -- locking, runs and recovery ------------------------------------------------
    @contextlib.contextmanager
    def locked(self, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the case lock (``DIR/.lock``): writers of ``tables/`` and recovery take it.

        Re-entrant within a process. With ``blocking=False`` it yields False if another process
        holds it.
        """
        lock = _lock_for(self.root / LOCK)
        held = lock.acquire(blocking)
        try:
            yield held
        finally:
            if held:
                lock.release()

    @contextlib.contextmanager
    def run_folder(self) -> Iterator[Path]:
        """A private staging folder for one run, ``.staging/<id>``, on the case's filesystem.

        Stale staging of dead runs is recovered first. The folder is locked while the run lives
        and removed when it ends; a commit an error interrupted mid-publish is finished first.
        """
        with self.locked():
            self.recover()
            folder = self.root / STAGING / uuid.uuid4().hex[:12]
            folder.mkdir(parents=True)
            fd = os.open(folder / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            try:
                if (folder / "commit" / MANIFEST).exists():
                    with self.locked():
                        _roll_forward(self.root, folder)
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                os.close(fd)
                with contextlib.suppress(OSError):
                    (self.root / STAGING).rmdir()

    def begin_commit(self, folder: Path) -> PartsCommit:
        """Parts for several tables, published together by ``PartsCommit.publish`` (hold ``locked``)."""
        (folder / "commit").mkdir(parents=True, exist_ok=True)
        return PartsCommit(self, folder / "commit")

    def recover(self) -> list[str]:
        """Finish or remove what dead runs left (call with the case lock held); returns what it did."""
        done: list[str] = []
        staging = self.root / STAGING
        if staging.is_dir():
            for folder in sorted(staging.iterdir()):
                if not folder.is_dir():
                    folder.unlink(missing_ok=True)
                    continue
                if _run_is_live(folder):
                    continue
                if (folder / "commit" / MANIFEST).exists():
                    _roll_forward(self.root, folder)
                    done.append(f"rolled forward {folder.name}")
                shutil.rmtree(folder, ignore_errors=True)
                done.append(f"removed {folder.relative_to(self.root)}")
            with contextlib.suppress(OSError):
                staging.rmdir()
        tables = self.root / "tables"
        for tmp in [*tables.glob("*/.*.tmp"), *self.root.glob(".case.json.*.tmp")]:
            tmp.unlink(missing_ok=True)
            done.append(f"removed {tmp.relative_to(self.root)}")
        return done

    # -- reading -------------------------------------------------------------------
    def scan(self, table: str) -> pl.LazyFrame:
        """A polars LazyFrame over ``table``; an empty frame of the right schema if absent."""
        if not self.has_table(table):
            known = schema.table_schema(table)
            if known is None:
                raise CaseError(f"case {self.root} has no table {table!r}")
            return pl.LazyFrame(pl.from_arrow(known.empty_table()))
        # The listed files, not a pattern: a case at work/g[1] must not read work/g1.
        return pl.scan_parquet(self.parts(table), glob=False, hive_partitioning=False)

    def read(self, table: str) -> pl.DataFrame:
        return self.scan(table).collect()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The case's DuckDB connection, with a view per table (``posts``, ``accounts``, …)."""
        if self._con is None:
            _check_database_path(self.root)
            # The case's own connection has always kept DuckDB's time zone (the machine's).
            self._con = duck.connect(self.db_path, timezone=None)
            self._refresh_views()
        elif self._views != self._listing():  # parts added since (views name their files)
            self._refresh_views()
        return self._con

    def sql(self, query: str, params: Iterable[object] | None = None) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query, params=params)

    def _listing(self) -> dict[str, list[Path]]:
        tables_root = self.root / "tables"
        names = set(schema.TABLES) | {p.name for p in tables_root.iterdir() if p.is_dir()}
        return {table: self.parts(table) for table in sorted(names)}

    def _refresh_views(self) -> None:
        """(Re)create a view per table, unless the database already holds these very views.

        Creating a view over Parquet reads every part's footer (a tenth of a second on a small
        case), and the server connects for every request, so the views' stamp is kept in the
        database, written in the same transaction as the views: equal stamps, equal views.
        """
        if self._con is None:
            return
        listing = self._listing()
        statements = _view_statements(listing)
        # A view names its files and reads them when queried (``SELECT *`` is bound anew), so the
        # statements alone say whether the views are current.
        stamp = hashlib.sha256("\n".join(statements).encode()).hexdigest()
        con = self._con
        if _stored_stamp(con) != stamp:
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    con.execute(statement)
                con.execute(f"CREATE OR REPLACE TABLE {VIEWS_STAMP} AS SELECT ? AS stamp", [stamp])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._views = listing

    def scalar(self, query: str, params: Iterable[object] | None = None) -> object:
        """The single value ``query`` returns."""
        return self.con.execute(query, params).fetchall()[0][0]

    def summary(self) -> dict[str, int]:
        """Row counts of the core tables and of current accounts."""
        tables = ("posts", "accounts", "accounts_current", "account_labels", "quarantine")
        return {t: int(cast(int, self.scalar(f'SELECT count(*) FROM "{t}"'))) for t in tables}


VIEWS_STAMP = "cibwatch_views_stamp"  # one row: the stamp of the views the database holds


def _view_statements(listing: dict[str, list[Path]]) -> list[str]:
    statements = []
    for table, parts in listing.items():
        if parts:
            source = sql.read_parquet(parts, union_by_name=True)
        elif table in schema.TABLES:
            source = _empty_select(schema.TABLES[table])
        else:
            continue
        statements.append(f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM {source}')
    # The latest snapshot of each account: a real profile before an authorship-only row.
    statements.append(
        """CREATE OR REPLACE VIEW accounts_current AS
           SELECT * FROM accounts
           QUALIFY row_number() OVER (
               PARTITION BY platform, account_id
               ORDER BY probed_at DESC NULLS LAST, ingested_at DESC, snapshot_id) = 1"""
    )
    return statements


def _stored_stamp(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(f"SELECT stamp FROM {VIEWS_STAMP}").fetchall()  # fetchone leaves it open
    except duckdb.CatalogException:
        return None
    return str(rows[0][0]) if rows else None


class PartsCommit:
    """One run's new parts, written inside its folder and published together (see the module doc).

    >>> commit = case.begin_commit(folder)                # doctest: +SKIP
    >>> path = commit.new_path("posts", "part-run1-0")    # doctest: +SKIP
    >>> commit.add("posts", [path])  # once written         # doctest: +SKIP
    >>> commit.publish()                                  # doctest: +SKIP
    """

    def __init__(self, case: Case, folder: Path) -> None:
        self.case = case
        self.folder = folder
        self.pending: dict[str, list[Path]] = {}
        self.removals: list[Path] = []

    def new_path(self, table: str, name: str) -> Path:
        """Where to write a new part of ``table`` (not visible to readers until published)."""
        target = self.folder / table
        target.mkdir(parents=True, exist_ok=True)
        return target / f"{name}.parquet"

    def add(self, table: str, paths: Iterable[Path]) -> None:
        self.pending.setdefault(table, []).extend(paths)

    def remove(self, parts: Iterable[Path]) -> None:
        """Committed parts to delete once the new ones are in place (a merge's inputs)."""
        self.removals.extend(parts)

    def parts(self, table: str) -> list[Path]:
        """``table`` as it will be once published: its committed parts and this run's new ones."""
        return self.case.parts(table) + self.pending.get(table, [])

    def publish(self) -> None:
        """Sync the new parts, record them in the manifest, rename them into place, drop the manifest."""
        order = sorted(self.pending, key=lambda t: (t in _PUBLISH_LAST, t))
        moves = [(src, self.case.table_dir(t) / src.name) for t in order for src in self.pending[t]]
        if not moves:
            return
        for src, _ in moves:
            _fsync(src)
        crash_point("written")
        root = self.case.root
        renames = [[str(s.relative_to(root)), str(d.relative_to(root))] for s, d in moves]
        removes = [str(p.relative_to(root)) for p in self.removals]
        write_atomic(self.folder / MANIFEST, json.dumps({"moves": renames, "removes": removes}) + "\n")
        crash_point("manifest")
        _apply_moves(self.case.root, renames, "publish")
        _apply_removes(self.case.root, removes, "publish:removes")
        crash_point("published")
        (self.folder / MANIFEST).unlink()
        self.pending.clear()
        self.removals.clear()


def crash_point(step: str) -> None:
    """Test hook: with ``CIBWATCH_CRASH_AT=<step>`` set, the process SIGKILLs itself at ``step``."""
    if step and os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _roll_forward(root: Path, folder: Path) -> None:
    """Do the renames a dead (or interrupted) run's manifest lists and that are not done yet."""
    manifest = folder / "commit" / MANIFEST
    try:
        recorded = json.loads(manifest.read_text())
        moves, removes = recorded["moves"], recorded.get("removes", [])
    except (ValueError, KeyError) as exc:  # written atomically: this is not a crash's doing
        raise CaseError(
            f"{manifest} is damaged ({exc}); move that folder away and re-run the ingest to restore its rows"
        ) from None
    _apply_moves(root, moves, "recover")
    _apply_removes(root, removes, "recover:removes")
    manifest.unlink()


def _apply_moves(root: Path, moves: list[list[str]], step: str) -> None:
    folders = set()
    for k, (src, dst) in enumerate(moves):
        source, target = root / src, root / dst
        if source.exists():  # else renamed before the crash
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
            folders.add(target.parent)
        if k == 0:
            crash_point(step)
    for folder in folders:
        _fsync(folder)


def _apply_removes(root: Path, removes: list[str], step: str) -> None:
    folders = set()
    for k, name in enumerate(removes):
        (root / name).unlink(missing_ok=True)  # else removed before the crash
        folders.add((root / name).parent)
        if k == 0:
            crash_point(step)
    for folder in folders:
        _fsync(folder)


def _run_is_live(folder: Path) -> bool:
    """Whether a live process holds ``folder``'s run lock."""
    try:
        fd = os.open(folder / RUN_LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False  # folders are made and locked under the case lock: this one's run died
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class _FileLock:
    """An exclusive ``flock`` on one file, re-entrant within the process (threads wait their turn)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd = -1

    def acquire(self, blocking: bool) -> bool:
        if not self._thread_lock.acquire(blocking):
            return False
        if self._depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                self._thread_lock.release()
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BaseException:
                os.close(fd)
                self._thread_lock.release()
                if blocking:
                    raise
                return False
            self._fd = fd
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1
        self._thread_lock.release()


_file_locks: dict[str, _FileLock] = {}
_file_locks_guard = threading.Lock()


def _lock_for(path: Path) -> _FileLock:
    key = os.path.realpath(path)
    with _file_locks_guard:
        lock = _file_locks.get(key)
        if lock is None:
            lock = _file_locks[key] = _FileLock(Path(key))
        return lock


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (temporary name, sync, rename, sync folder)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _check_database_path(root: Path) -> None:
    """DuckDB cuts a database path at '?' (URL parameters, for its WAL) and at '\\' (a separator):
    a case there could not keep its database file."""
    real = os.path.realpath(root)
    if "?" in real or "\\" in real:
        raise CaseError(
            f"cibwatch cannot keep a case at {real}: DuckDB, which holds the case's database, misreads "
            "paths with '?' or '\\'; choose a folder whose path has neither"
        )


def _is_marker_tmp(path: Path) -> bool:
    return path.name.startswith(".case.json.") and path.name.endswith(".tmp")


def _empty_select(table_schema: pa.Schema) -> str:
    cols = ", ".join(f'CAST(NULL AS {duck.DUCKDB_TYPES[f.type]}) AS "{f.name}"' for f in table_schema)
    return f"(SELECT {cols} WHERE false)"


def open_case(root: str | Path) -> Case:
    """Open an existing case directory.

    >>> case = open_case("out/case")                      # doctest: +SKIP
    >>> case.scan("posts").filter(pl.col("kind") == "repost").collect()  # doctest: +SKIP
    """
    return Case.open(root)
