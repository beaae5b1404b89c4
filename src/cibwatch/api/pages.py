"""The web UI's HTML, built from the stages' records with every untrusted value escaped.

Post and profile text come from the platforms, so nothing here is trusted: every value goes through
``esc`` (or ``link``), and the pages' Content-Security-Policy runs only the app's own script file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from cibwatch import review

# No inline script or style, nothing from another origin; the forms' fetch goes to this origin only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def esc(value: Any) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def account_url(account_id: str) -> str:
    return "/accounts/" + quote(account_id, safe="")


def campaign_link(campaign_id: str) -> str:
    return link("/campaigns/" + quote(campaign_id, safe=""), campaign_id)


def link(href: str, text: Any) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def table(headers: Iterable[str], body_rows: Iterable[Iterable[str]], empty: str = "None.") -> str:
    """A table from already-escaped cell HTML."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in body_rows)
    if not body:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts(pairs: Iterable[tuple[str, Any]]) -> str:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs if v not in (None, ""))
    return f"<dl>{items}</dl>"


def layout(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request'
        f"<title>{esc(title)} · cibwatch</title>"
        '<link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script>'
        '</head><body><header><a href="/">cibwatch</a> · <a href="/report">report</a> · '
        '<a href="/api/summary">API</a></header>'
        f"<main>{body}</main></body></html>\n"
    )


def error_page(status: int, message: str) -> str:
    return layout(
        f"Error {status}",
        f"<h1>Error {status}</h1><p>{esc(message)}</p><p>{link('/', 'Back to the overview')}</p>",
    )


# -- overview --------------------------------------------------------------------


def overview_page(
    summary: dict[str, Any],
    queue: list[dict[str, Any]] | None,
    campaigns: list[dict[str, Any]],
    log_check: dict[str, Any],
) -> str:
    """Counts, tiers, campaigns, the audit log's state and the review queue."""
    counts = table(("table", "rows"), ((esc(t), esc(n)) for t, n in summary["tables"].items()))
    tiers = table(("tier", "accounts"), ((esc(t), esc(n)) for t, n in summary["tiers"].items()))
    m = summary["review"]
    rate = "n/a" if m["overturn_rate"] is None else f"{m['overturn_rate']:.1%}"
    review_facts = facts(
        [
            ("decisions", m["decisions"]),
            ("by action", ", ".join(f"{a} {n}" for a, n in m["by_action"].items())),
            ("appeals", f"{m['appeals']} ({m['open_appeals']} open)"),
            ("overturn rate", rate),
        ]
    )
    if log_check["ok"]:
        head = esc(log_check["head"][:16])
        log_state = (
            f'<p class="ok">Audit log OK: {esc(log_check["entries"])} entries, head <code>{head}…</code></p>'
        )
    else:
        problems = "".join(f"<li>{esc(p)}</li>" for p in log_check["problems"])
        log_state = f'<div class="bad"><p>The audit log fails verification:</p><ul>{problems}</ul></div>'
    if queue is None:
        queue_html = (
            '<p class="muted">No recommendations yet: run <code>cibwatch campaigns</code> '
            "or <code>cibwatch scan</code>.</p>"
        )
    else:
        queue_html = table(
            ("priority", "account", "handle", "kind", "tier", "campaign", "why"),
            (
                (
                    esc(f"{r['priority']:.2f}"),
                    link(account_url(r["account_id"]), r["account_id"]),
                    esc(r["screen_name"]),
                    esc(r["kind"]),
                    f'<span class="tier tier-{esc(r["tier"])}">{esc(r["tier"])}</span>',
                    esc(r["campaign_id"]),
                    esc((r["reasons"] or "").split(" — ")[0]),
                )
                for r in queue
            ),
            empty="The review queue is empty.",
        )
    camp_html = table(
        ("campaign", "size", "core / amplifier / peripheral", "suspicion", "summary"),
        (
            (
                campaign_link(c["campaign_id"]),
                esc(c["size"]),
                esc(f"{c['n_core']} / {c['n_amplifier']} / {c['n_peripheral']}"),
                esc(num(c["suspicion_score"], 2)),
                esc(c["summary"]),
            )
            for c in campaigns
        ),
        empty="No campaigns.",
    )
    body = (
        f"<h1>Case {esc(summary['case'])}</h1>"
        f"<section><h2>Review queue</h2>{queue_html}</section>"
        f"<section><h2>Campaigns</h2>{camp_html}</section>"
        f'<section class="cols"><div><h2>Tables</h2>{counts}</div><div><h2>Tiers</h2>{tiers}</div>'
        f"<div><h2>Review</h2>{review_facts}{log_state}</div></section>"
    )
    return layout("Overview", body)


# -- campaign ----------------------------------------------------------------------


def campaign_page(record: dict[str, Any]) -> str:
    """One campaign: its summary, what its suspicion rests on, and its members by role."""
    camp = record["campaign"]
    members = table(
        ("account", "handle", "role", "degree", "strength", "traces", "coordination", "bot", "patterns"),
        (
            (link(account_url(m["account_id"]), m["account_id"]), esc(m["screen_name"]), esc(m["role"]),
             esc(m["degree"]), esc(num(m["strength"])), esc(m["traces"]), esc(num(m["coordination_score"])),
             esc(num(m["bot_score"])), esc(m["profile_patterns"]))
            for m in record["members"]
        ),
    )  # fmt: skip
    body = (
        f"<h1>Campaign {esc(camp['campaign_id'])}</h1><p>{esc(camp['summary'])}</p>"
        + facts(
            [
                (
                    "size",
                    f"{camp['size']} ({camp['n_core']} core, {camp['n_amplifier']} amplifiers, "
                    f"{camp['n_peripheral']} peripheral)",
                ),
                ("active", f"{camp['first_at']} – {camp['last_at']}"),
                ("posts", camp["n_posts"]),
                ("traces", camp["traces"]),
                ("top hashtags", camp["top_hashtags"]),
                ("top domains", camp["top_domains"]),
                ("top urls", camp["top_urls"]),
                ("suspicion", num(camp["suspicion_score"], 2)),
                ("suspicion components", camp["suspicion_components"]),
                ("policy", camp["policy_version"]),
            ]
        )
        + f"<h2>Members ({len(record['members'])})</h2>{members}"
        + f"<p>{link('/api/campaigns/' + quote(camp['campaign_id'], safe=''), 'The full record as JSON')}"
        " (narratives, timeline, bursts, profile patterns).</p>"
    )
    return layout(f"Campaign {camp['campaign_id']}", body)


# -- account -----------------------------------------------------------------------


def account_page(record: dict[str, Any]) -> str:
    """One account from ``cibwatch.review.show``: evidence, recommendation, history and the review forms."""
    cf, rv = record["case_file"], record["review"]
    account_id = cf["account_id"]
    profile = cf["profiles"][-1] if cf["profiles"] else {}
    handle = profile.get("screen_name")
    status = f"review status <strong>{esc(rv['status'])}</strong>"
    if rv["in_force"]:
        status += f" (in force: {esc(rv['in_force'])})"
    parts = [
        f"<h1>{esc(account_id)}{' @' + esc(handle) if handle else ''}</h1><p>{status}</p>",
        _recommendation(cf["recommendation"]),
        _profile(profile, len(cf["profiles"])),
        _bot(cf["bot_score"]),
        _coordination(cf["coordination"], cf["campaigns"]),
        _edges(cf["edges"]),
        _history(rv),
        _forms(account_id, rv),
    ]
    return layout(f"Account {account_id}", "".join(f"<section>{p}</section>" for p in parts if p))


def _recommendation(rec: dict[str, Any]) -> str:
    signals = "".join(
        f"<li><strong>{esc(s.get('strength'))}</strong> · {esc(s.get('group'))}: "
        f"{esc(s.get('sentence'))}</li>"
        for s in rec.get("rests_on") or []
    )
    return (
        f'<h2>Recommendation: <span class="tier tier-{esc(rec["tier"])}">{esc(rec["tier"])}</span></h2>'
        f"<p>{esc(rec.get('reasons'))}</p>"
        + (f"<p>It rests on:</p><ul>{signals}</ul>" if signals else "")
        + facts(
            [
                ("independent lines", ", ".join(rec.get("lines") or []) or None),
                ("campaign", rec.get("campaign_id")),
                ("priority", rec.get("priority")),
                ("policy", rec.get("policy_version")),
                ("bot model", rec.get("model_version")),
            ]
        )
    )


def _profile(profile: dict[str, Any], n_snapshots: int) -> str:
    if not profile:
        return '<h2>Profile</h2><p class="muted">No profile snapshot in the case.</p>'
    keys = (
        "screen_name", "name", "description", "created_at", "followers", "following", "posts_count",
        "likes_count", "verified", "default_profile", "default_profile_image", "location", "url", "lang",
        "probed_at", "dataset",
    )  # fmt: skip
    return f'<h2>Profile</h2><p class="muted">Latest of {n_snapshots} snapshot(s).</p>' + facts(
        (k, profile.get(k)) for k in keys
    )


def _bot(bot: dict[str, Any] | None) -> str:
    if not bot:
        return '<h2>Bot score</h2><p class="muted">Not scored (run <code>cibwatch bots score</code>).</p>'
    reasons = "".join(f"<li>{esc(r)}</li>" for r in (bot.get("top_reasons") or "").split("; ") if r)
    label = bot.get("bot_label")
    if label == "uncertain":  # neither "bot" nor "human": say so, not just the word
        label = "uncertain: between the human and bot thresholds"
    return (
        f"<h2>Bot score: {esc(num(bot.get('bot_score'), 3))} ({esc(label)})</h2>"
        + (f"<p>Why:</p><ul>{reasons}</ul>" if reasons else "")
        + facts(
            [
                ("type", bot.get("bot_type")),
                ("model", bot.get("model_version")),
                ("head", bot.get("head")),
                ("input problems", bot.get("input_flags")),
            ]
        )
    )


def _coordination(coord: dict[str, Any] | None, campaigns: list[dict[str, Any]]) -> str:
    out = "<h2>Coordination</h2>"
    if coord:
        out += facts(
            [
                ("cluster", coord.get("cluster_id")),
                ("coordination score", num(coord.get("coordination_score"), 3)),
                ("partners", coord.get("n_partners")),
                ("shared items", coord.get("n_shared_items")),
                ("traces", coord.get("traces")),
            ]
        )
    else:
        out += '<p class="muted">No coordination row.</p>'
    for camp in campaigns:
        member = camp.get("member") or {}
        out += (
            f"<p>Member of campaign {campaign_link(camp['campaign_id'])}"
            f" as <strong>{esc(member.get('role'))}</strong>: {esc(camp.get('summary'))}</p>"
        )
    return out


def _edges(edges: list[dict[str, Any]]) -> str:
    if not edges:
        return '<h2>Coordination edges</h2><p class="muted">None.</p>'
    blocks = []
    for e in edges:
        evidence = table(
            ("item", "post", "time", "partner post", "partner time", "gap s"),
            (
                (esc(x["item"]), esc(x["post_id"]), esc(x["time"]), esc(x["partner_post_id"]),
                 esc(x["partner_time"]), esc(num(x["gap_s"])))
                for x in e["evidence"]
            ),
        )  # fmt: skip
        shown = len(e["evidence"])
        more = f" (first {shown} of {e['n_evidence']})" if shown < e["n_evidence"] else ""
        blocks.append(
            "<details><summary>"
            f"{esc(e['trace'])} with {link(account_url(e['partner']), e['partner'])}: "
            f"{esc(e['observed'])} shared items, {esc(num(e['expected']))} expected by chance, "
            f"q = {esc(num(e['q_value']))}, median gap {esc(num(e['median_gap_s']))} s, "
            f"{esc(e['first_at'])} – {esc(e['last_at'])}"
            f"</summary><p>Evidence{esc(more)}:</p>{evidence}</details>"
        )
    return f"<h2>Coordination edges ({len(edges)})</h2>" + "".join(blocks)


def _history(rv: dict[str, Any]) -> str:
    rows = (
        (esc(e["seq"]), esc(e["logged_at"]), esc(e["event"]), esc(e["actor"]), esc(e["action"]),
         esc(e["reason"]), f"<code>{esc((e['evidence_snapshot_id'] or '')[:12])}</code>", esc(e["tier"]),
         esc(e["policy_version"]), esc(e["model_version"]))
        for e in rv["history"]
    )  # fmt: skip
    out = "<h2>Decision history</h2>" + table(
        ("seq", "time", "event", "actor", "action", "reason", "evidence", "tier", "policy", "model"),
        rows,
        empty="Never reviewed.",
    )
    if "changes_since_decision" in rv:
        changes = rv["changes_since_decision"]
        items = "".join(f"<li>{esc(c)}</li>" for c in changes) or "<li>nothing</li>"
        out += f"<p>Changed since the decision's evidence was taken:</p><ul>{items}</ul>"
    return out


def _select(name: str, options: Iterable[str]) -> str:
    # Nothing preselected: a decision is permanent, so the reviewer must pick one.
    choices = "".join(f"<option>{esc(o)}</option>" for o in options)
    prompt = '<option value="" disabled selected>choose…</option>'
    return f'<select name="{name}" required>{prompt}{choices}</select>'


def _form(title: str, endpoint: str, fields: str, button: str) -> str:
    # app.js posts the fields as JSON to data-endpoint; the API accepts JSON only, so another site
    # cannot post these forms for a reviewer (a cross-site JSON request needs CORS, which is off).
    return (
        f'<form class="api-form" data-endpoint="{esc(endpoint)}"><h3>{esc(title)}</h3>{fields}'
        f'<button type="submit">{esc(button)}</button><output class="form-error"></output></form>'
    )


def _forms(account_id: str, rv: dict[str, Any]) -> str:
    base = "/api/review/" + quote(account_id, safe="")
    reviewer = '<label>Reviewer <input name="reviewer" required maxlength="200"></label>'
    reason = '<label>Reason <textarea name="reason" required rows="2"></textarea></label>'
    forms = []
    if rv["status"] != "appealed":
        forms.append(
            _form(
                "Decide",
                base + "/decision",
                f"<label>Action {_select('action', review.ACTIONS)}</label>{reviewer}{reason}",
                "Record decision",
            )
        )
    if rv["status"] == "decided" and rv["in_force"]:
        forms.append(
            _form(
                "Appeal",
                base + "/appeal",
                '<label>Statement <textarea name="statement" required rows="2"></textarea></label>'
                '<label>Appellant <input name="appellant" value="account holder" required></label>',
                "Record appeal",
            )
        )
    if rv["status"] == "appealed":
        forms.append(
            _form(
                "Resolve the appeal",
                base + "/appeal/resolve",
                f"<label>Outcome {_select('outcome', review.OUTCOMES)}</label>{reviewer}{reason}",
                "Record outcome",
            )
        )
    return '<h2>Review</h2><div class="forms">' + "".join(forms) + "</div>"
