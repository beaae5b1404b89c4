"""The read model is read by the stages, never the reverse: it imports no stage."""

from __future__ import annotations

from tests.test_architecture import SOURCE, stage_graph


def test_views_import_only_the_store_and_shared_modules() -> None:
    imported = {target for source, target in stage_graph(SOURCE) if source == "views"}
    stages = {t for t in imported if t != "store" and not (SOURCE / f"{t}.py").is_file()}
    assert not stages, f"cibwatch.views imports stage packages {sorted(stages)}; read their tables instead"
    assert {"schema", "store"} <= imported


def test_review_reads_case_files_from_the_read_model_not_from_campaigns() -> None:
    edges = stage_graph(SOURCE)
    assert ("review", "views") in edges
    assert ("review", "campaigns") not in edges
