"""The recommendation policy: a TOML file that maps signals to tiers.

A *signal* is one observation about an account (coordination on a trace family, a bot score, a
creation burst, a shared profile pattern), strong or weak, in an *independence group*. The tier
counts independence groups, never signals, so two traces of one family are one line of evidence.

>>> policy = load_policy()
>>> bot = Signal("bot", "strong", "bot", "bot score 0.95")
>>> evaluate([bot], policy).tier  # a bot score alone describes an account, not an operation
'monitor'
>>> ring = Signal("coordination", "strong", "coordination:amplification", "12 co-reposts within seconds")
>>> evaluate([bot, ring], policy).tier
'enforce-eligible'
"""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec

from cibwatch.errors import ConfigError
from cibwatch.schema import TIER_RANK

OTHER_FAMILY = "other"


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class PolicyInfo(_Section, frozen=True):
    name: str
    version: str


class TierRules(_Section, frozen=True):
    enforce_min_lines: int = 2
    enforce_requires_coordination: bool = True
    review_min_weak_groups: int = 2
    review_requires_coordination: bool = True


class CoordinationRules(_Section, frozen=True):
    strong_max_q: float = 0.01
    strong_min_shared: int = 5
    weak_max_q: float = 0.05
    weak_min_shared: int = 2
    max_post_overlap: float = 0.5
    families: dict[str, list[str]] = msgspec.field(default_factory=dict)


class BotRules(_Section, frozen=True):
    strong: float = 0.9
    weak: float = 0.6


class CreationBurstRules(_Section, frozen=True):
    window_days: float = 3.0
    weak_min_members: int = 3
    strong_min_members: int = 5
    strong_min_ratio: float = 3.0


class ProfileRules(_Section, frozen=True):
    min_shared_members: int = 3


class RoleRules(_Section, frozen=True):
    core_min_degree_share: float = 0.5
    peripheral_max_degree_share: float = 0.25
    amplifier_min_share: float = 0.5


class NarrativeRules(_Section, frozen=True):
    top_n: int = 10
    representative_texts: int = 5


class SuspicionRules(_Section, frozen=True):
    synchrony_s: float = 10.0
    weights: dict[str, float] = msgspec.field(default_factory=dict)


class Policy(_Section, frozen=True):
    """A loaded, validated policy. ``version`` names it on every recommendation and decision."""

    policy: PolicyInfo
    tiers: TierRules = TierRules()
    coordination: CoordinationRules = CoordinationRules()
    bot: BotRules = BotRules()
    creation_burst: CreationBurstRules = CreationBurstRules()
    profile: ProfileRules = ProfileRules()
    roles: RoleRules = RoleRules()
    narratives: NarrativeRules = NarrativeRules()
    suspicion: SuspicionRules = SuspicionRules()
    digest: str = ""

    @property
    def version(self) -> str:
        """``name@version+hash``: a file edited without a version bump still shows as different."""
        return f"{self.policy.name}@{self.policy.version}+{self.digest[:8]}"

    def family_of(self, trace: str) -> str:
        """The independence family of a trace; unknown traces share the family ``other``."""
        return _trace_families(self).get(_norm_trace(trace), OTHER_FAMILY)


def _norm_trace(trace: str) -> str:
    return trace.strip().lower().replace("-", "_")


def _trace_families(policy: Policy) -> dict[str, str]:
    return {_norm_trace(t): fam for fam, traces in policy.coordination.families.items() for t in traces}


SUSPICION_COMPONENTS = (
    "coordination",
    "trace_diversity",
    "synchrony",
    "bots",
    "creation_burst",
    "profile_similarity",
)


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy TOML file; ``None`` loads the shipped default."""
    if path is None:
        text = resources.files("cibwatch.campaigns").joinpath("policy.toml").read_text("utf-8")
        where = "the default policy"
    else:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"policy file {path} does not exist; pass a TOML file like the default policy")
        text = path.read_text("utf-8")
        where = str(path)
    return parse_policy(text, where)


def parse_policy(text: str, where: str = "policy") -> Policy:
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    raw["digest"] = hashlib.sha256(text.encode()).hexdigest()
    try:
        policy = msgspec.convert(raw, Policy)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}; see docs/policy.md for the fields and their types") from None
    _validate(policy, where)
    return policy


def _validate(p: Policy, where: str) -> None:
    def bad(field: str, expected: str, got: object) -> ConfigError:
        return ConfigError(f"{where}: {field} must be {expected}. Got {got!r} instead.")

    if p.tiers.enforce_min_lines < 2:
        # The one rule a policy may not relax: one line of evidence is never enough to enforce.
        raise bad(
            "tiers.enforce_min_lines", "at least 2 (independent lines of evidence)", p.tiers.enforce_min_lines
        )
    if p.tiers.review_min_weak_groups < 1:
        raise bad("tiers.review_min_weak_groups", "at least 1", p.tiers.review_min_weak_groups)
    c = p.coordination
    for name, value in (("strong_max_q", c.strong_max_q), ("weak_max_q", c.weak_max_q)):
        if not 0 < value <= 1:
            raise bad(f"coordination.{name}", "a q-value in (0, 1]", value)
    if c.strong_max_q > c.weak_max_q:
        raise bad("coordination.strong_max_q", f"at most weak_max_q ({c.weak_max_q})", c.strong_max_q)
    if not 1 <= c.weak_min_shared <= c.strong_min_shared:
        raise bad(
            "coordination.weak_min_shared",
            f"between 1 and strong_min_shared ({c.strong_min_shared})",
            c.weak_min_shared,
        )
    if not 0 <= c.max_post_overlap <= 1:
        raise bad("coordination.max_post_overlap", "a share in [0, 1]", c.max_post_overlap)
    seen: dict[str, str] = {}
    for fam, traces in c.families.items():
        if fam == OTHER_FAMILY:
            raise bad("coordination.families", f"free of the reserved family name {OTHER_FAMILY!r}", fam)
        for trace in traces:
            if _norm_trace(trace) in seen:
                raise bad(
                    f"coordination.families.{fam}",
                    f"free of {trace!r}, already in family "
                    f"{seen[_norm_trace(trace)]!r} (a trace belongs to one family)",
                    traces,
                )
            seen[_norm_trace(trace)] = fam
    if not 0 <= p.bot.weak <= p.bot.strong <= 1:
        raise bad(
            "bot.weak and bot.strong", "scores with 0 <= weak <= strong <= 1", (p.bot.weak, p.bot.strong)
        )
    b = p.creation_burst
    if b.window_days <= 0:
        raise bad("creation_burst.window_days", "a positive number of days", b.window_days)
    if not 2 <= b.weak_min_members <= b.strong_min_members:
        raise bad(
            "creation_burst.weak_min_members",
            f"between 2 and strong_min_members ({b.strong_min_members})",
            b.weak_min_members,
        )
    ro = p.roles
    if not 0 <= ro.peripheral_max_degree_share <= ro.core_min_degree_share <= 1:
        raise bad(
            "roles.peripheral_max_degree_share and roles.core_min_degree_share",
            "shares with 0 <= peripheral_max_degree_share <= core_min_degree_share <= 1",
            (ro.peripheral_max_degree_share, ro.core_min_degree_share),
        )
    if p.profile.min_shared_members < 2:
        raise bad("profile.min_shared_members", "at least 2", p.profile.min_shared_members)
    unknown = set(p.suspicion.weights) - set(SUSPICION_COMPONENTS)
    if unknown:
        raise bad("suspicion.weights", f"keys among {', '.join(SUSPICION_COMPONENTS)}", sorted(unknown))
    if any(w < 0 for w in p.suspicion.weights.values()) or not any(p.suspicion.weights.values()):
        raise bad("suspicion.weights", "non-negative with at least one positive", p.suspicion.weights)


# --- signals and tiers -----------------------------------------------------------------

SignalKind = Literal["coordination", "bot", "creation_burst", "profile_pattern"]
Strength = Literal["strong", "weak"]


class Signal(msgspec.Struct, frozen=True):
    """One observation about an account, in an independence ``group``.

    Groups: ``coordination:<family>`` (families merged when their evidence posts overlap),
    ``bot``, and ``provenance`` (creation burst and profile pattern: both mark bulk registration).
    """

    kind: SignalKind
    strength: Strength
    group: str
    sentence: str
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class Verdict(msgspec.Struct, frozen=True):
    tier: str
    rule: str
    lines: list[str]  # independence groups of the strong signals
    rests_on: list[Signal]
    priority: float

    @property
    def reasons(self) -> str:
        if not self.rests_on:
            return "none: no signal"
        return f"{self.tier}: {self.rule} — " + "; ".join(s.sentence for s in self.rests_on)


def evaluate(signals: list[Signal], policy: Policy) -> Verdict:
    """The tier the policy gives to ``signals``, and exactly which of them it rests on."""
    unique = {(s.group, s.kind, s.strength, s.sentence): s for s in signals}
    signals = [unique[k] for k in sorted(unique)]
    strong = [s for s in signals if s.strength == "strong"]
    strong_groups = sorted({s.group for s in strong})
    all_groups = sorted({s.group for s in signals})
    coordinated = any(g.startswith("coordination:") for g in strong_groups)
    t = policy.tiers
    if len(strong_groups) >= t.enforce_min_lines and (coordinated or not t.enforce_requires_coordination):
        tier, rests_on = "enforce-eligible", strong
        rule = f"{len(strong_groups)} independent strong lines ({', '.join(strong_groups)})"
    elif strong_groups and (
        coordinated or len(strong_groups) >= t.enforce_min_lines or not t.review_requires_coordination
    ):
        tier, rests_on = "review", strong
        rule = f"{len(strong_groups)} strong line(s) ({', '.join(strong_groups)})"
        if len(strong_groups) >= t.enforce_min_lines:
            rule += ", none of them coordination"
    elif len(all_groups) >= t.review_min_weak_groups and (
        any(g.startswith("coordination:") for g in all_groups) or not t.review_requires_coordination
    ):
        tier, rests_on = "review", signals
        rule = f"weak signals in {len(all_groups)} independent groups ({', '.join(all_groups)})"
    elif signals:
        tier, rests_on = "monitor", signals
        rule = (
            f"weak signal(s) only ({', '.join(all_groups)})"
            if not strong_groups
            else f"one strong line without coordination ({', '.join(strong_groups)})"
        )
    else:
        tier, rests_on, rule = "none", [], "no signal"
    weight = len(strong_groups) + 0.5 * (len(all_groups) - len(strong_groups))
    priority = TIER_RANK[tier] + 0.99 * weight / (1.0 + weight)
    return Verdict(tier=tier, rule=rule, lines=strong_groups, rests_on=rests_on, priority=round(priority, 4))
