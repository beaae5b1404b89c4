"""``cibwatch review …``: the review queue, case files, decisions, appeals and the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cibwatch import review
from cibwatch.cli.console import console, open_case_waiting, print_table
from cibwatch.errors import AuditLogError
from cibwatch.review import signing
from cibwatch.review.users import acting_user

app = typer.Typer(
    help="Review flagged accounts: decide, appeal, and verify the audit log.", no_args_is_help=True
)

CASE = typer.Option(..., "--case", help="The case directory.")
JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


@app.command("queue")
def queue_command(
    case: Path = CASE,
    limit: int = typer.Option(50, "--limit", help="Show at most this many accounts."),
    include_monitor: bool = typer.Option(False, "--all", help="Also list accounts tiered 'monitor'."),
    as_json: bool = JSON,
) -> None:
    """Accounts waiting for a reviewer, highest priority first (open appeals lead)."""
    with open_case_waiting(case) as c:
        rows = review.queue(c, limit=limit, include_monitor=include_monitor)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        console.print("The review queue is empty.")
        return
    table = Table(title=f"Review queue of {case}", title_justify="left")
    for col in ("priority", "account", "handle", "kind", "tier", "campaign", "why"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            f"{r['priority']:.2f}",
            r["account_id"],
            r["screen_name"] or "",
            r["kind"],
            r["tier"],
            r["campaign_id"] or "",
            (r["reasons"] or "").split(" — ")[0],
        )
    print_table(table)


@app.command("show")
def show_command(
    account: str = typer.Argument(..., help="The account id."),
    case: Path = CASE,
    as_json: bool = JSON,
) -> None:
    """The account's case file: evidence, campaign, recommendation, decisions and what changed since."""
    with open_case_waiting(case) as c:
        record = review.show(c, account)
    if as_json:
        _print_json(record)
        return
    _render_show(record)


def _render_show(record: dict[str, Any]) -> None:
    cf, rv = record["case_file"], record["review"]
    profile = cf["profiles"][-1] if cf["profiles"] else {}
    console.print(
        f"[bold]{cf['account_id']}[/] @{profile.get('screen_name') or '?'}  "
        f"created {profile.get('created_at') or '?'}  review status: [bold]{rv['status']}[/]"
        + (f" (in force: {rv['in_force']})" if rv["in_force"] else ""),
        highlight=False,
    )
    rec = cf["recommendation"]
    console.print(
        f"\n[bold]Recommendation:[/] {rec['tier']}  (policy {rec.get('policy_version')})", highlight=False
    )
    for s in rec["rests_on"]:
        console.print(f"  • ({s['strength']}) {s['group']}: {s['sentence']}", highlight=False, markup=False)
    bot = cf["bot_score"]
    if bot:
        label = bot.get("bot_label")
        if label == "uncertain":  # the model's third label: neither "bot" nor "human"
            label = "uncertain: between the human and bot thresholds"
        console.print(
            f"\n[bold]Bot score:[/] {bot['bot_score']} ({label}, "
            f"model {bot.get('model_version')}): "
            f"{bot.get('top_reasons') or ''}",
            highlight=False,
        )
    else:
        console.print("\n[bold]Bot score:[/] not scored")
    for camp in cf["campaigns"]:
        member = camp.get("member") or {}
        console.print(
            f"\n[bold]Campaign {camp['campaign_id']}[/] as {member.get('role')}: {camp.get('summary') or ''}",
            highlight=False,
        )
    if cf["edges"]:
        table = Table(title="Coordination edges", title_justify="left")
        for col in (
            "partner",
            "trace",
            "observed",
            "expected",
            "q",
            "first",
            "last",
            "median gap s",
            "evidence",
        ):
            table.add_column(col, overflow="fold")
        for e in cf["edges"]:
            sample = "; ".join(f"{x['item']} @{x['time']} (gap {x['gap_s']} s)" for x in e["evidence"][:2])
            table.add_row(
                e["partner"], e["trace"], str(e["observed"]), _num(e["expected"]), _num(e["q_value"]),
                str(e["first_at"] or ""), str(e["last_at"] or ""), _num(e["median_gap_s"]),
                f"{e['n_evidence']} items; {sample}",
            )  # fmt: skip
        print_table(table)
    if rv["history"]:
        _history_table(rv["history"])
    if "original_evidence" in rv:
        original = rv["original_evidence"] or {}
        console.print(
            f"\n[bold]Evidence at decision:[/] snapshot {original.get('snapshot_id', '?')[:16]}… "
            f"taken {original.get('taken_at')}",
            highlight=False,
        )
        changes = rv["changes_since_decision"]
        console.print("[bold]Changed since:[/] " + ("nothing" if not changes else ""), highlight=False)
        for line in changes:
            console.print(f"  • {line}", highlight=False)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _history_table(entries: list[dict[str, Any]]) -> None:
    table = Table(title="Decision history", title_justify="left")
    for col in ("seq", "time", "event", "actor", "action", "reason", "evidence", "tier", "policy", "model"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(
            str(e["seq"]), e["logged_at"], e["event"], e["actor"], e["action"] or "", e["reason"] or "",
            (e["evidence_snapshot_id"] or "")[:12], e["tier"] or "", e["policy_version"] or "",
            e["model_version"] or "",
        )  # fmt: skip
    print_table(table)


@app.command("decide")
def decide_command(
    account: str = typer.Argument(..., help="The account id."),
    action: str = typer.Option(..., "--action", help="One of: " + ", ".join(review.ACTIONS) + "."),
    reviewer: str = typer.Option(
        ...,
        "--reviewer",
        help="Who decides: an active reviewer or admin of the case (`cibwatch users list`).",
    ),
    reason: str = typer.Option(..., "--reason", help="Why, in a sentence the account holder could read."),
    case: Path = CASE,
) -> None:
    """Record a decision, with a snapshot of the evidence you saw."""
    with open_case_waiting(case) as c:
        user = acting_user(c, reviewer, "decide")
        entry = review.decide(c, account, action, reviewer=user.name, reason=reason)
    console.print(
        f"Recorded decision {entry['seq']}: {action} {account} by {user.name} "
        f"(evidence {entry['evidence_snapshot_id'][:12]}…); log head {entry['entry_hash']}",
        highlight=False,
    )


@app.command("appeal")
def appeal_command(
    account: str = typer.Argument(..., help="The account id."),
    statement: str = typer.Option(..., "--statement", help="The account holder's statement."),
    appellant: str = typer.Option(
        ...,
        "--appellant",
        help="Who appeals: the account's appellant user, or an admin recording it for them.",
    ),
    case: Path = CASE,
) -> None:
    """Appeal the decision in force; reopens the case for another reviewer."""
    with open_case_waiting(case) as c:
        user = acting_user(c, appellant, "appeal", account)
        entry = review.appeal(c, account, statement=statement, appellant=user.name)
    console.print(
        f"Recorded appeal {entry['seq']} against decision {entry['refers_to']} on {account}; "
        f"it now leads the review queue. Log head {entry['entry_hash']}",
        highlight=False,
    )


@app.command("resolve-appeal")
def resolve_appeal_command(
    account: str = typer.Argument(..., help="The account id."),
    outcome: str = typer.Option(..., "--outcome", help="upheld or overturned."),
    reviewer: str = typer.Option(
        ..., "--reviewer", help="Who decides the appeal: an active reviewer or admin, not the original one."
    ),
    reason: str = typer.Option(..., "--reason", help="Why."),
    case: Path = CASE,
) -> None:
    """Decide an open appeal: uphold or overturn the decision."""
    with open_case_waiting(case) as c:
        user = acting_user(c, reviewer, "resolve")
        entry = review.resolve_appeal(c, account, outcome, reviewer=user.name, reason=reason)
    console.print(
        f"Recorded appeal outcome {entry['seq']}: {outcome} for {account}; log head {entry['entry_hash']}",
        highlight=False,
    )


@app.command("history")
def history_command(
    account: str = typer.Argument(..., help="The account id."),
    case: Path = CASE,
    as_json: bool = JSON,
) -> None:
    """Every decision, appeal and outcome on the account, oldest first."""
    with open_case_waiting(case) as c:
        entries = review.history(c, account)
    if as_json:
        _print_json(entries)
    elif not entries:
        console.print(f"No review history for {account}.", highlight=False)
    else:
        _history_table(entries)


@app.command("verify-log")
def verify_log_command(
    case: Path = CASE,
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="A full head hash printed earlier (by decide, verify-log or checkpoint): fails if it is no "
        "longer in the chain.",
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="A checkpoint file written by `review checkpoint`: fails unless the log still extends it, "
        "signed by its key.",
    ),
    as_json: bool = JSON,
) -> None:
    """Check the audit log's hashes, links, signatures and checkpoints; exit 3 if it fails."""
    kept = None if checkpoint is None else signing.read_checkpoint(checkpoint)
    with open_case_waiting(case) as c:
        report = review.verify_log(c, expect_head=expect_head, checkpoint=kept)
    if as_json:
        _print_json(report.as_dict())
    elif report.ok:
        against = ""
        if report.checkpoint is not None:
            source = "the checkpoint given" if kept is not None else "the case's checkpoint"
            against = (
                f"; extends {source} of {report.checkpoint['time']} ({report.checkpoint['count']} entries)"
            )
        signed = ", signed" if report.entries else ""
        console.print(
            f"Audit log OK: {report.entries} entries{signed}, head {report.head}{against}", highlight=False
        )
    if not report.ok:
        raise AuditLogError(
            f"the audit log of {case} fails verification ({len(report.problems)} problem(s)): "
            + "; ".join(report.problems)
            + ". Restore case.duckdb from a backup and compare."
        )


@app.command("checkpoint")
def checkpoint_command(
    case: Path = CASE,
    out: Path = typer.Option(
        ..., "--out", help="Where to write the checkpoint (JSON); keep it outside the case."
    ),
) -> None:
    """Verify the audit log and write a signed checkpoint of its head, to check it against later."""
    with open_case_waiting(case) as c:
        cp = review.checkpoint(c)
    signing.write_checkpoint(out, cp)
    console.print(
        f"Checkpoint of {cp['count']} entries, head {cp['head']}, written to {out}. "
        f"Check later with `cibwatch review verify-log --case {case} --checkpoint {out}`.",
        highlight=False,
    )


@app.command("metrics")
def metrics_command(case: Path = CASE, as_json: bool = JSON) -> None:
    """Decisions by action, appeals, and the overturn rate."""
    with open_case_waiting(case) as c:
        m = review.metrics(c)
    if as_json:
        _print_json(m)
        return
    rate = "n/a (no resolved appeals)" if m["overturn_rate"] is None else f"{m['overturn_rate']:.1%}"
    console.print(
        f"decisions {m['decisions']} ("
        + ", ".join(f"{a} {n}" for a, n in m["by_action"].items())
        + f"); appeals {m['appeals']} (open {m['open_appeals']}, upheld {m['upheld']}, "
        f"overturned {m['overturned']}); overturn rate {rate}",
        highlight=False,
    )
