"""The web UI's pages, rendered from the templates in ``templates/`` out of the stages' records.

Post and profile text come from the platforms, so nothing here is trusted: the template engine
(``cibwatch.templating``) escapes every value, and the pages' Content-Security-Policy runs only the
app's own script file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup

from cibwatch import review, schema, views
from cibwatch.api import charts
from cibwatch.report import CardFragment
from cibwatch.report.charts import activity_figure
from cibwatch.report.page import duration, script_json
from cibwatch.review.users import Action, User, may
from cibwatch.templating import environment

# No inline script or style, nothing from another origin; the forms' fetch goes to this origin only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": under it a browser sends "Origin: null" even on this site's own posts, and the
    # Origin check (cibwatch.api.auth) needs the real one. Nothing leaves for another site either way.
    "Referrer-Policy": "same-origin",
}
OPEN_EDGES = 3  # evidence of the most significant edges starts unfolded; the rest open on a click
PROFILE_KEYS = (
    "screen_name", "name", "description", "created_at", "followers", "following", "posts_count",
    "likes_count", "verified", "default_profile", "default_profile_image", "location", "url", "lang",
    "probed_at", "dataset",
)  # fmt: skip


def num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def path_segment(text: str) -> str:
    """``text`` as one URL path segment: ids may hold a slash."""
    return quote(text, safe="")


def account_url(account_id: str) -> str:
    """The account's page."""
    return "/accounts/" + path_segment(account_id)


def when(value: datetime | None) -> str:
    """A time as the pages show it: to the second, UTC."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


TEMPLATES = environment("cibwatch.api", num=num, path_segment=path_segment, when=when, duration=duration)
TEMPLATES.globals["plotly_style_ids"] = charts.style_ids


@dataclass(frozen=True)
class Me:
    """The signed-in user, as the header and the forms need it."""

    user: User
    csrf_token: str | None  # None with a Bearer token: nothing to put in a form

    def may(self, action: Action, account_id: str | None = None) -> bool:
        """Which forms a page shows; the API checks again when one is posted."""
        return may(self.user, action, account_id)


@dataclass(frozen=True)
class AccountCampaign:
    """A campaign the account belongs to, as its page shows it: membership and the report's narratives."""

    campaign: dict[str, Any]  # the case file's ``campaigns`` entry: the row plus ``member``
    narratives: Markup | None  # the report card's narratives section; None when the card is missing


def _render(template: str, me: Me | None = None, **context: Any) -> str:
    return TEMPLATES.get_template(template).render(me=me, **context)


def live_page(state: dict[str, Any], me: Me | None = None) -> str:
    """The live page: the state as of now, redrawn by /static/live.js from GET /api/live."""
    return _render("live.html.j2", me=me, state=state, state_json=Markup(script_json(state)))


def error_page(status: int, message: str, me: Me | None = None) -> str:
    return _render("error.html.j2", me=me, status=status, message=message)


def login_page(form_token: str, next_path: str, message: str | None) -> str:
    """The sign-in form; ``form_token`` is also in the sign-in cookie (double-submit CSRF check)."""
    return _render("login.html.j2", form_token=form_token, next_path=next_path, message=message)


def overview_page(
    summary: dict[str, Any],
    queue: list[dict[str, Any]] | None,
    campaigns: list[dict[str, Any]],
    log_check: dict[str, Any],
    *,
    filters: dict[str, str | None] | None = None,
    me: Me | None = None,
) -> str:
    """Counts, tiers, campaigns, the audit log's state and the review queue, narrowed by ``filters``.

    ``filters`` are the queue's query parameters (tier, campaign, status; None for "any").
    """
    m = summary["review"]
    rate = "n/a" if m["overturn_rate"] is None else f"{m['overturn_rate']:.1%}"
    review_facts = [
        ("decisions", m["decisions"]),
        ("by action", ", ".join(f"{a} {n}" for a, n in m["by_action"].items())),
        ("appeals", f"{m['appeals']} ({m['open_appeals']} open)"),
        ("overturn rate", rate),
    ]
    chosen = {k: v for k, v in (filters or {}).items() if v}
    return _render(
        "overview.html.j2",
        me=me,
        summary=summary,
        queue=queue,
        campaigns=campaigns,
        review_facts=review_facts,
        log_check=log_check,
        filters=chosen,
        filter_options={
            "tier": list(schema.RECOMMENDATION_TIERS),
            "campaign": [c["campaign_id"] for c in campaigns],
            "status": list(review.QUEUE_STATUSES),
        },
        queue_json="/api/review/queue" + (f"?{urlencode(chosen)}" if chosen else ""),
    )


def campaign_page(record: dict[str, Any], card: CardFragment, me: Me | None = None) -> str:
    """One campaign: the report's card of it (facts, network, timeline, narratives, members by role)."""
    return _render("campaign.html.j2", me=me, camp=record["campaign"], card=card)


def account_page(
    record: dict[str, Any],
    evidence: views.AccountEvidence,
    campaigns: list[AccountCampaign],
    activity: views.Activity,
    context: views.Activity | None = None,
    me: Me | None = None,
) -> str:
    """One account from ``cibwatch.review.show``: evidence with its posts, recommendation, history, forms.

    ``evidence`` holds the posts behind the account's most significant edges; ``activity`` is the
    account's posts over time, drawn beside ``context``, its (first) campaign's.
    """
    cf, rv = record["case_file"], record["review"]
    account_id = cf["account_id"]
    profile = cf["profiles"][-1] if cf["profiles"] else {}
    rec, coord = cf["recommendation"], cf["coordination"]
    specs = {}
    if activity.counts:
        specs["account-timeline"] = activity_figure(
            activity.counts,
            activity.bucket,
            name=f"@{handle}" if (handle := profile.get("screen_name")) else account_id,
            context=context.counts if context is not None else None,
            context_name="campaign members",
        )
    return _render(
        "account.html.j2",
        me=me,
        account_id=account_id,
        handle=profile.get("screen_name"),
        rv=rv,
        rec=rec,
        recommendation_facts=[
            ("independent lines", ", ".join(rec.get("lines") or []) or None),
            ("campaign", rec.get("campaign_id")),
            ("priority", rec.get("priority")),
            ("policy", rec.get("policy_version")),
            ("bot model", rec.get("model_version")),
        ],
        profile_facts=[(k, profile.get(k)) for k in PROFILE_KEYS] if profile else None,
        n_snapshots=len(cf["profiles"]),
        bot=_bot(cf["bot_score"]),
        coordination_facts=[
            ("cluster", coord.get("cluster_id")),
            ("coordination score", num(coord.get("coordination_score"), 3)),
            ("partners", coord.get("n_partners")),
            ("shared items", coord.get("n_shared_items")),
            ("traces", coord.get("traces")),
        ]
        if coord
        else None,
        campaigns=campaigns,
        evidence=evidence,
        open_edges=OPEN_EDGES,
        charts=specs,
        charts_json=script_json(specs),
        bucket=activity.bucket,
        review_url="/api/review/" + path_segment(account_id),
        actions=review.ACTIONS,
        outcomes=review.OUTCOMES,
    )


def _bot(bot: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bot score's heading, reasons and facts; None when the account was not scored."""
    if not bot:
        return None
    label = bot.get("bot_label")
    if label == "uncertain":  # neither "bot" nor "human": say so, not just the word
        label = "uncertain: between the human and bot thresholds"
    return {
        "score": bot.get("bot_score"),
        "label": label,
        "reasons": [r for r in (bot.get("top_reasons") or "").split("; ") if r],
        "facts": [
            ("type", bot.get("bot_type")),
            ("model", bot.get("model_version")),
            ("head", bot.get("head")),
            ("input problems", bot.get("input_flags")),
        ],
    }
