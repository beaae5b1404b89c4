"""The API's records are the read model's: a field added to a view shows up in the API's schema."""

from __future__ import annotations

from dataclasses import fields

from cibwatch import views
from cibwatch.api.models import CampaignDetail, Summary


def test_campaign_detail_has_the_fields_of_the_campaign_record() -> None:
    assert list(CampaignDetail.model_fields) == [f.name for f in fields(views.CampaignRecord)]


def test_summary_holds_the_case_summary_and_the_review_state() -> None:
    own = [f.name for f in fields(views.CaseSummary)]
    assert list(Summary.model_fields) == [*own, "review_queue", "review"]
