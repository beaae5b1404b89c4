"""The normalized tables every stage reads and writes, as explicit Arrow schemas.

Stages talk to each other only through these tables (and the output tables each
stage documents), never through each other's internals.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")
STR_LIST = pa.list_(pa.string())

POST_KINDS = ("original", "repost", "reply", "quote")

# Provenance columns stamped on every stored row.
_PROVENANCE = [
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("reader", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("ingested_at", TS, nullable=False),
]

POSTS = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("created_at", TS),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("ref_post_id", pa.string()),
        pa.field("ref_account_id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("source_app", pa.string()),
        pa.field("hashtags", STR_LIST),
        pa.field("urls", STR_LIST),
        pa.field("mentions", STR_LIST),
        pa.field("media_hashes", STR_LIST),
        pa.field("platform", pa.string(), nullable=False),
        *_PROVENANCE,
    ]
)

ACCOUNTS = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("screen_name", pa.string()),
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("created_at", TS),
        pa.field("followers", pa.int64()),
        pa.field("following", pa.int64()),
        pa.field("posts_count", pa.int64()),
        pa.field("likes_count", pa.int64()),
        pa.field("listed_count", pa.int64()),
        pa.field("verified", pa.bool_()),
        pa.field("default_profile", pa.bool_()),
        pa.field("default_profile_image", pa.bool_()),
        pa.field("profile_use_background_image", pa.bool_()),
        pa.field("location", pa.string()),
        pa.field("url", pa.string()),
        pa.field("lang", pa.string()),
        # When the profile snapshot was taken; null for a row made only from post authorship.
        pa.field("probed_at", TS),
        # Identifies one snapshot: a hash of its normalized values, so re-ingest adds nothing.
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
        *_PROVENANCE,
    ]
)

ACCOUNT_LABELS = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),  # "bot" | "human"
        pa.field("label_detail", pa.string()),  # the source's own label, e.g. "political_Bot"
        *_PROVENANCE,
    ]
)

QUARANTINE = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("byte_offset", pa.int64()),
        pa.field("reader", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("ingested_at", TS, nullable=False),
    ]
)

# A post as a reader may hand it over as a tuple (the fast path of large files): the fields
# up to ``dataset``; the ingest adds the rest of the provenance.
POST_ROW: tuple[str, ...] = tuple(POSTS.names[: POSTS.names.index("dataset") + 1])

TABLES: dict[str, pa.Schema] = {
    "posts": POSTS,
    "accounts": ACCOUNTS,
    "account_labels": ACCOUNT_LABELS,
    "quarantine": QUARANTINE,
}

# Columns that identify a row for deduplication, per table.
DEDUPE_KEYS: dict[str, tuple[str, ...]] = {
    "posts": ("platform", "post_id"),
    "accounts": ("platform", "account_id", "snapshot_id"),
    "account_labels": ("platform", "account_id", "label", "dataset"),
    # A bad record is the same one when read again from the same place for the same reason.
    "quarantine": ("source_file", "line", "byte_offset", "reason"),
}


# --- Stage outputs -------------------------------------------------------------------
# Tables later stages write into the case (``tables/<name>/``). Column names are a stable API:
# the CSV files of each command are these tables, and other tools read them.

BOT_SCORES = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("screen_name", pa.string()),
        pa.field("dataset", pa.string()),
        pa.field("bot_score", pa.float64()),  # calibrated probability in [0, 1]
        pa.field("bot_label", pa.string()),  # "bot" | "uncertain" | "human" at the model's thresholds
        pa.field("bot_type", pa.string()),  # spam | fake_follower | self_declared | political | other
        pa.field("top_reasons", pa.string()),  # "; "-separated human sentences
        pa.field("head", pa.string()),  # "profile" | "profile+behaviour"
        pa.field("model_version", pa.string()),
        pa.field("input_flags", pa.string()),  # "; "-separated problems with the input (impossible values)
    ]
)

COORD_EDGES = pa.schema(
    [
        pa.field("account_a", pa.string(), nullable=False),
        pa.field("account_b", pa.string(), nullable=False),
        pa.field("trace", pa.string(), nullable=False),
        pa.field("n_shared", pa.int64()),  # distinct co-acted items (QUT semantics)
        pa.field("weight", pa.float64()),  # TF-IDF cosine (OSoMe semantics)
        pa.field("expected", pa.float64()),  # co-acted items expected by chance under the null model
        pa.field("p_value", pa.float64()),
        pa.field("q_value", pa.float64()),  # Benjamini-Hochberg over all tested pairs
        pa.field("first_at", TS),
        pa.field("last_at", TS),
        pa.field("median_gap_s", pa.float64()),
    ]
)

COORD_EVIDENCE = pa.schema(
    [
        pa.field("account_a", pa.string(), nullable=False),
        pa.field("account_b", pa.string(), nullable=False),
        pa.field("trace", pa.string(), nullable=False),
        pa.field("item", pa.string()),
        pa.field("post_id_a", pa.string()),
        pa.field("post_id_b", pa.string()),
        pa.field("time_a", TS),
        pa.field("time_b", TS),
        pa.field("gap_s", pa.float64()),
    ]
)

COORD_ACCOUNTS = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("screen_name", pa.string()),
        pa.field("cluster_id", pa.string()),  # null when the account is in no cluster
        pa.field("coordination_score", pa.float64()),  # in [0, 1]
        pa.field("n_partners", pa.int64()),
        pa.field("n_shared_items", pa.int64()),
        pa.field("traces", pa.string()),  # ","-separated
        pa.field("top_evidence", pa.string()),
        # The account-level decision (cibwatch.coord.decide): coordinated, crowd or weak.
        pa.field("status", pa.string()),
        pa.field("account_q", pa.float64()),
        pa.field("n_tested", pa.int64()),
        pa.field("reason", pa.string()),
        # Per pair of its traces, the share of the smaller one's posts both saw: "hashtag|url=0.93;…".
        pa.field("trace_overlap", pa.string()),
    ]
)

COORD_CLUSTERS = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("traces", pa.string()),
        pa.field("n_items", pa.int64()),
        pa.field("first_at", TS),
        pa.field("last_at", TS),
        pa.field("density", pa.float64()),
        pa.field("top_items", pa.string()),
    ]
)

# campaigns stage (cibwatch.campaigns; columns documented in docs/policy.md). Lists are
# "; "-separated strings so the tables round-trip through CSV; ``details`` holds the full record as JSON.
CAMPAIGNS = pa.schema(
    [
        pa.field("campaign_id", pa.string(), nullable=False),  # "camp-" + cluster_id
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("n_core", pa.int64()),
        pa.field("n_amplifier", pa.int64()),
        pa.field("n_peripheral", pa.int64()),
        pa.field("traces", pa.string()),  # ","-separated traces of the edges inside the campaign
        pa.field("trace_families", pa.string()),  # ","-separated independence families of those traces
        pa.field("first_at", TS),
        pa.field("last_at", TS),
        pa.field("n_posts", pa.int64()),
        pa.field("top_hashtags", pa.string()),  # "; "-separated, most used first
        pa.field("top_domains", pa.string()),
        pa.field("top_urls", pa.string()),
        pa.field("n_bot_scored", pa.int64()),  # members with a bot score; 0 when bots did not run
        pa.field("bot_score_median", pa.float64()),
        pa.field("bot_share", pa.float64()),  # share of scored members labelled "bot"
        pa.field("creation_burst_members", pa.int64()),  # members created in a burst
        pa.field("profile_similarity", pa.float64()),  # share of members in a shared profile pattern
        pa.field("suspicion_score", pa.float64()),  # in [0, 1], weighted mean of its components
        pa.field("suspicion_components", pa.string()),  # "name=value×weight; …"
        pa.field("summary", pa.string()),  # one human sentence
        pa.field("details", pa.string()),  # JSON: narratives, timeline, traces, bursts, patterns, scores
        pa.field("policy_version", pa.string()),
    ]
)

CAMPAIGN_MEMBERS = pa.schema(
    [
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("screen_name", pa.string()),
        pa.field("role", pa.string(), nullable=False),  # one of CAMPAIGN_ROLES
        pa.field("degree", pa.int64()),  # distinct partners inside the campaign
        pa.field("strength", pa.float64()),  # co-acted items summed over those partners
        pa.field("traces", pa.string()),  # ","-separated
        pa.field("amplification_share", pa.float64()),  # share of its strength from amplification traces
        pa.field("coordination_score", pa.float64()),
        pa.field("bot_score", pa.float64()),  # null when not scored
        pa.field("created_at", TS),
        pa.field("in_creation_burst", pa.bool_()),
        pa.field("profile_patterns", pa.string()),  # "; "-separated patterns shared with other members
    ]
)

# A campaign member's role, most central first: lists of members are shown in this order.
CAMPAIGN_ROLES = ("core", "amplifier", "peripheral")
ROLE_RANK = {role: rank for rank, role in enumerate(CAMPAIGN_ROLES)}

# Recommendation tiers, weakest first: a higher rank outweighs a lower one.
RECOMMENDATION_TIERS = ("none", "monitor", "review", "enforce-eligible")
TIER_RANK = {tier: rank for rank, tier in enumerate(RECOMMENDATION_TIERS)}
# The tiers that put an account before a reviewer (the review queue, scan's demo scorecard).
FLAGGED_TIERS = ("review", "enforce-eligible")

RECOMMENDATIONS = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("screen_name", pa.string()),
        pa.field("campaign_id", pa.string()),  # null when in no campaign
        pa.field("tier", pa.string(), nullable=False),  # one of RECOMMENDATION_TIERS
        pa.field("priority", pa.float64()),  # review-queue order, higher first
        pa.field("n_independent_lines", pa.int64()),  # independent strong lines of evidence
        pa.field("lines", pa.string()),  # ","-separated independence groups of the strong lines
        pa.field("rests_on", pa.string()),  # JSON list of the signals the tier rests on
        pa.field("reasons", pa.string()),  # the same, as a human sentence
        pa.field("policy_version", pa.string()),
        pa.field("model_version", pa.string()),  # bot model version, null when not scored
    ]
)

STAGE_TABLES: dict[str, pa.Schema] = {
    "bot_scores": BOT_SCORES,
    "coord_edges": COORD_EDGES,
    "coord_evidence": COORD_EVIDENCE,
    "coord_accounts": COORD_ACCOUNTS,
    "coord_clusters": COORD_CLUSTERS,
    "campaigns": CAMPAIGNS,
    "campaign_members": CAMPAIGN_MEMBERS,
    "recommendations": RECOMMENDATIONS,
}


def table_schema(table: str) -> pa.Schema | None:
    """The schema of a normalized or stage table by name; None for a table cibwatch does not define."""
    return TABLES.get(table) or STAGE_TABLES.get(table)
