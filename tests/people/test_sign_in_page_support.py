"""What a sign-in page needs of the API beyond the session itself: the enrolment QR code drawn by the
server (the page has no QR library and its policy admits no image from elsewhere) and the list of methods."""

from __future__ import annotations

import httpx
import pytest
from defusedxml import ElementTree
from pydantic import SecretStr

from app.services import HurenApp
from tests.people.conftest import MovableClock, NewPerson

SVG = "{http://www.w3.org/2000/svg}"


async def test_the_enrolment_answer_carries_the_qr_code_as_plain_svg(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    password = await new_person("he.clerk")
    first = await cookie_client.post("/v1/session", json={"username": "he.clerk", "password": password})
    assert first.status_code == 401
    body = first.json()
    assert body["code"] == "session.otp_enrolment_required"
    root = ElementTree.fromstring(body["otp_qr_svg"])
    # The page parses it as image/svg+xml and imports the node: it must name the SVG namespace itself.
    assert root.tag == f"{SVG}svg"
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "g", "path"}  # shapes only: nothing that runs, styles or links
    assert not any(
        name.startswith("on") or name in {"style", "href"} for e in root.iter() for name in e.attrib
    )
    # Asked again before enrolling, it is the same secret, so the same picture.
    again = await cookie_client.post("/v1/session", json={"username": "he.clerk", "password": password})
    assert again.json()["otp_qr_svg"] == body["otp_qr_svg"]


async def test_a_wrong_password_gets_no_qr_code(
    cookie_client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    await new_person("xu.clerk")
    wrong = await cookie_client.post("/v1/session", json={"username": "xu.clerk", "password": "guess"})
    assert wrong.status_code == 401
    assert "otp_qr_svg" not in wrong.json()
    assert "otp_uri" not in wrong.json()


async def test_the_methods_list_password_and_oidc_only_where_configured(
    anonymous: httpx.AsyncClient, app: HurenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = await anonymous.get("/v1/session/methods")
    assert plain.status_code == 200
    assert plain.json() == {"methods": ["password"]}
    with_sso = app.services.settings.model_copy(
        update={
            "oidc_issuer": "https://idp.example.gov.cn/realms/staff",
            "oidc_client_id": "huren",
            "oidc_client_secret": SecretStr("not-used-here"),
        }
    )
    monkeypatch.setattr(app.services, "settings", with_sso)
    assert (await anonymous.get("/v1/session/methods")).json() == {"methods": ["password", "oidc"]}
