"""Review tests start from the same assembled corpus as the campaigns tests."""

from tests.campaigns.conftest import assembled_template, case  # noqa: F401 - fixtures shared with campaigns
