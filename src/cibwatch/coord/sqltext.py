r"""Text functions in SQL that give the same answer on DuckDB and on Spark.

DuckDB's regular expressions are RE2's and Spark's are Java's, and the two engines' string
functions part at the edges: RE2's ``\s`` is ``[\t\n\f\r ]`` where Java's adds ``\v``; Java 17's
``\b`` counts non-ASCII letters as word characters where RE2's does not; ``trim`` strips every
Unicode space (``\p{Zs}``, e.g. the no-break space) on DuckDB but only ' ' on Spark; ``lower``
maps İ to i and Σ to σ on DuckDB, to i̇ (two characters) and, ending a word, ς on Java. These
helpers keep DuckDB's meaning, spelt so that both engines read it alike.
"""

from __future__ import annotations

SPACE = r"[\t\n\f\r ]"  # RE2's \s
NOT_SPACE = r"[^\t\n\f\r ]"
NOT_WORD = r"[^0-9A-Za-z_]"  # the other side of RE2's \b from a word character


def lower_sql(expr: str) -> str:
    """``expr`` lower-cased as DuckDB does, on either engine.

    >>> lower_sql("p.text")
    "lower(replace(replace(p.text, 'İ', 'i'), 'Σ', 'σ'))"
    """
    return f"lower(replace(replace({expr}, 'İ', 'i'), 'Σ', 'σ'))"


def trim_sql(expr: str) -> str:
    r"""``expr`` without Unicode spaces at either end, as DuckDB's ``trim`` does.

    >>> trim_sql("x")
    "regexp_replace(x, '^\\p{Zs}+|\\p{Zs}+$', '', 'g')"
    """
    return rf"regexp_replace({expr}, '^\p{{Zs}}+|\p{{Zs}}+$', '', 'g')"
