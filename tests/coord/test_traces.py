"""Every trace finds a planted group acting together, and nothing else, in random background activity."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from cibwatch import schema
from cibwatch.coord import detect, traces
from cibwatch.coord.urls import normalized_url_sql, url_host_sql
from tests.campaigns.corpus import table
from tests.coord.corpus import make_case, post

PLANTED = ["zz_p0", "zz_p1", "zz_p2", "zz_p3"]


# How one post acts on item k, for account number j (spelling varies by account on purpose).
def _repost(k: int, j: int) -> dict:
    return {"kind": "repost", "ref_post_id": f"item{k}"}


def _quote(k: int, j: int) -> dict:
    return {"kind": "quote", "ref_post_id": f"item{k}"}


def _reply(k: int, j: int) -> dict:
    return {"kind": "reply", "ref_post_id": f"item{k}"}


def _url(k: int, j: int) -> dict:
    spellings = [
        f"http://www.Site{k}.com/news/a?utm_source=x&id=7",
        f"https://site{k}.com/news/a/?id=7&fbclid=abc",
        f"HTTPS://SITE{k}.COM/news/a?id=7#comments",
        f"site{k}.com/news/a?utm_medium=y&id=7",
    ]
    return {"urls": [spellings[j % 4]]}


def _domain(k: int, j: int) -> dict:
    return {"urls": [f"https://www.outlet{k}.com/story/{j}"]}


def _hashtag(k: int, j: int) -> dict:
    return {"hashtags": [["Tag", "TAG", "tag", "tAg"][j % 4] + str(k)]}


def _hashtag_set(k: int, j: int) -> dict:
    tags = [f"a{k}", f"B{k}", f"c{k}"]
    return {"hashtags": tags[j % 3 :] + tags[: j % 3]}


def _mention(k: int, j: int) -> dict:
    return {"mentions": [f"Target{k}"]}


def _text(k: int, j: int) -> dict:
    variants = [
        f"The same campaign message number {k} for all",
        f"the SAME campaign message number {k}   for all https://t.co/x{j}",
        f"@friend{j} The same campaign message number {k} for all",
        f"RT: the same campaign message number {k} for all",
    ]
    return {"text": variants[j % 4]}


_WORDS = "state vote fraud media truth people city police money border news rally leader secret plan".split()


def _near_text(k: int, j: int) -> dict:
    # A distinct sentence per item; each account edits it a little.
    words = list(np.random.default_rng(k).choice(_WORDS, 10))
    endings = ["!", ".", " now!!", " share"]
    return {"text": " ".join(words) + endings[j % 4]}


def _media(k: int, j: int) -> dict:
    return {"media_hashes": [f"phash{k}"]}


def _sync(k: int, j: int) -> dict:
    return {}


SHAPES: dict[str, Callable[[int, int], dict]] = {
    "repost": _repost,
    "quote": _quote,
    "reply": _reply,
    "url": _url,
    "domain": _domain,
    "hashtag": _hashtag,
    "hashtag_set": _hashtag_set,
    "mention": _mention,
    "text": _text,
    "near_text": _near_text,
    "media": _media,
    "sync": _sync,
    "sync_bare": _sync,  # posts without content: every sync test post qualifies
}


def test_every_registered_trace_has_a_known_answer_test() -> None:
    assert set(SHAPES) == set(traces())


def _background(shape: Callable[[int, int], dict], rng: np.random.Generator) -> list[dict]:
    """60 accounts acting independently on 150 items of the same kind over a day."""
    posts = []
    for a in range(60):
        for _ in range(15):
            fields = shape(1000 + int(rng.integers(0, 150)), int(rng.integers(0, 4)))
            if "text" in fields:  # independent texts must not be near-duplicates of each other
                fields["text"] = (
                    f"{fields['text']} {rng.integers(0, 10**9)} {' '.join(rng.choice(list('abcdefgh'), 6))}"
                )
            posts.append(post(f"bg{a:03d}", float(rng.integers(0, 86_400)), **fields))
    return posts


@pytest.mark.parametrize("trace", sorted(SHAPES))
def test_trace_finds_the_planted_group_and_only_it(tmp_path: Path, trace: str) -> None:
    rng = np.random.default_rng(7)
    shape = SHAPES[trace]
    posts = _background(shape, rng)
    for k in range(5):
        for j, account in enumerate(PLANTED):
            # Out of order on purpose: later accounts' posts are listed first.
            posts.insert(0, post(account, 10_000 * k + 3 * j + 0.5, **shape(k, j)))
    case = make_case(tmp_path / "case", posts)
    result = detect(case, traces=[trace], window=60, sync_bin=10)
    edges = result.edges.filter(pl.col("trace") == trace)
    found = set(zip(edges["account_a"], edges["account_b"], strict=True))
    assert found == set(combinations(PLANTED, 2))
    assert (edges["n_shared"] >= 5).all()
    # Every flagged edge has evidence a person can check: both posts, both times, the gap.
    evidence = result.evidence.filter(pl.col("trace") == trace)
    for a, b in found:
        rows = evidence.filter((pl.col("account_a") == a) & (pl.col("account_b") == b))
        assert rows.height == 5
        assert rows["post_id_a"].null_count() == 0 and rows["post_id_b"].null_count() == 0
        assert ((rows["time_b"] - rows["time_a"]).dt.total_milliseconds().abs() / 1000 == rows["gap_s"]).all()
        assert (rows["gap_s"] <= 60).all()
    assert set(result.accounts["account_id"]) == set(PLANTED)
    assert result.clusters.height == 1 and result.clusters["size"][0] == 4


def test_url_normalization() -> None:
    con = duckdb.connect()

    def norm(url: str) -> tuple[str, str]:
        row = con.execute(f"SELECT {normalized_url_sql('$1')}, {url_host_sql('$1')}", [url]).fetchall()
        return row[0]

    assert norm("HTTP://www.Example.com/a/?utm_source=x&id=3#top") == ("example.com/a?id=3", "example.com")
    assert norm("https://example.com:443/a?fbclid=1&gclid=2") == ("example.com/a", "example.com")
    assert norm("example.com") == ("example.com", "example.com")
    # The path is kept as written: paths can be case-sensitive.
    assert norm("https://example.com/Watch?v=AbC") == ("example.com/Watch?v=AbC", "example.com")
    assert norm("http://example.com:8080/x") == ("example.com:8080/x", "example.com:8080")


def test_near_duplicate_groups_join_variants_and_keep_strangers_apart() -> None:
    from cibwatch.coord.traces.near_text import lsh_keys, near_duplicate_groups, token_hashes

    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(3000)]
    base = [" ".join(rng.choice(vocab, 14)) for _ in range(3000)]
    texts = base + [t + " now" for t in base[:200]] + [t.replace(" ", "  ", 1) + "!" for t in base[200:300]]
    con = duckdb.connect()
    con.register("t", pa.table({"id": np.arange(len(texts)), "n": texts}))
    tokens = token_hashes(con, "t")
    keys = lsh_keys(np.asarray(tokens["id"]), np.asarray(tokens["th"]), len(texts))
    roots = near_duplicate_groups(texts, keys, 0.8)
    assert all(roots[3000 + i] == roots[i] for i in range(200))
    assert all(roots[3200 + i] == roots[200 + i] for i in range(100))
    assert len(set(roots[:3000])) == 3000  # unrelated sentences stay apart


def _sequential_groups(texts: list[str], keys: np.ndarray, threshold: float) -> np.ndarray:
    """The grouping as first written: a union-find over each band's buckets in order, kept as the
    reference the vectorized rounds must equal."""
    from rapidfuzz.distance import Indel

    from cibwatch.coord.traces.near_text import ALL_PAIRS_UP_TO

    parent = np.arange(len(texts))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    def link(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj and Indel.normalized_similarity(texts[i], texts[j]) >= threshold:
            parent[max(ri, rj)] = min(ri, rj)

    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        bounds = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
        for lo, hi in pairwise(bounds):
            members = order[lo:hi].tolist()
            if len(members) <= ALL_PAIRS_UP_TO:
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        link(members[x], members[y])
            else:
                for other in members[1:]:
                    link(members[0], other)
    return np.array([find(i) for i in range(len(texts))])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_near_duplicate_groups_equal_the_sequential_union_find(seed: int) -> None:
    """Buckets of every size (large ones checked against their first text only), chains of edits
    that join only through a third text, and failed checks between texts of one bucket."""
    from cibwatch.coord.traces.near_text import BANDS, near_duplicate_groups

    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(60)]
    texts = []
    for _ in range(120):
        text = " ".join(rng.choice(words, 8))
        for _ in range(int(rng.integers(1, 12))):
            texts.append(text)
            if rng.random() < 0.6:  # drift: each copy edits the last, so far ends may not match
                at = int(rng.integers(0, 8))
                text = " ".join(w if k != at else str(rng.choice(words)) for k, w in enumerate(text.split()))
    order = rng.permutation(len(texts))
    texts = [texts[i] for i in order]
    # Few key values per band: buckets of 1 to well over ALL_PAIRS_UP_TO texts, strangers among copies.
    keys = rng.integers(0, rng.integers(3, 80, BANDS), size=(len(texts), BANDS)).astype(np.uint64)
    expected = _sequential_groups(texts, keys, 0.8)
    assert len(set(expected.tolist())) > 20  # the case has groups to find and texts kept apart
    assert near_duplicate_groups(texts, keys, 0.8).tolist() == expected.tolist()


def syndication_case(root: Path, trace: str) -> Any:
    """Four accounts post five headlines linking their own sites (two share one newsroom's site),
    then five more linking a site none of their profiles names; background as in the contract."""
    rng = np.random.default_rng(7)
    posts = _background(SHAPES[trace], rng)
    sites = {a: f"https://www.{a}-news.com" for a in PLANTED}
    sites[PLANTED[3]] = sites[PLANTED[2]]  # one newsroom, two accounts
    for k in range(5):
        for j, account in enumerate(PLANTED):
            fields = SHAPES[trace](k, j)
            own = {"urls": [f"{sites[account]}/story/{k}"], "text": fields["text"]}
            posts.append(post(account, 10_000 * k + 3 * j + 0.5, **own))
            foreign = {"urls": [f"https://elsewhere.example/{k}"], "text": fields["text"] + " again today"}
            posts.append(post(account, 200_000 + 10_000 * k + 3 * j + 0.5, **foreign))
    case = make_case(root, posts)
    profiles = [
        {"account_id": a, "platform": "twitter", "url": url, "snapshot_id": a} for a, url in sites.items()
    ]
    case.write_part("accounts", table(profiles, schema.ACCOUNTS), "accounts")
    return case


@pytest.mark.parametrize("trace", ["text", "near_text"])
def test_a_headline_on_its_own_site_is_syndication_not_copied_text(tmp_path: Path, trace: str) -> None:
    """Newsrooms running one wire story each link their own site: their text items differ.

    The same accounts posting the same headlines with a link to a site none of their profiles
    names are linked, and so are two accounts whose profiles both name the site they link.
    """
    result = detect(syndication_case(tmp_path / "case", trace), traces=[trace], window=60, sync_bin=10)
    edges = result.edges.filter(pl.col("trace") == trace)
    pairs = zip(edges["account_a"], edges["account_b"], strict=True)
    by_pair = dict(zip(pairs, edges["n_shared"], strict=True))
    assert set(by_pair) == set(combinations(PLANTED, 2))
    # Own-site posts link only the two accounts of one newsroom; every pair shares the foreign ones.
    same_newsroom = tuple(sorted(PLANTED[2:4]))
    assert by_pair[same_newsroom] == 10
    assert all(n == 5 for pair, n in by_pair.items() if pair != same_newsroom)


def test_lsh_keys_are_each_texts_own_minhash_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys computed a block of texts at a time equal each text's MinHash bands computed alone."""
    from cibwatch.coord.traces import near_text as nt

    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 9, 40)  # one-word texts too
    text_ids = np.repeat(np.arange(lengths.size), lengths)
    hashes = rng.integers(-(2**63), 2**63 - 1, text_ids.size, dtype=np.int64)
    monkeypatch.setattr(nt, "_KEY_BLOCK", 7)  # blocks end inside the run of texts, and the last is short
    keys = nt.lsh_keys(text_ids, hashes, lengths.size)
    for text in range(lengths.size):
        h = hashes[text_ids == text].astype(np.uint64)
        folded = (h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF))
        signature = np.array(
            [((a * folded + b) % nt._PRIME).min() for a, b in zip(nt._PERM_A, nt._PERM_B, strict=True)]
        )
        bands = signature.reshape(nt.BANDS, nt.ROWS)
        assert keys[text].tolist() == (bands * nt._BAND_MULTIPLIERS).sum(axis=1, dtype=np.uint64).tolist()
