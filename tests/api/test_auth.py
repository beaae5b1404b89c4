"""Sign-in, sessions, CSRF, roles, and the guard (Host allowlist, body limit, access log), in process."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cibwatch.api import create_app
from cibwatch.api.auth import LOGIN_COOKIE, SESSION_COOKIE
from cibwatch.api.guard import Guard, host_name
from cibwatch.review import log, users
from cibwatch.store.case import Case
from tests.api.conftest import BASE
from tests.review.people import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser(case_dir: Path, **options: Any) -> TestClient:
    """A client with no credentials, keeping cookies like a browser, that does not follow redirects."""
    return TestClient(create_app(case_dir, **options), base_url=BASE, follow_redirects=False)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next_path: str = "") -> Any:
    form = client.get("/login")
    token = CSRF_FIELD.search(form.text)
    assert token, form.text
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1), "next": next_path},
        headers={"Origin": BASE},
    )


def csrf_of(client: TestClient, path: str = "/accounts/op1") -> str:
    found = CSRF_FIELD.search(client.get(path).text)
    assert found
    return found.group(1)


@pytest.fixture
def web(case_dir: Path) -> Iterator[TestClient]:
    with browser(case_dir) as c:
        yield c


def history(case_dir: Path) -> list[tuple[str, str]]:
    """(event, actor) of every review log entry."""
    with Case.open(case_dir) as case:
        return [(e["event"], e["actor"]) for e in log.entries(case)] if log.has_log(case) else []


# -- who is asking -----------------------------------------------------------------------------
def test_without_credentials_the_api_is_401_and_pages_send_to_sign_in(web: TestClient) -> None:
    api = web.get("/api/review/queue")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert "sign in first" in api.json()["error"]
    page = web.get("/accounts/op1?x=1")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Faccounts%2Fop1%3Fx%3D1"
    assert web.get("/report").status_code == 303
    assert web.get("/static/app.css").status_code == 200  # the sign-in page needs its style
    assert web.get("/login").status_code == 200


@pytest.mark.parametrize("token", ["cw_not-a-token", "", "Basic abc"])
def test_a_wrong_token_is_401(case_dir: Path, token: str) -> None:
    with TestClient(create_app(case_dir), base_url=BASE) as c:
        response = c.get("/api/summary", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_sign_in_sets_a_strict_httponly_session_and_lands_where_asked(web: TestClient) -> None:
    response = sign_in(web, "ANA", next_path="/campaigns/camp-k1")
    assert response.status_code == 303 and response.headers["location"] == "/campaigns/camp-k1"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    page = web.get("/campaigns/camp-k1")
    assert page.status_code == 200 and "ana (reviewer)" in page.text
    assert 'action="/logout"' in page.text


def test_secure_cookies_flag_marks_the_session_secure(case_dir: Path) -> None:
    with browser(case_dir, secure_cookies=True) as c:
        form = c.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        token = CSRF_FIELD.search(form.text)
        assert token
        # httpx keeps a Secure cookie off plain http, as a browser would: send it by hand.
        response = c.post(
            "/login",
            data={"name": "ana", "password": PASSWORD, "csrf_token": token.group(1)},
            headers={"Cookie": f"{LOGIN_COOKIE}={token.group(1)}"},
        )
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("name", "password"),
    [("ana", "wrong password!"), ("nobody", PASSWORD), ("a\u200bna", PASSWORD), ("", "")],
)
def test_a_failed_sign_in_says_the_same_for_any_cause(web: TestClient, name: str, password: str) -> None:
    response = sign_in(web, name, password)
    assert response.status_code == 401 and "Wrong name or password." in response.text
    assert SESSION_COOKIE not in web.cookies


def test_a_disabled_user_cannot_sign_in_and_its_session_ends(web: TestClient, case_dir: Path) -> None:
    assert sign_in(web, "ana").status_code == 303
    assert web.get("/").status_code == 200
    with Case.open(case_dir) as case:
        users.disable_user(case, "ana")
    assert web.get("/").status_code == 303
    assert sign_in(web, "ana").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_sends_to_another_site(web: TestClient, target: str) -> None:
    response = sign_in(web, "ana", next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_the_sign_in_form_needs_its_own_token(web: TestClient) -> None:
    web.get("/login")
    forged = web.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": "guess"})
    assert forged.status_code == 403 and "did not come from this server" in forged.text
    web.cookies.clear()  # another site's form: no sign-in cookie (SameSite=Strict)
    crossed = web.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": "guess"})
    assert crossed.status_code == 403


def test_an_appellant_lands_on_its_account(web: TestClient) -> None:
    assert sign_in(web, "Jane").headers["location"] == "/accounts/op1"


def test_sign_out_needs_the_csrf_token_and_ends_the_session(web: TestClient) -> None:
    sign_in(web, "ana")
    token = csrf_of(web)
    assert web.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert web.get("/").status_code == 200
    out = web.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.get("/").status_code == 303


# -- CSRF --------------------------------------------------------------------------------------
def test_a_cookie_request_that_changes_something_needs_the_csrf_token(
    web: TestClient, case_dir: Path
) -> None:
    sign_in(web, "ana")
    token = csrf_of(web)
    body = {"action": "label", "reason": "core"}
    missing = web.post("/api/review/op1/decision", json=body)
    assert missing.status_code == 403 and "missing or wrong CSRF token" in missing.json()["error"]
    wrong = web.post("/api/review/op1/decision", json=body, headers={"X-CSRF-Token": token[:-1] + "x"})
    assert wrong.status_code == 403
    other_site = web.post(
        "/api/review/op1/decision",
        json=body,
        headers={"X-CSRF-Token": token, "Origin": "http://evil.example"},
    )
    assert other_site.status_code == 403 and "another site" in other_site.json()["error"]
    assert history(case_dir) == []
    ok = web.post("/api/review/op1/decision", json=body, headers={"X-CSRF-Token": token, "Origin": BASE})
    assert ok.status_code == 201 and ok.json()["actor"] == "ana"


def test_each_session_has_its_own_csrf_token(case_dir: Path) -> None:
    with browser(case_dir) as one, browser(case_dir) as two:
        sign_in(one, "ana")
        sign_in(two, "ana")
        token_one = csrf_of(one)
        assert token_one != csrf_of(two)
        reused = two.post("/api/review/op1/decision", json={"action": "label", "reason": "r"},
                          headers={"X-CSRF-Token": token_one})  # fmt: skip
    assert reused.status_code == 403


def test_a_bearer_request_needs_no_csrf_token(as_user: Callable[[str], TestClient]) -> None:
    response = as_user("ana").post("/api/review/op1/decision", json={"action": "label", "reason": "r"})
    assert response.status_code == 201


# -- roles -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status"),
    [
        ("vic", "GET", "/api/review/queue", None, 200),
        ("vic", "POST", "/api/review/op1/decision", {"action": "label", "reason": "r"}, 403),
        ("vic", "POST", "/api/review/op1/appeal", {"statement": "s"}, 403),
        ("ana", "POST", "/api/review/op1/appeal", {"statement": "s"}, 403),
        ("jane", "GET", "/api/review/queue", None, 403),
        ("jane", "GET", "/api/summary", None, 403),
        ("jane", "GET", "/api/accounts/op2", None, 403),
        ("jane", "GET", "/api/review/op2/history", None, 403),
        ("jane", "GET", "/accounts/op2", None, 403),
        ("jane", "GET", "/", None, 403),
        ("jane", "GET", "/report", None, 403),
        ("jane", "GET", "/api/accounts/op1", None, 200),
        ("jane", "GET", "/api/review/op1/history", None, 200),
        ("jane", "GET", "/accounts/op1", None, 200),
        ("jane", "POST", "/api/review/op1/decision", {"action": "dismiss", "reason": "r"}, 403),
        ("jane", "POST", "/api/review/op2/appeal", {"statement": "s"}, 403),
        ("jane", "POST", "/api/review/op1/appeal/resolve", {"outcome": "overturned", "reason": "r"}, 403),
    ],
)  # fmt: skip
def test_roles_are_enforced(
    as_user: Callable[[str], TestClient], name: str, method: str, path: str, body: Any, status: int
) -> None:
    response = as_user(name).request(method, path, json=body)
    assert response.status_code == status, response.text
    if status == 403 and path.startswith("/api/"):
        assert f"user '{name}'" in response.json()["error"] and "may not" in response.json()["error"]


def test_pages_show_only_the_forms_the_user_may_post(as_user: Callable[[str], TestClient]) -> None:
    assert 'data-endpoint="/api/review/op1/decision"' not in as_user("vic").get("/accounts/op1").text
    assert 'data-endpoint="/api/review/op1/decision"' in as_user("ana").get("/accounts/op1").text
    assert (
        as_user("ana").post("/api/review/op1/decision", json={"action": "suspend", "reason": "r"}).is_success
    )
    jane = as_user("jane").get("/accounts/op1").text
    assert 'data-endpoint="/api/review/op1/appeal"' in jane and "/decision" not in jane
    assert 'data-endpoint="/api/review/op1/appeal"' not in as_user("ben").get("/accounts/op1").text
    assert 'name="reviewer"' not in jane and 'name="appellant"' not in jane


def test_the_actor_is_the_signed_in_user_and_names_compare_normalized(
    as_user: Callable[[str], TestClient], case_dir: Path
) -> None:
    assert (
        as_user("ana").post("/api/review/op1/decision", json={"action": "suspend", "reason": "r"}).is_success
    )
    assert as_user("jane").post("/api/review/op1/appeal", json={"statement": "I am real"}).is_success
    # A user "Ana" cannot be added beside ana, so the same person cannot judge its own decision.
    with Case.open(case_dir) as case, pytest.raises(Exception, match="already exists"):
        users.add_user(case, "Ana", "reviewer", password=PASSWORD)
    own = as_user("ana").post("/api/review/op1/appeal/resolve", json={"outcome": "upheld", "reason": "r"})
    assert own.status_code == 409
    assert (
        as_user("boss")
        .post("/api/review/op1/appeal/resolve", json={"outcome": "upheld", "reason": "r"})
        .is_success
    )
    assert history(case_dir) == [("decision", "ana"), ("appeal", "jane"), ("appeal_outcome", "boss")]


# -- the guard ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost", 200),
        ("[::1]:8000", 200),
        ("attacker.example", 400),
        ("attacker.example:8000", 400),
        ("127.0.0.1.attacker.example", 400),
        ("review.example", 400),
    ],
)
def test_only_allowed_host_names_are_served(
    as_user: Callable[[str], TestClient], host: str, status: int
) -> None:
    response = as_user("vic").get("/api/summary", headers={"Host": host})
    assert response.status_code == status
    if status == 400:
        assert "--allow-host" in response.json()["error"]


def test_allow_host_adds_a_name(case_dir: Path, tokens: dict[str, str]) -> None:
    app = create_app(case_dir, allowed_hosts=["review.example"])
    with TestClient(app, base_url="http://review.example") as c:
        response = c.get("/api/summary", headers={"Authorization": f"Bearer {tokens['vic']}"})
    assert response.status_code == 200


def test_host_names_are_parsed_like_a_browser_sends_them() -> None:
    assert [host_name(h) for h in ("LOCALHOST:80", "[::1]", "::1", "example.org")] == [
        "localhost", "::1", "::1", "example.org",
    ]  # fmt: skip


def test_a_body_over_the_limit_is_413_by_content_length_and_by_stream(
    case_dir: Path, tokens: dict[str, str]
) -> None:
    app = create_app(case_dir, max_body=1000)
    headers = {"Authorization": f"Bearer {tokens['ana']}", "Content-Type": "application/json"}
    big = json.dumps({"action": "label", "reason": "x" * 2000}).encode()
    with TestClient(app, base_url=BASE) as c:
        assert c.post("/api/review/op1/decision", content=big, headers=headers).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            for i in range(0, len(big), 100):
                yield big[i : i + 100]

        streamed = c.post("/api/review/op1/decision", content=chunks(), headers=headers)
        assert streamed.status_code == 413 and "--max-body" in streamed.json()["error"]
        small = json.dumps({"action": "label", "reason": "x" * 100}).encode()
        assert c.post("/api/review/op1/decision", content=small, headers=headers).status_code == 201
    assert history(case_dir) == [("decision", "ana")]


def test_the_guard_counts_the_stream_and_never_calls_the_app() -> None:
    """Straight ASGI: a chunked body with no Content-Length, one byte over the limit."""
    called: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(True)

    def run(max_body: int) -> list[dict[str, Any]]:
        chunks = [{"type": "http.request", "body": b"x" * 10, "more_body": True}] * 10
        chunks.append({"type": "http.request", "body": b"x", "more_body": False})
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return chunks.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"host", b"localhost")]}
        asyncio.run(Guard(app, max_body=max_body)(scope, receive, send))
        return sent

    sent = run(max_body=100)
    assert sent[0]["status"] == 413 and called == []
    run(max_body=101)  # the same request, at the limit: the app runs
    assert called == [True]


def test_every_request_is_one_access_log_line(case_dir: Path, as_user: Callable[[str], TestClient]) -> None:
    with browser(case_dir) as web:
        web.get("/api/summary")
        sign_in(web, "ana")
    as_user("ana").post("/api/review/op1/decision", json={"action": "label", "reason": "r"})
    as_user("vic").get("/api/summary", headers={"Host": "attacker.example"})
    lines = [json.loads(line) for line in (case_dir / "access.log").read_text().splitlines()]
    seen = [(e["user"], e["method"], e["path"], e["status"]) for e in lines]
    assert seen == [
        (None, "GET", "/api/summary", 401),
        (None, "GET", "/login", 200),
        ("ana", "POST", "/login", 303),
        ("ana", "POST", "/api/review/op1/decision", 201),
        (None, "GET", "/api/summary", 400),
    ]
    assert all(set(e) == {"time", "user", "method", "path", "status", "ms"} for e in lines)
    assert all(e["ms"] >= 0 and e["time"].endswith("+00:00") for e in lines)


def test_a_refused_cookie_request_is_logged_with_its_user(web: TestClient, case_dir: Path) -> None:
    sign_in(web, "ana")
    web.post("/api/review/op1/decision", json={"action": "label", "reason": "r"})
    last = json.loads((case_dir / "access.log").read_text().splitlines()[-1])
    assert (last["user"], last["status"]) == ("ana", 403)


def test_a_sign_out_without_the_session_cookie_clears_nothing(web: TestClient) -> None:
    """Another site's sign-out form arrives without the cookie; its answer must not delete it."""
    sign_in(web, "ana")
    session = web.cookies[SESSION_COOKIE]
    web.cookies.delete(SESSION_COOKIE)
    response = web.post("/logout", data={})
    assert response.status_code == 303 and "set-cookie" not in response.headers
    web.cookies.set(SESSION_COOKIE, session)
    assert web.get("/").status_code == 200


def test_a_content_length_that_is_not_a_number_is_400(as_user: Callable[[str], TestClient]) -> None:
    response = as_user("ana").post(
        "/api/review/op1/decision", content=b"{}", headers={"Content-Length": "2x"}
    )
    assert response.status_code == 400 and "is not a number of bytes" in response.json()["error"]


def test_a_route_missing_from_the_policy_is_closed_to_writes_and_appellants(
    case_dir: Path, tokens: dict[str, str]
) -> None:
    """A new route nobody listed in ROUTE_ACTION: GET needs `read`, anything else `admin`."""
    from fastapi import APIRouter, Depends

    from cibwatch.api import auth

    extra = APIRouter(dependencies=[Depends(auth.allowed)])

    @extra.get("/api/new-thing")
    def new_read() -> dict[str, bool]:
        return {"ok": True}

    @extra.post("/api/new-thing")
    def new_write() -> dict[str, bool]:
        return {"ok": True}

    app = create_app(case_dir)
    app.include_router(extra)

    def status(name: str, method: str) -> int:
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        with TestClient(app, base_url=BASE) as c:
            return c.request(method, "/api/new-thing", headers=headers).status_code

    assert [status(n, "GET") for n in ("vic", "ana", "boss", "jane")] == [200, 200, 200, 403]
    assert [status(n, "POST") for n in ("vic", "ana", "boss", "jane")] == [403, 403, 200, 403]
