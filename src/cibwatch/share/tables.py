"""A pseudonymized copy of a case's tables, for the output writers to run on unchanged.

Every column of every table has a rule (``COLUMNS``); a string or list column without one is
emptied, so a column added later is withheld until someone decides what it may show. Numbers,
times and booleans are kept (counts and times are what coordination is made of).

Flagged accounts (tier in ``cibwatch.schema.FLAGGED_TIERS``, read through ``cibwatch.views``) keep
their names, bios and post texts, scrubbed of other people's handles and of every id. Unflagged
accounts lose them. Every account and post id, flagged or not, becomes a keyed pseudonym.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import polars as pl

from cibwatch import views
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.review import log as review_log
from cibwatch.review import signing
from cibwatch.schema import FLAGGED_TIERS, STAGE_TABLES, TABLES
from cibwatch.share.pseudonyms import Pseudonyms, check_distinct
from cibwatch.share.scrub import Scrubber
from cibwatch.store.case import Case

REMOVED = "[removed]"
# Review log fields rewritten in a pseudonymized copy; the others are closed vocabularies, seqs,
# times, versions and hashes.
REVIEW_PSEUDONYMIZED = ("account_id", "actor", "reason")


class Rule(StrEnum):
    KEEP = "keep"  # a closed vocabulary (kind, trace, tier…) or a number
    ACCOUNT = "account"  # an account id → acct-…
    POST = "post"  # a post id → post-…
    PROFILE = "profile"  # the row's account's own name or bio: kept (scrubbed) if flagged, else null
    TEXT = "text"  # a post's text: kept (scrubbed) if its author is flagged, else null
    URLS = "urls"  # a post's links: kept (scrubbed) if its author is flagged, else null
    SCRUB = "scrub"  # text made by cibwatch that may quote ids, handles or items (reasons, summaries)
    DROP = "drop"  # withheld: null, or "[removed]" where a value was
    HASH = "hash"  # a value one could check a guess against (a snapshot hash) → item-…
    HASHES = "hashes"  # a list of such values (media hashes)
    HANDLES = "handles"  # a list of mentioned handles
    ITEM = "item"  # a co-acted item: by its trace (see ``Scrubbed.item``)
    PATTERNS = "patterns"  # "; "-separated shared profile patterns
    DETAILS = "details"  # a campaign's JSON record
    LINKS = "links"  # "; "-separated links: those a flagged account posted, scrubbed
    DOMAINS = "domains"  # "; "-separated web sites: those a flagged account linked to


_PROVENANCE = {"dataset": Rule.SCRUB, "reader": Rule.KEEP, "source_file": Rule.DROP}
COLUMNS: dict[str, dict[str, Rule]] = {
    "posts": {
        "post_id": Rule.POST, "account_id": Rule.ACCOUNT, "kind": Rule.KEEP, "ref_post_id": Rule.POST,
        "ref_account_id": Rule.ACCOUNT, "text": Rule.TEXT, "lang": Rule.KEEP, "source_app": Rule.SCRUB,
        "hashtags": Rule.KEEP, "urls": Rule.URLS, "mentions": Rule.HANDLES, "media_hashes": Rule.HASHES,
        "platform": Rule.KEEP, **_PROVENANCE,
    },
    "accounts": {
        "account_id": Rule.ACCOUNT, "platform": Rule.KEEP, "screen_name": Rule.PROFILE,
        "name": Rule.PROFILE, "description": Rule.PROFILE, "location": Rule.PROFILE, "url": Rule.PROFILE,
        "lang": Rule.KEEP, "snapshot_id": Rule.HASH, "raw": Rule.DROP, **_PROVENANCE,
    },
    "account_labels": {
        "account_id": Rule.ACCOUNT, "platform": Rule.KEEP, "label": Rule.KEEP, "label_detail": Rule.SCRUB,
        **_PROVENANCE,
    },
    "quarantine": {
        "source_file": Rule.DROP, "reader": Rule.KEEP, "reason": Rule.DROP, "raw": Rule.DROP,
        "dataset": Rule.SCRUB,
    },
    "bot_scores": {
        "account_id": Rule.ACCOUNT, "platform": Rule.KEEP, "screen_name": Rule.PROFILE,
        "dataset": Rule.SCRUB, "bot_label": Rule.KEEP, "bot_type": Rule.KEEP, "top_reasons": Rule.SCRUB,
        "head": Rule.KEEP, "model_version": Rule.KEEP, "input_flags": Rule.SCRUB,
    },
    "coord_edges": {"account_a": Rule.ACCOUNT, "account_b": Rule.ACCOUNT, "trace": Rule.KEEP},
    "coord_evidence": {
        "account_a": Rule.ACCOUNT, "account_b": Rule.ACCOUNT, "trace": Rule.KEEP, "item": Rule.ITEM,
        "post_id_a": Rule.POST, "post_id_b": Rule.POST,
    },
    "coord_accounts": {
        "account_id": Rule.ACCOUNT, "screen_name": Rule.PROFILE, "cluster_id": Rule.KEEP,
        "traces": Rule.KEEP, "top_evidence": Rule.SCRUB, "status": Rule.KEEP, "reason": Rule.SCRUB,
        "trace_overlap": Rule.KEEP,
    },
    "coord_clusters": {"cluster_id": Rule.KEEP, "traces": Rule.KEEP, "top_items": Rule.SCRUB},
    "campaigns": {
        "campaign_id": Rule.KEEP, "cluster_id": Rule.KEEP, "traces": Rule.KEEP,
        "trace_families": Rule.KEEP, "top_hashtags": Rule.KEEP, "top_domains": Rule.DOMAINS,
        "top_urls": Rule.LINKS, "suspicion_components": Rule.KEEP, "summary": Rule.SCRUB,
        "details": Rule.DETAILS, "policy_version": Rule.KEEP,
    },
    "campaign_members": {
        "campaign_id": Rule.KEEP, "account_id": Rule.ACCOUNT, "screen_name": Rule.PROFILE,
        "role": Rule.KEEP, "traces": Rule.KEEP, "profile_patterns": Rule.PATTERNS,
    },
    "recommendations": {
        "account_id": Rule.ACCOUNT, "screen_name": Rule.PROFILE, "campaign_id": Rule.KEEP,
        "tier": Rule.KEEP, "lines": Rule.KEEP, "rests_on": Rule.SCRUB, "reasons": Rule.SCRUB,
        "policy_version": Rule.KEEP, "model_version": Rule.KEEP,
    },
}  # fmt: skip
# Co-acted items by trace: the same post (→ post-…), a text or media hash one could check a guess
# against (→ item-…), a handle, a link; hashtags and time bins stay.
POST_TRACES = frozenset({"repost", "quote", "reply"})
HASHED_TRACES = frozenset({"text", "near_text", "media"})
KEPT_TRACES = frozenset({"hashtag", "hashtag_set", "domain", "sync"})


@dataclass
class ShareCounts:
    """What the copy changed, for the export's README."""

    accounts: int = 0
    flagged: int = 0
    posts: int = 0
    texts_kept: int = 0
    texts_removed: int = 0
    profiles_removed: int = 0
    review_entries: int = 0
    tables: dict[str, int] = field(default_factory=dict)


@dataclass
class Scrubbed:
    """Everything the rules need: the scrubber and who is flagged."""

    scrubber: Scrubber
    flagged: set[str]
    flagged_texts: set[str]
    flagged_urls: set[str]
    flagged_domains: set[str]
    kept_patterns: set[str]
    items: dict[tuple[str, str], str] = field(default_factory=dict)  # (trace, item) → shown
    account_map: dict[str, str] = field(default_factory=dict)
    post_map: dict[str, str] = field(default_factory=dict)

    def item(self, trace: str, item: str, flagged_pair: bool) -> str:
        """A co-acted item as the export shows it; ``flagged_pair``: a flagged account posted it."""
        s = self.scrubber
        if trace in POST_TRACES:
            return s.post(item)
        if trace in HASHED_TRACES:
            return s.pseudonyms.item(item)
        if trace == "mention":
            return s.handle(item)
        if trace in KEPT_TRACES:
            return item
        if trace == "url" and not flagged_pair:  # a link only unflagged accounts shared
            return s.pseudonyms.item(item)
        return s.text(item)

    def pattern(self, pattern: str) -> str:
        """A shared profile pattern: kept if a flagged account carries it, else only its kind."""
        if pattern in self.kept_patterns:
            return self.scrubber.text(pattern)
        kind = pattern.split(":", 1)[0] if ":" in pattern else "pattern"
        return f"{kind}:{REMOVED}"

    def details(self, text: str) -> str:
        """A campaign's JSON record: texts and links only flagged accounts posted, patterns filtered."""
        try:
            record = json.loads(text)
        except ValueError:
            return REMOVED
        if not isinstance(record, dict):
            return REMOVED
        narratives = record.get("narratives")
        if isinstance(narratives, dict):
            kept = {"texts": self.flagged_texts, "urls": self.flagged_urls, "domains": self.flagged_domains}
            for key, test in kept.items():
                entries = narratives.get(key)
                if isinstance(entries, list):
                    field_name = key[:-1]
                    narratives[key] = [
                        e for e in entries if isinstance(e, dict) and e.get(field_name) in test
                    ]
        profile = record.get("profile")
        if isinstance(profile, dict) and isinstance(profile.get("patterns"), dict):
            merged: dict[str, list[Any]] = {}
            for pattern, members in profile["patterns"].items():
                shown = merged.setdefault(self.pattern(pattern), [])
                shown.extend(m for m in (members if isinstance(members, list) else []) if m not in shown)
            profile["patterns"] = merged
        return json.dumps(_walk(record, self.scrubber.text), ensure_ascii=False)

    def links(self, value: str, flagged: set[str]) -> str:
        """The "; "-separated links or sites a flagged account posted, scrubbed."""
        kept = [u for u in value.split("; ") if u in flagged]
        return self.scrubber.text("; ".join(kept)) if kept else ""


def _walk(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): _walk(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, scrub) for v in value]
    return value


def flagged_accounts(case: Case) -> set[str]:
    """Accounts whose recommendation tier is in ``FLAGGED_TIERS`` (``cibwatch.views.account_rows``)."""
    rows = views.account_rows(case)
    return set(rows.filter(pl.col("tier").is_in(FLAGGED_TIERS))["account_id"].to_list())


def pseudonymize_case(
    source: Case, target: Case, pseudonyms: Pseudonyms, *, progress: Progress | None = None
) -> ShareCounts:
    """Write every table of ``source`` into ``target`` under ``COLUMNS``' rules.

    >>> pseudonymize_case(open_case("out/case"), Case.create("tmp/case"), Pseudonyms(key))  # doctest: +SKIP
    """
    work = _prepare(source, pseudonyms)
    tables = [t for t in (*TABLES, *STAGE_TABLES) if source.has_table(t)]
    units = [(t, part) for t in tables for part in source.parts(t)]
    counts = ShareCounts(flagged=len(work.flagged))
    for done, (table, part) in enumerate(units):
        if progress is not None:
            progress(ProgressEvent("export", "pseudonymize", done, len(units), unit="parts"))
        frame = pl.read_parquet(part)
        out = pseudonymize_frame(table, frame, work, counts)
        target.write_part(table, out, part.stem)
        counts.tables[table] = counts.tables.get(table, 0) + out.height
    if progress is not None:
        progress(ProgressEvent("export", "pseudonymize", len(units), len(units), unit="parts"))
    counts.review_entries = pseudonymize_review(source, target, work.scrubber)
    check_distinct(work.account_map, "accounts")
    check_distinct(work.post_map, "posts")
    counts.accounts = len(work.account_map)
    counts.posts = len(work.post_map)
    return counts


def pseudonymize_review(source: Case, target: Case, scrubber: Scrubber) -> int:
    """Copy the review log into ``target`` with ``REVIEW_PSEUDONYMIZED`` scrubbed; return its entries.

    Hashes and signatures stay as signed: they commit to the original entries, so a recipient can
    check order, count and signatures but not recompute a hash from the shown fields. Evidence
    snapshots are not copied: they hold partners' posts and profiles, which these rules would
    have to remove field by field. The log's public key and checkpoint go along (no secret).
    """
    for name in (signing.PUBLIC_KEY_FILE, signing.CHECKPOINT_FILE):
        if (source.root / name).exists():
            shutil.copyfile(source.root / name, target.root / name)
    rows = review_log.entries(source)
    if not rows:
        return 0
    review_log.ensure_tables(target)
    columns = [*review_log.LOG_COLUMNS, "entry_hash", "signature"]
    values = []

    def scrubbed(name: str, value: str | None) -> str | None:
        if value is None:
            return None
        return scrubber.account(value) if name == "account_id" else scrubber.text(value)

    for row in rows:
        shown = row | {name: scrubbed(name, row[name]) for name in REVIEW_PSEUDONYMIZED}
        values.append([shown.get(c) for c in columns])
    target.con.executemany(
        f"INSERT INTO review_log ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", values
    )
    return len(rows)


def _prepare(case: Case, pseudonyms: Pseudonyms) -> Scrubbed:
    flagged = flagged_accounts(case)
    account_cols = [(t, c) for t, cols in COLUMNS.items() for c, r in cols.items() if r is Rule.ACCOUNT]
    post_cols = [(t, c) for t, cols in COLUMNS.items() for c, r in cols.items() if r is Rule.POST]
    account_ids = _values(case, account_cols)
    post_ids = _values(case, post_cols)
    evidence = case.scan("coord_evidence").select("trace", "item", "account_a", "account_b")
    reposted = evidence.filter(pl.col("trace").is_in(sorted(POST_TRACES))).select("item").drop_nulls()
    post_ids |= set(reposted.collect()["item"].to_list())
    # Every handle the case knows, lower-cased, to its account (a handle reused: the first id).
    named = pl.concat(
        [
            case.scan(t).select("account_id", "screen_name")
            for t in ("accounts", "bot_scores", "coord_accounts", "campaign_members", "recommendations")
        ]
    ).drop_nulls()
    names = named.with_columns(pl.col("screen_name").str.to_lowercase()).unique().sort("account_id").collect()
    handles: dict[str, str] = {}
    for account_id, handle in names.iter_rows():
        handles.setdefault(handle, account_id)
    flagged_handles = {h for h, a in names.iter_rows() if a in flagged}
    scrubber = Scrubber(
        pseudonyms,
        account_ids=account_ids,
        post_ids=post_ids,
        handles=handles,
        flagged_handles=flagged_handles,
    )
    flagged_posts = case.scan("posts").filter(pl.col("account_id").is_in(list(flagged)))
    flagged_texts = set(flagged_posts.select("text").drop_nulls().collect()["text"].to_list())
    flagged_urls = set(
        flagged_posts.select(pl.col("urls").explode()).drop_nulls().collect()["urls"].to_list()
    )
    work = Scrubbed(
        scrubber=scrubber,
        flagged=flagged,
        flagged_texts=flagged_texts,
        flagged_urls=flagged_urls,
        flagged_domains={d for d in map(host, flagged_urls) if d},
        kept_patterns=_kept_patterns(case, flagged),
    )
    # Items that change, so text quoting them (top_evidence, top_items) changes the same way.
    pairs = (
        evidence.with_columns(
            flagged=pl.col("account_a").is_in(list(flagged)) | pl.col("account_b").is_in(list(flagged))
        )
        .group_by("trace", "item")
        .agg(pl.col("flagged").any())
        .drop_nulls("item")
        .collect()
    )
    for trace, item, flagged_pair in pairs.iter_rows():
        shown = work.items[(trace, item)] = work.item(trace, item, flagged_pair)
        if shown != item:
            scrubber.items[item] = shown
    return work


def host(url: str) -> str | None:
    """The web site of a link as the campaigns stage names it (lower case, no ``www.``).

    >>> host("https://www.BBC.co.uk/news/1")
    'bbc.co.uk'
    """
    match = _HOST.match(url.lower())
    return match.group(1) if match else None


_HOST = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://)?(?:www\.)?([^/:?#]+)")


def _values(case: Case, columns: list[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    for table, column in columns:
        if case.has_table(table):
            found |= set(case.scan(table).select(column).unique().drop_nulls().collect()[column].to_list())
    return found


def _kept_patterns(case: Case, flagged: set[str]) -> set[str]:
    """Profile patterns a flagged account carries (from the campaigns' ``details``)."""
    kept: set[str] = set()
    for text in case.scan("campaigns").select("details").drop_nulls().collect()["details"]:
        try:
            patterns = json.loads(text).get("profile", {}).get("patterns", {})
        except (ValueError, AttributeError):
            continue
        if isinstance(patterns, dict):
            kept |= {
                p for p, members in patterns.items() if isinstance(members, list) and flagged & set(members)
            }
    return kept


def pseudonymize_frame(table: str, frame: pl.DataFrame, work: Scrubbed, counts: ShareCounts) -> pl.DataFrame:
    """One part of ``table`` under ``COLUMNS[table]``; string and list columns without a rule are emptied."""
    rules = COLUMNS.get(table, {})
    s = work.scrubber
    flagged_row = frame["account_id"].is_in(list(work.flagged)) if "account_id" in frame.columns else None
    columns: list[pl.Series] = []
    for name, dtype in frame.schema.items():
        column = frame[name]
        textual = dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.List)
        rule = rules.get(name, Rule.DROP if textual else Rule.KEEP)
        if rule is Rule.KEEP:
            columns.append(column)
        elif rule is Rule.ACCOUNT:
            columns.append(_mapped(column, s.account, work.account_map))
        elif rule is Rule.POST:
            columns.append(_mapped(column, s.post, work.post_map))
        elif rule in (Rule.PROFILE, Rule.TEXT, Rule.URLS):
            assert flagged_row is not None, f"{table}.{name} needs the row's account_id"
            kept = column.zip_with(flagged_row, pl.Series([None] * frame.height, dtype=column.dtype))
            if rule is Rule.URLS:
                columns.append(_mapped_list(kept, s.text))
            else:
                columns.append(_mapped(kept, s.text))
            removed = int((column.is_not_null() & ~flagged_row).sum())
            if rule is Rule.TEXT:
                counts.texts_kept += int((column.is_not_null() & flagged_row).sum())
                counts.texts_removed += removed
            elif rule is Rule.PROFILE:
                counts.profiles_removed += removed
        elif rule is Rule.SCRUB:
            columns.append(_mapped(column, s.text))
        elif rule is Rule.HASH:
            columns.append(_mapped(column, s.pseudonyms.item))
        elif rule is Rule.HASHES:
            columns.append(_mapped_list(column, s.pseudonyms.item))
        elif rule is Rule.HANDLES:
            columns.append(_mapped_list(column, s.handle))
        elif rule is Rule.ITEM:
            columns.append(_items(frame, work))
        elif rule is Rule.PATTERNS:
            columns.append(_mapped(column, lambda v: s.text("; ".join(map(work.pattern, v.split("; "))))))
        elif rule is Rule.DETAILS:
            columns.append(_mapped(column, work.details))
        elif rule is Rule.LINKS:
            columns.append(_mapped(column, lambda v: work.links(v, work.flagged_urls)))
        elif rule is Rule.DOMAINS:
            columns.append(_mapped(column, lambda v: work.links(v, work.flagged_domains)))
        else:  # DROP
            columns.append(_dropped(column))
    return pl.DataFrame(columns)


def _mapped(column: pl.Series, fn: Callable[[str], str], seen: dict[str, str] | None = None) -> pl.Series:
    """``fn`` of each distinct value (nulls stay null)."""
    mapping = {v: fn(v) for v in column.drop_nulls().unique().to_list()}
    if seen is not None:
        seen.update(mapping)
    return column.replace_strict(mapping, default=None, return_dtype=pl.String).alias(column.name)


def _mapped_list(column: pl.Series, fn: Callable[[str], str]) -> pl.Series:
    values = column.explode().drop_nulls().unique().to_list()
    mapping = {v: fn(v) for v in values}
    return column.list.eval(pl.element().replace_strict(mapping, default=None, return_dtype=pl.String)).alias(
        column.name
    )


def _dropped(column: pl.Series) -> pl.Series:
    if isinstance(column.dtype, pl.List):
        return pl.Series(column.name, [None] * len(column), dtype=column.dtype)
    return (
        column.is_null()
        .not_()
        .replace_strict({True: REMOVED, False: None}, return_dtype=pl.String)
        .alias(column.name)
    )


def _items(frame: pl.DataFrame, work: Scrubbed) -> pl.Series:
    """Each evidence row's item as ``_prepare`` decided for its (trace, item)."""
    shown = [
        None if item is None else work.items[(trace, item)]
        for trace, item in zip(frame["trace"].to_list(), frame["item"].to_list(), strict=True)
    ]
    return pl.Series("item", shown, dtype=pl.String)
