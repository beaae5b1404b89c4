"""CLI output tests start from the same assembled corpus as the campaigns and review tests."""

from tests.campaigns.conftest import assembled_template, case  # noqa: F401 - fixtures shared with campaigns
