# The constructed campaigns corpus (tests/campaigns/corpus.py), assembled: the read model reads its tables.
from tests.campaigns.conftest import assembled_template, case  # noqa: F401
