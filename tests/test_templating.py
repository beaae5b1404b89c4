"""The one template engine of the report and the web UI: every template autoescapes, as before."""

from __future__ import annotations

import jinja2
import pytest
from jinja2.nodes import EvalContext
from markupsafe import Markup

from cibwatch.api import pages
from cibwatch.report import page
from cibwatch.templating import environment


@pytest.mark.parametrize("env", [page.TEMPLATES, pages.TEMPLATES], ids=["report", "api"])
def test_every_template_autoescapes(env: jinja2.Environment) -> None:
    names = env.list_templates()
    assert names, "no templates found: are they in the package's templates/ folder?"
    for name in names:
        assert EvalContext(env, name).autoescape, f"{name} is rendered without autoescaping"


def test_values_are_escaped_with_the_entities_the_pages_always_had() -> None:
    env = environment("cibwatch.api")
    template = env.from_string('<p title="{{ text }}">{{ text }}{{ gone }}{{ ours }}</p>')
    html = template.render(text="<b>'\"&", gone=None, ours=Markup("<i>built by us</i>"))
    assert html == ('<p title="&lt;b&gt;&#x27;&quot;&amp;">&lt;b&gt;&#x27;&quot;&amp;<i>built by us</i></p>')


def test_a_name_the_template_does_not_get_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment("cibwatch.api").from_string("{{ typo }}").render()
