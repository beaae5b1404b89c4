"""Who is asking, and may they: sign-in sessions, API tokens, CSRF, and the routes' access policy.

A request is authenticated by either

- ``Authorization: Bearer <token>``: a script's API token (``cibwatch users token NAME``). Browsers
  never add this header on their own, so a token request needs no CSRF token; or
- the session cookie set by ``POST /login``: HttpOnly, SameSite=Strict, Secure over https (or with
  ``secure_cookies``). A browser adds a cookie to any request to this server, so every unsafe
  method (POST, …) with it must also carry the session's CSRF token in ``X-CSRF-Token`` (the review
  forms do, through app.js) or a ``csrf_token`` form field (sign-out), and an ``Origin`` header, when
  present, must be this server's.

``ROUTE_ACTION`` then says which ``cibwatch.review.users.may`` action each route needs. A route not
listed needs ``read`` for GET and HEAD, and ``admin`` for anything else: a new route is closed to
appellants and to writes until it is listed here.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import python_multipart  # noqa: F401  (Form() needs it: a missing package fails here, not at sign-in)
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cibwatch.api import pages
from cibwatch.api.access import CaseAccess
from cibwatch.errors import AccessDenied, SignInRequired
from cibwatch.review import users
from cibwatch.review.users import User

SESSION_COOKIE = "cibwatch_session"
LOGIN_COOKIE = "cibwatch_login"  # the sign-in form's CSRF token, before there is a session
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Endpoint name -> the action it needs; ``account_id`` comes from the path.
ROUTE_ACTION: dict[str, users.Action] = {
    "get_account": "read_account",
    "get_history": "read_account",
    "account": "read_account",  # the account's HTML page
    "post_decision": "decide",
    "post_appeal": "appeal",
    "post_resolve": "resolve",
}


def _access(request: Request) -> CaseAccess:
    return request.app.state.case_access


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # a same-origin GET, or an old browser: the CSRF token still decides
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def signed_in(request: Request) -> User:
    """The request's user (also left in ``request.state.user`` for the access log and the pages).

    Raises ``SignInRequired`` without a valid token or session, ``AccessDenied`` for a cookie request
    that changes something without the session's CSRF token or from another origin.
    """
    token = _bearer(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    with _access(request).open() as case:
        if token is not None:
            user = users.user_for_token(case, token)
            session = None
        else:
            session = users.session_for(case, session_id) if session_id else None
            user = session.user if session else None
    if user is None:
        what = "API token" if token is not None else "session"
        raise SignInRequired(
            f"sign in first: no valid {what} (an expired session, a disabled user or a replaced token)"
        )
    request.state.user = user  # the access log names who was refused, too
    if session is not None:
        request.state.csrf_token = session.csrf_token
        if request.method not in SAFE_METHODS:
            if not _same_origin(request):
                raise AccessDenied("refused: the request comes from another site (Origin header)")
            if not users.same_token(request.headers.get(CSRF_HEADER), session.csrf_token):
                raise AccessDenied("refused: missing or wrong CSRF token; reload the page and try again")
    return user


def allowed(request: Request, user: User = Depends(signed_in)) -> User:
    """The router-wide check: ``user`` may do what the matched route does (``ROUTE_ACTION``)."""
    route = request.scope.get("route")
    name = getattr(route, "name", "")
    default: users.Action = "read" if request.method in SAFE_METHODS else "admin"
    action = ROUTE_ACTION.get(name, default)
    account_id = request.path_params.get("account_id")
    users.authorize(user, action, account_id if action in ("read_account", "appeal") else None)
    return user


def me(request: Request) -> pages.Me | None:
    """The signed-in user as the pages show it (name, role, the CSRF token for their forms)."""
    user = getattr(request.state, "user", None)
    if user is None:
        return None
    return pages.Me(user, getattr(request.state, "csrf_token", None))


def home_of(user: User) -> str:
    """Where a user lands after signing in: an appellant on its account, anyone else on the queue."""
    return pages.account_url(user.account_id) if user.role == "appellant" and user.account_id else "/"


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


def _local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this server; None for another site (``//evil``, ``/\\evil``, a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _cookie_options(request: Request) -> dict[str, Any]:
    secure = request.url.scheme == "https" or request.app.state.secure_cookies
    return {"httponly": True, "samesite": "strict", "secure": secure}


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, _local_path(next), message=None, status=200)


def _login_form(request: Request, next_path: str | None, message: str | None, status: int) -> HTMLResponse:
    form_token = secrets.token_urlsafe(32)
    page = pages.login_page(form_token, next_path or "", message)
    response = HTMLResponse(page, status_code=status, headers=pages.HEADERS)
    response.set_cookie(LOGIN_COOKIE, form_token, max_age=3600, path="/login", **_cookie_options(request))
    return response


@router.post("/login")
async def login(
    request: Request,
    name: str = Form("", max_length=users.MAX_NAME),
    password: str = Form("", max_length=1000),
    csrf_token: str = Form(""),
    next: str = Form(""),
) -> Response:
    # Double submit: the form's token must be the one this server set in the sign-in page's cookie,
    # which another site can neither read nor (SameSite=Strict) have sent along.
    if not _same_origin(request) or not users.same_token(request.cookies.get(LOGIN_COOKIE), csrf_token):
        raise AccessDenied("refused: the sign-in form did not come from this server; reload /login")
    with _access(request).open() as case:
        user, stored = users.password_hash_of(case, name)
    # argon2 takes a while on purpose: outside the case lock and off the event loop.
    user = await run_in_threadpool(users.check_password, user, stored, password)
    if user is None:
        return _login_form(request, _local_path(next), "Wrong name or password.", status=401)
    with _access(request).open() as case:
        session_id, _ = users.new_session(case, user)
    request.state.user = user
    response = RedirectResponse(_local_path(next) or home_of(user), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=users.SESSION_HOURS * 3600, path="/", **_cookie_options(request)
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login", **_cookie_options(request))
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    response = RedirectResponse("/login", status_code=303)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        # No cookie came, as from another site's form (SameSite=Strict): clear nothing, or that site
        # could sign a reviewer out through the Set-Cookie of this answer.
        return response
    with _access(request).open() as case:
        session = users.session_for(case, session_id)
        if session is not None:
            # Sign-out is a change too: another site must not be able to end a session.
            if not _same_origin(request) or not users.same_token(csrf_token, session.csrf_token):
                raise AccessDenied("refused: missing or wrong CSRF token; reload the page and try again")
            users.end_session(case, session_id)
    response.delete_cookie(SESSION_COOKIE, path="/", **_cookie_options(request))
    return response
