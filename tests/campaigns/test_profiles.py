"""Creation bursts and shared profile patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.campaigns.profiles import creation_bursts, handle_stem, profile_patterns

T0 = datetime(2016, 1, 1, tzinfo=UTC)


@given(
    st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=4), st.one_of(st.none(), st.integers(0, 60)), max_size=25
    ),
    st.floats(0.5, 10),
    st.integers(2, 6),
)
@settings(max_examples=150, deadline=None)
def test_burst_members_are_exactly_those_in_a_dense_window(
    days: dict[str, int | None], window: float, min_members: int
) -> None:
    created = {a: None if d is None else T0 + timedelta(days=d) for a, d in days.items()}
    bursts = creation_bursts(created, window, min_members)
    in_burst = {a for b in bursts for a in b.members}
    dated = {a: t for a, t in created.items() if t is not None}
    span = timedelta(days=window)
    for account, t in dated.items():
        # Some window of `span` holding `t` has at least min_members accounts: starting at one of them.
        dense = any(
            start <= t <= start + span
            and sum(start <= u <= start + span for u in dated.values()) >= min_members
            for start in dated.values()
        )
        assert (account in in_burst) == dense, (account, t)
    assert all(b.n_members >= min_members for b in bursts)
    assert len(in_burst) == sum(b.n_members for b in bursts)  # no account in two bursts


def test_burst_expected_count_comes_from_the_baseline() -> None:
    created = {f"a{i}": T0 + timedelta(hours=i) for i in range(6)}
    (burst,) = creation_bursts(created, 3.0, 3, baseline_share=lambda start, end: 0.01)
    assert burst.expected == 0.06 and burst.ratio == 100
    assert burst.as_dict()["ratio_to_expected"] == 100
    (no_base,) = creation_bursts(created, 3.0, 3)
    assert no_base.ratio is None


def test_handle_stems() -> None:
    assert handle_stem("patriot_jane1984") == "patriot_jane"
    assert handle_stem("JohnSmith12345678") == "johnsmith"
    assert handle_stem("news_12") == "news"
    assert handle_stem("ab12") is None  # too short a stem to mean anything
    assert handle_stem("bob") is None and handle_stem(None) is None


def test_profile_patterns_need_enough_members() -> None:
    profiles = {
        "a": {
            "screen_name": "maga_mike01",
            "description": "Patriot. Christian. Veteran.",
            "default_profile_image": True,
        },
        "b": {
            "screen_name": "maga_mike02",
            "description": "patriot.  christian. veteran.",
            "default_profile_image": True,
        },
        "c": {"screen_name": "maga_mike77", "name": "Mike", "default_profile_image": False},
        "d": {"screen_name": "someone", "name": "mike"},
    }
    found = profile_patterns(profiles, min_shared=2)
    assert found.patterns == {
        "handle:maga_mike+digits": ["a", "b", "c"],
        "description:patriot. christian. veteran.": ["a", "b"],
        "name:mike": ["c", "d"],
    }
    assert found.of("a") == ["description:patriot. christian. veteran.", "handle:maga_mike+digits"]
    assert found.share(4) == 1.0
    assert abs(found.default_image_share - 2 / 3) < 1e-9
    assert profile_patterns(profiles, min_shared=3).patterns == {"handle:maga_mike+digits": ["a", "b", "c"]}
