"""The one way cibwatch writes HTML: Jinja2 templates with autoescaping, for the report and the web UI.

Every value a template prints is escaped unless it is ``Markup`` (a macro's output, or a value the
template marks ``|safe`` beside a comment saying why it is safe), so text from posts and profiles
shows as text. Templates live in a ``templates`` folder of the stage that owns them.

>>> env = environment("cibwatch.report")
>>> env.from_string("<p>{{ name }}</p>").render(name="Jane <b>0</b>")
'<p>Jane &lt;b&gt;0&lt;/b&gt;</p>'
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import jinja2
from markupsafe import Markup


def escape(value: object) -> Markup:
    """What ``{{ value }}`` prints: nothing for None, Markup as it is, anything else escaped.

    ``html.escape``'s entities (``&#x27;``, ``&quot;``) rather than markupsafe's (``&#39;``, ``&#34;``):
    the pages are the same as when they were built from strings, byte for byte.
    """
    if value is None:
        return Markup("")
    if hasattr(value, "__html__"):
        return Markup(value)
    return Markup(html.escape(str(value), quote=True))


def environment(package: str, **filters: Callable[..., Any]) -> jinja2.Environment:
    """The templates in ``package``'s ``templates`` folder, with autoescaping and the given filters.

    Undefined names raise rather than print nothing, so a typo in a template fails its test.
    Jinja applies ``finalize`` before its own escaping, which then leaves the Markup alone.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package),
        autoescape=True,
        finalize=escape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    return env
