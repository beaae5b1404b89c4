"""``create_app(case_dir)``: the REST API and the web UI of one case, as a FastAPI app.

>>> from cibwatch.api import create_app                    # doctest: +SKIP
>>> uvicorn.run(create_app("out/case"), port=8000)         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from cibwatch import __version__
from cibwatch.api import auth, guard, pages, routes, web
from cibwatch.api.access import CaseAccess
from cibwatch.errors import (
    AccessDenied,
    CaseError,
    CibwatchError,
    ConfigError,
    InputFormatError,
    ReviewError,
    SignInRequired,
)

# CibwatchError subclass -> HTTP status; the first match wins, anything else is a 400.
ERROR_STATUS: tuple[tuple[type[CibwatchError], int], ...] = (
    (SignInRequired, 401),
    (AccessDenied, 403),
    (CaseError, 404),  # an unknown account or campaign, a stage that has not run
    (ReviewError, 409),  # a review step out of order: the request is valid, the state forbids it
    (ConfigError, 422),
    (InputFormatError, 422),
)


def status_of(exc: CibwatchError) -> int:
    return next((status for kind, status in ERROR_STATUS if isinstance(exc, kind)), 400)


def create_app(
    case_dir: str | Path,
    *,
    allowed_hosts: Iterable[str] = (),
    max_body: int = guard.MAX_BODY,
    secure_cookies: bool = False,
) -> FastAPI:
    """The app serving ``case_dir``: JSON under ``/api``, HTML pages at ``/``, ``/accounts/…``, ``/report``.

    Every route but ``/login`` and ``/static`` needs a signed-in user (``cibwatch.api.auth``).
    The guard (``cibwatch.api.guard``) answers only to loopback names and ``allowed_hosts``, refuses
    bodies over ``max_body`` bytes and logs each request to ``case_dir/access.log``.
    ``secure_cookies`` marks the session cookie Secure when a TLS proxy serves the app over https.
    Raises ``CaseError`` at once when ``case_dir`` is not a case.
    """
    app = FastAPI(
        title="cibwatch",
        version=__version__,
        description="Bots, coordination, campaigns and review decisions of one cibwatch case.",
        # The interactive docs pages load their scripts from a CDN; the UI must work offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.case_access = CaseAccess(case_dir)
    app.state.secure_cookies = secure_cookies
    app.include_router(routes.router)
    app.include_router(auth.router)
    app.include_router(web.public)
    app.include_router(web.router)
    app.add_middleware(
        guard.Guard,
        allowed_hosts=tuple(allowed_hosts),
        max_body=max_body,
        access_log=Path(case_dir) / guard.ACCESS_LOG,
    )

    def error(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse({"error": message}, status_code=status, headers=headers)
        page = pages.error_page(status, message, me=auth.me(request))
        return HTMLResponse(page, status_code=status, headers=pages.HEADERS)

    @app.exception_handler(CibwatchError)
    def cibwatch_error(request: Request, exc: CibwatchError) -> Response:
        if isinstance(exc, SignInRequired) and not request.url.path.startswith("/api/"):
            return auth.sign_in_redirect(request)
        return error(request, status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error(request, 422, f"invalid request: {problems}")

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        return error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(duckdb.IOException)
    def case_busy(request: Request, exc: duckdb.IOException) -> Response:
        # Another process (a CLI command) holds case.duckdb: a retry after it finishes succeeds.
        message = f"the case database is in use by another process; retry in a moment ({exc})"
        return error(request, 503, message)

    return app
