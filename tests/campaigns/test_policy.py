"""The recommendation policy: loading, validation, and the tier rules over every signal combination."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.campaigns.policy import Signal, evaluate, load_policy, parse_policy
from cibwatch.errors import ConfigError
from cibwatch.schema import TIER_RANK

POLICY = load_policy()
DEFAULT_TEXT = (Path(__file__).parents[2] / "src/cibwatch/campaigns/policy.toml").read_text()

GROUPS = [
    ("coordination", "coordination:amplification"),
    ("coordination", "coordination:hashtag"),
    ("coordination", "coordination:content+link"),
    ("coordination", "coordination:other"),
    ("bot", "bot"),
    ("creation_burst", "provenance"),
    ("profile_pattern", "provenance"),
]


@st.composite
def signals(
    draw: st.DrawFn, strengths: st.SearchStrategy[str] = st.sampled_from(["strong", "weak"])
) -> Signal:
    kind, group = draw(st.sampled_from(GROUPS))
    strength = "weak" if kind == "profile_pattern" else draw(strengths)
    return Signal(kind, strength, group, f"{strength} {kind} in {group} #{draw(st.integers(0, 3))}")


def test_default_policy_loads_with_a_version_that_names_its_content() -> None:
    assert POLICY.version.startswith("cibwatch-default@1+")
    edited = parse_policy(DEFAULT_TEXT.replace("strong = 0.9", "strong = 0.95"))
    assert edited.policy.version == POLICY.policy.version
    assert edited.version != POLICY.version  # an edit without a version bump still shows


def test_trace_families_put_cibwatch_and_qut_names_together_and_unknown_traces_in_other() -> None:
    assert POLICY.family_of("repost") == POLICY.family_of("co_retweet") == "amplification"
    assert POLICY.family_of("hashtag") == POLICY.family_of("hashtag_set") == "hashtag"
    assert POLICY.family_of("url") == POLICY.family_of("domain") == "link"
    assert POLICY.family_of("Some-New-Trace") == "other"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("enforce_min_lines = 2", "enforce_min_lines = 1", "tiers.enforce_min_lines must be at least 2"),
        ("strong_max_q = 0.01", "strong_max_q = 0.5", "at most weak_max_q"),
        ("strong = 0.9", "strong = 0.5", "0 <= weak <= strong <= 1"),
        (
            'mention = ["mention", "co_mention"]',
            'mention = ["mention", "repost"]',
            "a trace belongs to one family",
        ),
        ("window_days = 3.0", "window_days = -5", "positive number of days. Got -5"),
        ("coordination = 0.30", "coordinaton = 0.30", "keys among"),
        ("[bot]", "[bots]", "see docs/policy.md"),
        ("strong_min_shared = 5", 'strong_min_shared = "five"', "Expected `int`"),
    ],
)
def test_invalid_policies_are_refused_with_a_message_saying_what_was_expected(
    old: str, new: str, message: str
) -> None:
    assert old in DEFAULT_TEXT
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")
    ):
        parse_policy(DEFAULT_TEXT.replace(old, new, 1), "my.toml")


def test_policy_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy\nname=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(bad)
    good = tmp_path / "p.toml"
    good.write_text(DEFAULT_TEXT.replace('version = "1"', 'version = "7"'))
    assert load_policy(good).version.startswith("cibwatch-default@7+")


DISTINCT_SIGNALS = [
    Signal(kind, strength, group, f"{strength} {kind} in {group}")
    for kind, group in GROUPS
    for strength in (("weak",) if kind == "profile_pattern" else ("strong", "weak"))
]


def test_every_combination_of_distinct_signals_exhaustively() -> None:
    """All 2^13 subsets: enforce-eligible exactly when two strong groups include coordination."""
    n = len(DISTINCT_SIGNALS)
    for mask in range(1 << n):
        sigs = [s for i, s in enumerate(DISTINCT_SIGNALS) if mask >> i & 1]
        verdict = evaluate(sigs, POLICY)
        strong_groups = {s.group for s in sigs if s.strength == "strong"}
        coordinated = any(g.startswith("coordination:") for g in strong_groups)
        assert (verdict.tier == "enforce-eligible") == (len(strong_groups) >= 2 and coordinated), sigs
        if len({s.group for s in sigs}) <= 1:
            assert verdict.tier != "enforce-eligible"
        if not strong_groups:
            assert verdict.tier in (("none",) if not sigs else ("monitor", "review"))


@given(st.lists(signals(), max_size=8))
@settings(max_examples=150, deadline=None)
def test_enforce_eligible_needs_two_independent_strong_lines_one_of_them_coordination(
    sigs: list[Signal],
) -> None:
    verdict = evaluate(sigs, POLICY)
    strong_groups = {s.group for s in sigs if s.strength == "strong"}
    coordinated = any(g.startswith("coordination:") for g in strong_groups)
    assert (verdict.tier == "enforce-eligible") == (len(strong_groups) >= 2 and coordinated)
    if verdict.tier == "enforce-eligible":
        assert len(verdict.lines) >= 2
        assert {s.group for s in verdict.rests_on} == set(verdict.lines) == strong_groups


@given(st.lists(signals(st.just("weak")), min_size=1, max_size=10))
@settings(max_examples=100, deadline=None)
def test_weak_signals_alone_never_reach_enforce_eligible(sigs: list[Signal]) -> None:
    verdict = evaluate(sigs, POLICY)
    assert verdict.tier in ("monitor", "review")
    assert verdict.lines == []


@given(signals(), st.integers(1, 6))
@settings(max_examples=80, deadline=None)
def test_one_signal_repeated_is_still_one_line(sig: Signal, copies: int) -> None:
    verdict = evaluate([sig] * copies, POLICY)
    assert verdict.tier != "enforce-eligible"
    assert len(verdict.rests_on) == 1


@given(st.lists(signals(), max_size=6), signals())
@settings(max_examples=100, deadline=None)
def test_more_evidence_never_lowers_the_tier(sigs: list[Signal], extra: Signal) -> None:
    assert TIER_RANK[evaluate([*sigs, extra], POLICY).tier] >= TIER_RANK[evaluate(sigs, POLICY).tier]


@given(st.lists(signals(), max_size=8))
@settings(max_examples=80, deadline=None)
def test_every_recommendation_rests_on_listed_input_signals_and_says_so(sigs: list[Signal]) -> None:
    verdict = evaluate(sigs, POLICY)
    assert all(s in sigs for s in verdict.rests_on)
    assert (verdict.tier == "none") == (not sigs)
    for s in verdict.rests_on:
        assert s.sentence in verdict.reasons
    assert TIER_RANK[verdict.tier] <= verdict.priority < TIER_RANK[verdict.tier] + 1


def test_the_issue_examples() -> None:
    coord = Signal("coordination", "strong", "coordination:amplification", "co-reposted 40 items, q=1e-9")
    coord2 = Signal("coordination", "strong", "coordination:link", "co-linked 12 items, q=1e-6")
    bot = Signal("bot", "strong", "bot", "bot score 0.96")
    burst = Signal("creation_burst", "strong", "provenance", "created with 9 members in 2 days")
    assert evaluate([coord, bot], POLICY).tier == "enforce-eligible"
    assert evaluate([coord, coord2, burst], POLICY).tier == "enforce-eligible"
    # Two traces of one family are one line.
    same_family = Signal("coordination", "strong", "coordination:amplification", "co-quoted 9 items")
    assert evaluate([coord, same_family], POLICY).tier == "review"
    # A bot farm without coordination: strong, but not an operation.
    verdict = evaluate([bot, burst], POLICY)
    assert verdict.tier == "review"
    assert "none of them coordination" in verdict.reasons
    lenient = parse_policy(
        DEFAULT_TEXT.replace("enforce_requires_coordination = true", "enforce_requires_coordination = false")
    )
    assert evaluate([bot, burst], lenient).tier == "enforce-eligible"
    # A bot score alone is monitored, not queued for review, unless the policy says otherwise.
    assert evaluate([bot], POLICY).tier == "monitor"
    assert "without coordination" in evaluate([bot], POLICY).reasons
    assert evaluate([bot], lenient).tier == "monitor"
    no_coord_for_review = parse_policy(
        DEFAULT_TEXT.replace("review_requires_coordination = true", "review_requires_coordination = false")
    )
    assert evaluate([bot], no_coord_for_review).tier == "review"
