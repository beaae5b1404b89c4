"""plotly.js for the UI's charts, served by the app itself: from the plotly package, never a CDN.

plotly.js adds stylesheets as inline ``<style>`` elements when it loads, which the pages'
Content-Security-Policy (``style-src 'self'``) blocks. It skips each one when the page already holds
an element saying the styles are there: ``#plotly.js-style-global.no-inline-styles`` for its own
rules, an element with a fixed id for each bundled library's stylesheet (maplibre's). So the app
serves those same rules as one file (``plotly_css``), read out of the plotly.js bundle, and the
pages link it and carry the marker elements (``style_ids``).
"""

from __future__ import annotations

import re
from functools import cache

from plotly.offline import get_plotlyjs

# plotly's table of global rules: {"X,X div":'direction:ltr;…', …} up to the loop that adds them.
_RULES = re.compile(r'=\{("X,X div":.*?)\};for\(')
_RULE = re.compile(r'"((?:[^"\\]|\\.)*)":(\'(?:[^\'\\]|\\.)*\'|"(?:[^"\\]|\\.)*")')
# A bundled stylesheet: if(!document.getElementById("ID")){var e=document.createElement("style");
# e.id="ID",e.textContent='CSS'
_BUNDLED = re.compile(
    r'if\(!document\.getElementById\("([^"]+)"\)\)\{var (\w+)=document\.createElement\("style"\);'
    r"\2\.id=\"\1\",\2\.textContent='((?:[^'\\]|\\.)*)'"
)


@cache
def plotly_js() -> str:
    """plotly.min.js of the installed plotly package (the report's copy)."""
    return get_plotlyjs()


@cache
def plotly_css() -> str:
    """Every stylesheet plotly.js would insert inline: its global rules, then the bundled ones.

    Raises ``RuntimeError`` when the bundle no longer holds plotly's rule table (a plotly.js release
    that changed how it adds styles): tests/api fail on it rather than the charts losing their styles.
    """
    found = _RULES.search(plotly_js())
    if found is None:
        raise RuntimeError("plotly.js's style table was not found in the bundle; update cibwatch.api.charts")
    rules = []
    for selector, body in _RULE.findall(found.group(1)):
        # The loader's own substitutions: X is a plot, Y the notifier.
        selector = (
            re.sub(r"^,", " ,", selector)
            .replace("X", ".js-plotly-plot .plotly")
            .replace("Y", ".plotly-notifier")
        )
        rules.append(f"{selector} {{{_unquote(body[1:-1])}}}")
    # The loader inserts each rule first in its sheet, so its last rule wins a tie: keep that order.
    bundled = [_unquote(css) for _, _, css in _BUNDLED.findall(plotly_js())]
    return "\n".join([*reversed(rules), *bundled]) + "\n"


@cache
def style_ids() -> tuple[str, ...]:
    """Ids of the bundled stylesheets: a page holding an element with the id stops plotly adding it."""
    return tuple(style_id for style_id, _, _ in _BUNDLED.findall(plotly_js()))


def _unquote(text: str) -> str:
    """A JavaScript string literal's body as text (only simple backslash escapes occur)."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)
