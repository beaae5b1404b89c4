"""The web UI: an overview with the review queue, one page per account, and the case's HTML report."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from cibwatch import review, views
from cibwatch.api import pages
from cibwatch.api.routes import access, campaign_of, summary_of
from cibwatch.errors import CaseError
from cibwatch.report import render
from cibwatch.report.render import files_dir

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"app.css": "text/css", "app.js": "text/javascript"}
REPORT = "report.html"


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    with access(request).open() as case:
        summary = summary_of(case)
        try:
            queue = review.queue(case, limit=200)
        except CaseError:
            queue = None
        campaigns = views.records(views.campaign_rows(case))
        log_check = review.verify_log(case).as_dict()
    return HTMLResponse(pages.overview_page(summary, queue, campaigns, log_check), headers=pages.HEADERS)


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
def account(request: Request, account_id: str) -> HTMLResponse:
    with access(request).open() as case:
        record = review.show(case, account_id)
    return HTMLResponse(pages.account_page(record), headers=pages.HEADERS)


@router.get("/campaigns/{campaign_id:path}", response_class=HTMLResponse)
def campaign(request: Request, campaign_id: str) -> HTMLResponse:
    with access(request).open() as case:
        record = campaign_of(case, campaign_id)
    return HTMLResponse(pages.campaign_page(record), headers=pages.HEADERS)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
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
