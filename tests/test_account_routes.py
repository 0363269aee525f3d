"""The accounts' REST routes on the real app (a fake engine: no chat is needed): sign-in input,
user admin, configured users across restarts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeEngine, serve_fake
from tests.helpers import ADMIN_PASSWORD, CAROL, running, settings_for, sign_in


@pytest.fixture(scope="module")
def engine_url() -> Iterator[str]:
    with serve_fake(FakeEngine()) as url:
        yield url


@pytest.fixture(scope="module")
def url(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running(settings_for(tmp_path_factory.mktemp("account-routes"), engine_url)) as app_url:
        yield app_url


@pytest.fixture
def admin(url: str) -> Iterator[httpx.Client]:
    with sign_in(url, "admin", ADMIN_PASSWORD) as client:
        yield client


def test_json_nested_too_deep_at_sign_in_is_a_400(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        for body in (b"[" * 100_000, b'{"a":' * 50_000):
            response = client.post("/login", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["kind"] == "invalid_input"


def test_text_no_database_keeps_is_refused_plainly_never_a_500(url: str, admin: httpx.Client) -> None:
    """NUL (PostgreSQL refuses it in a query) and lone surrogates (not UTF-8) from JSON escapes."""
    with httpx.Client(base_url=url) as client:
        for name, password in [
            ("a\\u0000b", "x"),
            ("a\\ud800", "x"),
            ("admin", "\\ud800"),
        ]:
            body = f'{{"name": "{name}", "password": "{password}"}}'.encode()
            response = client.post("/login", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 401, (name, password, response.text)
            assert response.json()["error"]["message"] == "Wrong user name or password."
        assert client.post("/login", data={"name": "admin\x00", "password": ADMIN_PASSWORD}).status_code == 401
    made = admin.post(
        "/api/tokens", content=b'{"name": "ci\\u0000\\nbot"}', headers={"content-type": "application/json"}
    )
    assert made.status_code == 201 and made.json()["name"] == "ci bot"
    for body in (b'{"name": "t\\ud800"}',):
        assert admin.post("/api/tokens", content=body, headers={"content-type": "application/json"}).status_code == 422
    for user in ({"name": "eve\n", "password": "eve-pass-12"}, {"name": "eve", "password": "eve-pass\x00"}):
        response = admin.post("/api/users", json=user)
        assert response.status_code == 422, user


def test_an_admin_signs_a_user_out_everywhere(admin: httpx.Client, url: str) -> None:
    assert admin.post("/api/users", json={"name": "dave", "password": "dave-pass-1"}).status_code == 201
    with sign_in(url, "dave", "dave-pass-1") as dave:
        token = dave.post("/api/tokens", json={"name": "script"}).json()["token"]
        script = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        assert dave.get("/api/me").status_code == 200 and script.get("/api/me").status_code == 200
        assert dave.post("/api/users/admin/sign-out").status_code == 403  # admins only
        assert admin.post("/api/users/dave/sign-out").status_code == 204
        assert dave.get("/api/me").status_code == 401 and script.get("/api/me").status_code == 401
        script.close()
    with sign_in(url, "dave", "dave-pass-1") as dave:  # the password stays
        assert dave.get("/api/me").json()["name"] == "dave"
    assert admin.post("/api/users/nobody/sign-out").status_code == 404


def test_a_new_password_ends_the_users_api_tokens(admin: httpx.Client, url: str) -> None:
    assert admin.post("/api/users", json={"name": "erin", "password": "erin-pass-1"}).status_code == 201
    with sign_in(url, "erin", "erin-pass-1") as erin:
        token = erin.post("/api/tokens", json={"name": "script"}).json()["token"]
    assert admin.put("/api/users/erin/password", json={"password": "erin-pass-2"}).status_code == 204
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as script:
        assert script.get("/api/me").status_code == 401


def test_configured_users_are_listed_as_such_and_managed_only_there(admin: httpx.Client) -> None:
    listed = {u["name"]: u for u in admin.get("/api/users").json()}
    assert (listed["carol"]["managed_by"], listed["carol"]["disabled"]) == ("config", False)
    assert listed["admin"]["managed_by"] == "config"
    for refused in (
        admin.put("/api/users/carol/password", json={"password": "taken-over"}),
        admin.delete("/api/users/carol"),
    ):
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["kind"] == "conflict" and "configuration" in error["message"] and "USERS_FILE" in error["hint"]


def test_a_user_removed_from_the_users_file_cannot_sign_in_after_a_restart(engine_url: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, engine_url)
    with running(settings) as url, sign_in(url, "carol", CAROL) as carol:
        token = carol.post("/api/tokens", json={"name": "script"}).json()["token"]
        cookies = dict(carol.cookies)
    (tmp_path / "users.txt").write_text("")  # carol's line removed
    with running(settings) as url, httpx.Client(base_url=url) as client:
        assert client.post("/login", json={"name": "carol", "password": CAROL}).status_code == 401
        assert client.get("/api/me", cookies=cookies).status_code == 401
        assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        with sign_in(url, "admin", ADMIN_PASSWORD) as admin:
            carol_listed = next(u for u in admin.get("/api/users").json() if u["name"] == "carol")
            assert carol_listed["disabled"] is True
    (tmp_path / "users.txt").write_text(f"carol:{CAROL}\n")  # and back
    with running(settings) as url, sign_in(url, "carol", CAROL) as carol:
        assert carol.get("/api/me").json()["name"] == "carol"


def test_the_sign_in_page_speaks_the_browsers_language_and_keeps_a_choice(url: str) -> None:
    with httpx.Client(base_url=url) as browser:
        chinese = browser.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        assert "用户名" in chinese.text and "User name" not in chinese.text
        english = browser.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert "User name" in english.text and "用户名" not in english.text
        picked = browser.get("/login?lang=zh&next=/", headers={"Accept-Language": "en-US"})
        assert "用户名" in picked.text
        assert picked.cookies.get("lang") == "zh"
        again = browser.get("/login", headers={"Accept-Language": "en-US"})  # the cookie, kept by the client
        assert "用户名" in again.text


def test_a_refused_sign_in_says_why_in_the_readers_language(url: str) -> None:
    with httpx.Client(base_url=url) as browser:
        form = {"name": "admin", "password": "not the password", "next": "/"}
        refused = browser.post("/login", data=form, headers={"Accept-Language": "zh-CN"})
        assert refused.status_code == 401
        assert "用户名或密码错误" in refused.text
        english = browser.post("/login", data=form, headers={"Accept-Language": "en"})
        assert "Wrong user name or password." in english.text
        api = browser.post("/login", json={"name": "admin", "password": "nope"}, headers={"Accept-Language": "zh"})
        assert api.json()["error"]["message"] == "Wrong user name or password."  # the API keeps English
