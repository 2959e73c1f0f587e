"""Local sign-in, browser sessions and what a session may do: the People contract (shared API.md)."""

from __future__ import annotations

import httpx
import pyotp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.main import create_app, start_services
from app.people.accounts import Actor, disable_staff, reset_factor
from app.people.sessions import PLAIN_COOKIE, SECURE_COOKIE, cookie_name_for
from app.services import HurenApp
from app.settings import Settings
from tests.conftest import bearer, mint_token, savepoints
from tests.people.conftest import MovableClock, NewPerson, secret_of, sign_in


async def test_first_sign_in_enrols_totp_then_password_and_code_open_a_session(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("wang.clerk")
    answer, secret = await sign_in(cookie_client, "wang.clerk", password, clock)
    assert answer["username"] == "wang.clerk"
    assert answer["roles"] == ["clerk"]
    assert answer["regions"] == ["CQ"]
    assert answer["method"] == "password"
    assert len(answer["csrf_token"]) >= 32
    current = await cookie_client.get("/v1/session")
    assert current.status_code == 200
    assert current.json() == answer
    # The next sign-in asks for the code, and takes a fresh one.
    again = await cookie_client.post("/v1/session", json={"username": "wang.clerk", "password": password})
    assert again.status_code == 401
    assert again.json()["code"] == "session.otp_required"
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock())
    body = {"username": "wang.clerk", "password": password, "otp": code}
    assert (await cookie_client.post("/v1/session", json=body)).status_code == 200
    # RFC 6238 §5.2: the same code is not accepted twice.
    replay = await cookie_client.post("/v1/session", json=body)
    assert replay.status_code == 401
    assert replay.json()["code"] == "session.invalid"


async def test_unknown_name_wrong_password_and_wrong_code_get_one_answer(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("li.admin", roles="admin", regions="SC")
    _, secret = await sign_in(cookie_client, "li.admin", password, clock)
    clock.advance(seconds=60)
    wrong_code = f"{(int(pyotp.TOTP(secret).at(clock())) + 1) % 1_000_000:06d}"
    answers = [
        await cookie_client.post("/v1/session", json={"username": "nobody", "password": password}),
        await cookie_client.post("/v1/session", json={"username": "li.admin", "password": "wrong"}),
        await cookie_client.post(
            "/v1/session", json={"username": "li.admin", "password": password, "otp": wrong_code}
        ),
    ]
    bodies = [answer.json() for answer in answers]
    assert {answer.status_code for answer in answers} == {401}
    assert {(b["code"], b["detail"], b["title"]) for b in bodies} == {
        ("session.invalid", "the user name, password or code is not right", "Sign-in refused")
    }
    assert all("otp_uri" not in b for b in bodies)


async def test_five_failures_lock_a_name_for_fifteen_minutes_known_or_not(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("zhao.clerk")
    for name in ("zhao.clerk", "no.such.person"):
        for _ in range(5):
            failed = await cookie_client.post("/v1/session", json={"username": name, "password": "guess"})
            assert failed.status_code == 401
        locked = await cookie_client.post("/v1/session", json={"username": name, "password": password})
        assert locked.status_code == 429
        assert locked.json()["code"] == "session.locked"
        assert 890 <= int(locked.headers["Retry-After"]) <= 900
    clock.advance(minutes=15, seconds=1)
    released = await cookie_client.post("/v1/session", json={"username": "zhao.clerk", "password": password})
    assert released.status_code == 401
    assert released.json()["code"] == "session.otp_enrolment_required"


async def test_a_sign_in_always_starts_a_new_session_and_ends_the_one_brought(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("sun.clerk")
    first, secret = await sign_in(cookie_client, "sun.clerk", password, clock)
    old_cookie = cookie_client.cookies[PLAIN_COOKIE]
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock())
    second = await cookie_client.post(
        "/v1/session", json={"username": "sun.clerk", "password": password, "otp": code}
    )
    assert second.status_code == 200
    assert cookie_client.cookies[PLAIN_COOKIE] != old_cookie
    assert second.json()["csrf_token"] != first["csrf_token"]
    # A cookie planted before sign-in (fixation) is not adopted: the old one no longer works.
    cookie_client.cookies.set(PLAIN_COOKIE, old_cookie)
    stale = await cookie_client.get("/v1/session")
    assert stale.status_code == 401
    assert stale.json()["code"] == "session.expired"


async def test_the_session_cookie_is_httponly_lax_and_host_only(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("qian.clerk")
    first = await cookie_client.post("/v1/session", json={"username": "qian.clerk", "password": password})
    code = pyotp.TOTP(secret_of(first.json()["otp_uri"])).at(clock())
    answer = await cookie_client.post(
        "/v1/session", json={"username": "qian.clerk", "password": password, "otp": code}
    )
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"{PLAIN_COOKIE}=")
    assert {"httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "samesite=lax" in cookie.lower()
    assert "max-age" not in attributes
    # Served over https, the cookie is __Host- prefixed (Secure, Path=/, no Domain: browsers enforce it).
    assert cookie_name_for("https://huren.rsj.cq.gov.cn") == SECURE_COOKIE
    assert cookie_name_for("http://127.0.0.1:8000") == PLAIN_COOKIE


async def test_idle_and_absolute_time_outs_end_a_session(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("zhou.clerk")
    _, secret = await sign_in(cookie_client, "zhou.clerk", password, clock)
    clock.advance(minutes=14)
    assert (await cookie_client.get("/v1/session")).status_code == 200
    clock.advance(minutes=15, seconds=1)
    idle = await cookie_client.get("/v1/session")
    assert idle.status_code == 401
    assert idle.json()["code"] == "session.expired"

    code = pyotp.TOTP(secret).at(clock())
    body = {"username": "zhou.clerk", "password": password, "otp": code}
    assert (await cookie_client.post("/v1/session", json=body)).status_code == 200
    for _ in range(7 * 6 + 5):  # used every ten minutes for 7 h 50 min
        clock.advance(minutes=10)
        assert (await cookie_client.get("/v1/session")).status_code == 200
    clock.advance(minutes=10, seconds=1)
    ended = await cookie_client.get("/v1/session")
    assert ended.status_code == 401
    assert ended.json()["code"] == "session.expired"


async def test_state_changes_with_the_cookie_need_the_csrf_token(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("wu.clerk")
    answer, _ = await sign_in(cookie_client, "wu.clerk", password, clock)
    body = {"kind": "title", "region": "SC", "number": "5101002026000001", "name": "张三"}
    refused = await cookie_client.post("/v1/verify", json=body)
    assert refused.status_code == 403
    assert refused.json()["code"] == "session.csrf"
    forged = await cookie_client.post("/v1/verify", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert forged.status_code == 403
    verified = await cookie_client.post(
        "/v1/verify", json=body, headers={"X-CSRF-Token": answer["csrf_token"]}
    )
    assert verified.status_code == 200, verified.text
    no_sign_out = await cookie_client.delete("/v1/session")
    assert no_sign_out.status_code == 403
    signed_out = await cookie_client.delete("/v1/session", headers={"X-CSRF-Token": answer["csrf_token"]})
    assert signed_out.status_code == 204
    assert PLAIN_COOKIE not in cookie_client.cookies
    assert (await cookie_client.get("/v1/session")).status_code == 401


async def test_sign_in_from_another_sites_page_is_refused(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("zheng.clerk")
    answer = await cookie_client.post(
        "/v1/session",
        json={"username": "zheng.clerk", "password": password},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "session.origin"


async def test_a_disabled_persons_live_session_is_refused_at_once(
    cookie_client: httpx.AsyncClient,
    new_person: NewPerson,
    clock: MovableClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    password = await new_person("feng.clerk")
    await sign_in(cookie_client, "feng.clerk", password, clock)
    async with sessionmaker() as session:
        await disable_staff(session, "feng.clerk", actor=Actor("test"), now=clock())
        await session.commit()
    refused = await cookie_client.get("/v1/session")
    assert refused.status_code == 401
    assert refused.json()["code"] == "session.expired"
    again = await cookie_client.post("/v1/session", json={"username": "feng.clerk", "password": password})
    assert again.status_code == 401
    assert again.json()["code"] == "session.invalid"


async def test_a_reset_factor_ends_sessions_and_asks_for_a_new_enrolment(
    cookie_client: httpx.AsyncClient,
    new_person: NewPerson,
    clock: MovableClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    password = await new_person("chen.admin", roles="admin", regions="SC")
    _, old_secret = await sign_in(cookie_client, "chen.admin", password, clock)
    async with sessionmaker() as session:
        await reset_factor(session, "chen.admin", actor=Actor("test"), now=clock())
        await session.commit()
    assert (await cookie_client.get("/v1/session")).status_code == 401
    clock.advance(seconds=30)
    _, new_secret = await sign_in(cookie_client, "chen.admin", password, clock)
    assert new_secret != old_secret


async def test_roles_map_to_scopes_and_a_session_is_judged_like_a_token(
    app: HurenApp, new_person: NewPerson, clock: MovableClock
) -> None:
    people = {}
    for username, roles in (("c.clerk", "clerk"), ("a.auditor", "auditor"), ("m.admin", "admin")):
        password = await new_person(username, roles=roles, regions="SC")
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        answer, _ = await sign_in(client, username, password, clock)
        client.headers["X-CSRF-Token"] = answer["csrf_token"]
        people[roles] = client
    try:
        clerk, auditor, admin = people["clerk"], people["auditor"], people["admin"]
        assert (await clerk.get("/v1/admin/audit")).status_code == 403
        assert (await clerk.get("/v1/admin/clients")).status_code == 403
        assert (await auditor.get("/v1/admin/audit")).status_code == 200
        assert (await auditor.get("/v1/admin/audit/verify")).json()["intact"] is True
        assert (await auditor.post("/v1/admin/clients", json={})).status_code == 403
        assert (await auditor.post("/v1/verify", json={})).status_code == 403
        assert (await admin.get("/v1/admin/clients")).status_code == 200
        assert (await admin.get("/v1/admin/audit")).status_code == 200
    finally:
        for client in people.values():
            await client.aclose()


async def test_the_audit_names_the_person_method_and_roles_and_filters_by_person(
    cookie_client: httpx.AsyncClient, app: HurenApp, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("he.clerk")
    answer, _ = await sign_in(cookie_client, "he.clerk", password, clock)
    body = {"kind": "title", "region": "SC", "number": "5101002026000002", "name": "李四"}
    verified = await cookie_client.post(
        "/v1/verify", json=body, headers={"X-CSRF-Token": answer["csrf_token"]}
    )
    assert verified.status_code == 200
    await cookie_client.post("/v1/session", json={"username": "he.clerk", "password": "wrong"})
    await cookie_client.delete("/v1/session", headers={"X-CSRF-Token": answer["csrf_token"]})

    auditor = bearer(mint_token(app, "test-admin", "audit:read"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        page = (await client.get("/v1/admin/audit", params={"actor": "he.clerk"}, headers=auditor)).json()
        failures = await client.get(
            "/v1/admin/audit", params={"action": "session.sign_in_failed", "limit": 1}, headers=auditor
        )
        chain = (await client.get("/v1/admin/audit/verify", headers=auditor)).json()
    actions = [item["action"] for item in page["items"]]
    # Newest first: everything the person did, each naming them.
    assert actions == ["session.signed_out", "credential.verified", "session.signed_in"]
    verified_event = next(item for item in page["items"] if item["action"] == "credential.verified")
    assert verified_event["actor"] == "he.clerk"
    assert verified_event["actor_method"] == "password"
    assert verified_event["actor_roles"] == ["clerk"]
    assert verified_event["client_id"] == "huren-web"
    failed = failures.json()["items"][0]
    assert failed["object_ref"] == "staff:he.clerk"
    assert failed["outcome"] == "failure"
    assert chain["intact"] is True


async def test_the_audit_listing_pages_with_a_cursor(client: httpx.AsyncClient, app: HurenApp) -> None:
    for number in range(3):
        body = {"kind": "title", "region": "SC", "number": f"51010020260000{number:02d}", "name": "王五"}
        assert (await client.post("/v1/verify", json=body)).status_code == 200
    first = (await client.get("/v1/admin/audit", params={"limit": 2, "client_id": "test-admin"})).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"] is not None
    second = (
        await client.get(
            "/v1/admin/audit", params={"limit": 2, "client_id": "test-admin", "cursor": first["next_cursor"]}
        )
    ).json()
    assert second["items"][0]["seq"] < first["items"][-1]["seq"]
    assert all(item["actor"] is None for item in first["items"] + second["items"])
    naive = await client.get("/v1/admin/audit", params={"since": "2026-12-07T09:00:00"})
    assert naive.status_code == 422


async def test_a_token_caller_has_no_session(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/session")
    assert answer.status_code == 401
    assert answer.json()["code"] == "session.none"


async def test_over_https_the_cookie_is_host_prefixed_and_secure(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    new_person: NewPerson,
) -> None:
    https = settings.model_copy(update={"public_url": "https://testserver"})
    app = create_app(https, engine=engine)
    await start_services(app, engine, transactions=savepoints(connection), sessionmaker=sessionmaker)
    clock = MovableClock()
    app.services.clock = clock
    password = await new_person("tls.clerk")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        answer, _ = await sign_in(client, "tls.clerk", password, clock)
        cookie = client.cookies.jar
        assert [c.name for c in cookie] == [SECURE_COOKIE]
        assert all(c.secure for c in cookie)
        assert (await client.get("/v1/session")).json()["username"] == "tls.clerk"
        # The plain name is not read where the node is served over https.
        client.cookies.clear()
        client.cookies.set(PLAIN_COOKIE, "x" * 43)
        assert (await client.get("/v1/session")).status_code == 401
    assert answer["method"] == "password"
