"""``cibwatch review show`` prints the bot model's label, and says what "uncertain" means."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from cibwatch.cli.main import app
from cibwatch.store.case import Case
from tests.campaigns.corpus import relabel_bot

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _show(case: Case, account: str) -> str:
    result = CliRunner().invoke(app, ["review", "show", account, "--case", str(case.root)])
    assert result.exit_code == 0, result.output
    return ANSI.sub("", result.output)


def test_show_says_what_an_uncertain_bot_label_means(case: Case) -> None:
    relabel_bot(case, "op2", "uncertain")
    case.close()
    assert "Bot score: 0.5 (uncertain: between the human and bot thresholds, model bots-0.1)" in _show(
        case, "op2"
    )
    assert "Bot score: 0.95 (bot, model bots-0.1)" in _show(case, "op1")
