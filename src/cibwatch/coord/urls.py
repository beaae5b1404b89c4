"""URL normalization as DuckDB SQL, so links compare equal however they were written.

``HTTP://www.Example.com/a/?utm_source=x&id=3#top`` becomes ``example.com/a?id=3``: scheme,
``www.``, default ports, fragments, trailing slashes and tracking parameters are dropped, the
host is lower-cased, the path kept as written.
"""

from __future__ import annotations

# Query parameters that identify a campaign or a click, not the page.
TRACKING_PARAMS = r"^(utm_[a-z_]*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_ga|ref_src|si)(=|$)"

_SPLIT = r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.\-]*://)?([^/?#]*)([^?#]*)(?:\?([^#]*))?"


def url_host_sql(col: str) -> str:
    """SQL for the normalized host of the URL in ``col``."""
    host = f"lower(regexp_extract({col}, '{_SPLIT}', 1))"
    host = f"regexp_replace(regexp_replace({host}, '^[^@]*@', ''), ':(80|443)$', '')"
    return f"regexp_replace({host}, '^www\\.', '')"


def normalized_url_sql(col: str) -> str:
    """SQL for the normalized form of the URL in ``col`` (host + path + kept query)."""
    path = f"regexp_replace(regexp_extract({col}, '{_SPLIT}', 2), '/+$', '')"
    kept = (
        f"array_to_string(list_filter(string_split(regexp_extract({col}, '{_SPLIT}', 3), '&'), "
        f"lambda x: x <> '' AND NOT regexp_matches(lower(x), '{TRACKING_PARAMS}')), '&')"
    )
    return f"({url_host_sql(col)} || {path} || CASE WHEN {kept} = '' THEN '' ELSE '?' || {kept} END)"
