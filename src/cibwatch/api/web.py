"""The web UI: an overview with the review queue, one page per account, and the case's HTML report."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from cibwatch import review, views
from cibwatch.api import auth, charts, pages
from cibwatch.api.routes import access, campaign_of, summary_of
from cibwatch.errors import CaseError
from cibwatch.report import Limits, campaign_card, card_fragment, narratives_fragment, render
from cibwatch.report.page import static as report_static
from cibwatch.report.render import files_dir

# Pages need a signed-in user allowed to see them (auth.ROUTE_ACTION); the static files are public,
# so the sign-in page has its style and script.
router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.allowed)])
public = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "app.css": "text/css",
    "app.js": "text/javascript",
    "pages.css": "text/css",
    "live.js": "text/javascript",
}
# The report's chart script, shared: it draws the charts of the JSON block on a page, as in the report.
REPORT_STATIC = {"report.js": "text/javascript"}
STATIC_CACHE = {"Cache-Control": "max-age=3600"}
REPORT = "report.html"
QUEUE_SHOWN = 200  # the overview's queue; the JSON API lists every account
# An account page's bounds, so a hub account's page stays small and quick.
EDGES_SHOWN = 20  # most significant edges with their posts
PAIRS_SHOWN = 5  # co-actions (post pairs) per edge
CAMPAIGNS_SHOWN = 3
# A campaign page lists up to this many members (the report lists 50); all are in the JSON API.
CARD_LIMITS = Limits(members_listed=500)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, tier: str | None = None, campaign: str | None = None, status: str | None = None
) -> HTMLResponse:
    # The filter form sends an empty field for "any"; review.queue refuses any other unknown value (422).
    filters = {"tier": tier or None, "campaign": campaign or None, "status": status or None}
    with access(request).open() as case:
        summary = summary_of(case)
        try:
            queue = review.queue(
                case,
                limit=QUEUE_SHOWN,
                tier=filters["tier"],
                campaign=filters["campaign"],
                status=filters["status"],
            )
        except CaseError:
            queue = None
        campaigns = views.records(views.campaign_rows(case))
        log_check = review.verify_log(case, incremental=True).as_dict()  # not a full walk per load
    page = pages.overview_page(summary, queue, campaigns, log_check, filters=filters, me=auth.me(request))
    return HTMLResponse(page, headers=pages.HEADERS)


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
def account(request: Request, account_id: str) -> HTMLResponse:
    with access(request).open() as case:
        record = review.show(case, account_id)
        evidence = views.account_evidence(case, account_id, max_edges=EDGES_SHOWN, max_pairs=PAIRS_SHOWN)
        memberships = record["case_file"]["campaigns"][:CAMPAIGNS_SHOWN]
        cards = [campaign_card(case, c["campaign_id"]) for c in memberships]
        first = next((card for card in cards if card is not None and card.timeline), None)
        # The account's posts in its campaign's buckets, so the two series share the time axis.
        activity = views.activity(case, [account_id], bucket=first.bucket if first else None)
    campaigns = [
        pages.AccountCampaign(c, None if card is None else narratives_fragment(card))
        for c, card in zip(memberships, cards, strict=True)
    ]
    context = views.Activity(first.bucket, first.timeline) if first else None
    page = pages.account_page(record, evidence, campaigns, activity, context, me=auth.me(request))
    return HTMLResponse(page, headers=pages.HEADERS)


@router.get("/campaigns/{campaign_id:path}", response_class=HTMLResponse)
def campaign(request: Request, campaign_id: str) -> HTMLResponse:
    with access(request).open() as case:
        record = campaign_of(case, campaign_id)
        card = campaign_card(case, campaign_id, CARD_LIMITS)
    if card is None:  # campaign_of found it, so only a table written between the two reads does this
        raise CaseError(f"campaign {campaign_id!r} changed while its page was read; reload the page")
    fragment = card_fragment(card, CARD_LIMITS, account_url=pages.account_url)
    return HTMLResponse(pages.campaign_page(record, fragment, me=auth.me(request)), headers=pages.HEADERS)


@router.get("/live", response_class=HTMLResponse)
def live(request: Request) -> HTMLResponse:
    """The watched case as it changes: /static/live.js polls GET /api/live and redraws the page."""
    from cibwatch.watch import live_state

    with access(request).open() as case:
        state = live_state(case)
    return HTMLResponse(pages.live_page(state, me=auth.me(request)), headers=pages.HEADERS)


@public.get("/static/{name}")
def static(name: str) -> Response:
    if name == "plotly.min.js":
        return Response(charts.plotly_js(), media_type="text/javascript", headers=STATIC_CACHE)
    if name == "plotly.css":
        return Response(charts.plotly_css(), media_type="text/css", headers=STATIC_CACHE)
    if name in REPORT_STATIC:
        return Response(report_static(name), media_type=REPORT_STATIC[name], headers=STATIC_CACHE)
    if name not in STATIC_FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name])


@router.get("/report")
def report(request: Request) -> FileResponse:
    """The case's report.html; rendered first (without PNG figures, for speed) when there is none.

    The report carries its own Content-Security-Policy, so it is served as written.
    """
    case_access = access(request)
    path = case_access.root / REPORT
    if not path.exists():
        with case_access.open() as case:
            render(case, path, figures=False)
    return FileResponse(path, media_type="text/html")


@router.get("/report_files/{name:path}")
def report_file(request: Request, name: str) -> FileResponse:
    """plotly.js and the figures beside report.html; nothing outside that folder."""
    folder = files_dir(access(request).root / REPORT).resolve()
    target = (folder / name).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise HTTPException(404, f"no report file {name!r}; render the report with GET /report")
    return FileResponse(target)
