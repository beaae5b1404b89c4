"""The posts behind an account's evidence, and its activity over time, from the read model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cibwatch import schema
from cibwatch.store.case import Case
from cibwatch.views import account_evidence, activity, bucketed, screen_names
from cibwatch.views.evidence import DAY_MS, HOUR_MS, TEXT_CHARS
from tests.campaigns.corpus import T0, table


def test_each_pair_holds_both_posts_texts_and_the_partners_handle(case: Case) -> None:
    ev = account_evidence(case, "op1")
    assert ev.account_id == "op1" and ev.n_edges == len(ev.edges) == 9
    # Most significant first: the repost edges (q 1e-6) lead, the weak url edge to op7 comes last.
    assert [(e.trace, e.q_value) for e in ev.edges[:3]] == [("repost", 1e-6)] * 3
    assert (ev.edges[-1].partner, ev.edges[-1].trace) == ("op7", "url")
    edge = next(e for e in ev.edges if (e.partner, e.trace) == ("op2", "repost"))
    assert (edge.partner_handle, edge.observed, edge.n_evidence, len(edge.pairs)) == (
        "patriot_jane02",
        12,
        12,
        5,
    )
    first = edge.pairs[0]
    assert (first.item, first.post_id, first.partner_post_id) == ("rt0", "op1-repost-rt0", "op2-repost-rt0")
    assert first.text == first.partner_text == "RT @source: Vote them out, they lied about number 0 #maga"
    assert (first.time, first.partner_time, first.gap_s) == (T0, T0.replace(second=12), 12.0)


def test_pairs_are_seen_from_the_account_whichever_side_it_is_stored_on(case: Case) -> None:
    # Edges store (account_a, account_b) sorted: op2 is account_b of its edge with op1.
    edge = next(e for e in account_evidence(case, "op2").edges if (e.partner, e.trace) == ("op1", "repost"))
    pair = edge.pairs[0]
    assert (pair.post_id, pair.partner_post_id, edge.partner_handle) == (
        "op2-repost-rt0",
        "op1-repost-rt0",
        "patriot_jane01",
    )
    assert pair.time == T0.replace(second=12) and pair.partner_time == T0


def test_the_bounds_keep_a_hub_small_and_say_how_much_is_left_out(case: Case) -> None:
    ev = account_evidence(case, "op1", max_edges=2, max_pairs=3)
    assert (len(ev.edges), ev.n_edges) == (2, 9)
    assert all(len(e.pairs) == 3 and e.n_evidence == 12 for e in ev.edges)
    with pytest.raises(ValueError, match="at least 1"):
        account_evidence(case, "op1", max_edges=0)


def test_a_missing_post_has_no_text_and_a_long_one_is_cut(case: Case) -> None:
    long = "x" * (TEXT_CHARS + 50)
    case.write_part(
        "posts",
        table(
            [
                {
                    "post_id": "op7-url-https://fakenews.example/a1",
                    "account_id": "op7",
                    "created_at": T0,
                    "platform": "twitter",
                    "kind": "original",
                    "text": long,
                }
            ],
            schema.POSTS,
        ),
        "posts-long",
    )
    edge = account_evidence(case, "op7").edges[0]
    texts = {p.item: (p.text, p.partner_text) for p in edge.pairs}
    # op1's url posts are not in the case: no text, rather than another post's.
    assert texts["https://fakenews.example/a1"] == (long[: TEXT_CHARS - 1] + "…", None)
    assert texts["https://fakenews.example/a2"] == (None, None)


def test_an_account_without_edges_has_none(case: Case) -> None:
    assert account_evidence(case, "b1") == account_evidence(case, "b1", max_edges=1)
    assert account_evidence(case, "b1").edges == [] and account_evidence(case, "b1").n_edges == 0


def test_screen_names_come_from_the_latest_snapshot(case: Case) -> None:
    later = {
        "account_id": "op1",
        "platform": "twitter",
        "screen_name": "renamed",
        "probed_at": datetime(2017, 1, 1, tzinfo=UTC),
        "snapshot_id": "s2",
    }
    case.write_part("accounts", table([later], schema.ACCOUNTS), "accounts-later")
    assert screen_names(case, ["op1", "op2", "nobody"]) == {"op1": "renamed", "op2": "patriot_jane02"}
    assert screen_names(case, []) == {}


def test_activity_counts_posts_per_hour_over_a_short_span_and_per_day_over_a_long_one(case: Case) -> None:
    # op1: 12 hourly reposts from T0, and 8 hashtag posts a day later: under three days, so hours.
    hourly = activity(case, ["op1"])
    assert hourly.bucket == "hour" and sum(n for _, n in hourly.counts) == 20
    assert hourly.counts[0] == (int(T0.timestamp() * 1000), 1)
    daily = activity(case, ["op1"], bucket="day")
    assert daily.counts == [
        (int(T0.replace(hour=0).timestamp() * 1000), 12),
        (int(T0.replace(hour=0).timestamp() * 1000) + DAY_MS, 8),
    ]
    assert activity(case, ["nobody"]).counts == []
    with pytest.raises(ValueError, match="bucket must be"):
        activity(case, ["op1"], bucket="week")


def test_bucketed_switches_to_days_after_three_days() -> None:
    short = [(0, 1), (3 * DAY_MS, 2)]
    assert bucketed(short).bucket == "hour"
    long = [(0, 1), (HOUR_MS, 2), (3 * DAY_MS + HOUR_MS, 4)]
    assert bucketed(long).counts == [(0, 3), (3 * DAY_MS, 4)] and bucketed(long).bucket == "day"
