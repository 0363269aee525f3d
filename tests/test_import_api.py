"""`POST /api/import` and `GET /api/export` on the real app and a real SQLite file (no engine is needed)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from tests.exports import chatgpt_conversation, open_webui_chat
from tests.helpers import free_port, make_settings, running
from webapp.chat import transfer

MAX_CONVERSATIONS = 6
MAX_MESSAGE_CHARS = 500
IMPORT_MAX_BYTES = 4 * 1024 * 1024
MAX_BODY_BYTES = 64 * 1024  # smaller than an import may be


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(
        vllm_base_url="http://127.0.0.1:9/v1",
        port=free_port(),
        host="127.0.0.1",
        data_dir=tmp_path_factory.mktemp("import") / "data",
        max_conversations=MAX_CONVERSATIONS,
        max_message_chars=MAX_MESSAGE_CHARS,
        max_body_bytes=MAX_BODY_BYTES,
        import_max_bytes=IMPORT_MAX_BYTES,
    )
    with running(settings) as app_url:
        yield app_url


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    """A browser of its own: an owner with no conversations yet."""
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def upload(http: httpx.Client, body: bytes | object, name: str = "conversations.json") -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post("/api/import", files={"file": (name, data, "application/json")})


def texts(http: httpx.Client, conversation_id: str) -> list[tuple[str, str, str]]:
    messages = http.get(f"/api/conversations/{conversation_id}").json()["messages"]
    return [(m["role"], m["content"], m["reasoning"]) for m in messages]


def test_a_chatgpt_export_is_imported_with_its_branch_titles_and_times(http: httpx.Client) -> None:
    response = upload(http, [chatgpt_conversation()])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported"] == 1 and body["skipped"] == []
    [conversation_id] = body["ids"]
    assert texts(http, conversation_id) == [("user", "What is 2+2?", ""), ("assistant", "It is 4.", "Adding.")]
    [listed] = http.get("/api/conversations").json()
    assert listed["title"] == "Sums"
    assert (listed["created_at"], listed["updated_at"]) == (1_700_000_000.5, 1_700_000_100.25)
    assert http.get("/api/conversations", params={"search": "2+2"}).json()[0]["id"] == conversation_id


def test_an_open_webui_export_is_imported(http: httpx.Client) -> None:
    response = upload(http, [open_webui_chat("Tea"), open_webui_chat("<b>Coffee</b>")], "chat-export.json")
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    assert [texts(http, i) for i in ids] == [
        [("user", "Tea?", ""), ("assistant", "Yes.", "Hm.")],
        [("user", "<b>Coffee</b>?", ""), ("assistant", "Yes.", "Hm.")],
    ]
    assert http.get(f"/api/conversations/{ids[1]}").json()["title"] == "<b>Coffee</b>"  # text, as written


def test_the_json_export_of_everything_imports_again_to_the_same_texts(http: httpx.Client, url: str) -> None:
    upload(http, [chatgpt_conversation(), open_webui_chat("Tea")])
    exported = http.get("/api/export", params={"format": "json"})
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith('attachment; filename="conversations-')
    document = exported.json()
    assert len(document["conversations"]) == 2
    with httpx.Client(base_url=url, timeout=60) as elsewhere:
        again = upload(elsewhere, exported.content)
        assert again.status_code == 201, again.text
        assert [texts(elsewhere, i) for i in again.json()["ids"]] == [
            [(m["role"], m["content"], m["reasoning"]) for m in c["messages"]] for c in document["conversations"]
        ]
        titles = [c["title"] for c in elsewhere.get("/api/conversations").json()]
        assert sorted(titles) == ["Sums", "Tea"]


def test_the_zip_export_holds_one_markdown_file_per_conversation(http: httpx.Client) -> None:
    upload(http, [chatgpt_conversation(), open_webui_chat("../../Tea")])
    exported = http.get("/api/export", params={"format": "zip"})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert archive.namelist() == ["0001-Sums.md", "0002-Tea.md"]
    assert archive.read("0001-Sums.md").decode().startswith("# Sums\n")
    assert "It is 4." in archive.read("0001-Sums.md").decode()


def test_another_owners_imports_are_not_visible(http: httpx.Client, url: str) -> None:
    [conversation_id] = upload(http, [chatgpt_conversation()]).json()["ids"]
    with httpx.Client(base_url=url, timeout=60) as other:
        assert other.get(f"/api/conversations/{conversation_id}").status_code == 404
        assert other.get("/api/conversations").json() == []
        assert other.get("/api/export").json()["conversations"] == []


def test_a_file_that_is_no_export_is_a_422_saying_what_was_expected(http: httpx.Client) -> None:
    response = upload(http, {"name": "a package.json", "version": "1.0"})
    assert response.status_code == 422
    assert "ChatGPT's conversations.json" in response.json()["error"]["message"]
    assert http.get("/api/conversations").json() == []


def test_invalid_json_and_bad_encoding_are_400s(http: httpx.Client) -> None:
    broken = upload(http, b'[{"title": "cut here')
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["error"]["message"]
    latin = upload(http, '[{"title": "café"}]'.encode("latin-1"))
    assert latin.status_code == 400
    assert "not UTF-8" in latin.json()["error"]["message"]
    assert http.post("/api/import").status_code == 422  # no file at all
    cut = json.dumps([chatgpt_conversation(), chatgpt_conversation()]).encode()[:-200]
    assert upload(http, cut).status_code == 400
    assert http.get("/api/conversations").json() == []  # nothing of a file that is not whole


@pytest.mark.parametrize("batch", [transfer.BATCH, 4])  # one transaction, or several
def test_partial_failures_name_each_conversation_and_keep_the_good_ones(
    http: httpx.Client, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "BATCH", batch)  # the app is served in this process
    too_long = {"title": "Long", "messages": [{"role": "user", "content": "x" * (MAX_MESSAGE_CHARS + 1)}]}
    chats = [open_webui_chat(f"T{n}") for n in range(MAX_CONVERSATIONS + 1)]
    response = upload(http, [too_long, *chats])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported"] == MAX_CONVERSATIONS
    [long, over] = body["skipped"]
    assert (long["index"], long["title"]) == (1, "Long") and "MAX_MESSAGE_CHARS" in long["reason"]
    assert (over["index"], over["title"]) == (MAX_CONVERSATIONS + 2, f"T{MAX_CONVERSATIONS}")
    assert "MAX_CONVERSATIONS" in over["reason"]
    assert len(http.get("/api/conversations").json()) == MAX_CONVERSATIONS


def test_an_import_may_be_larger_than_other_bodies_but_not_than_its_own_limit(http: httpx.Client) -> None:
    big = [open_webui_chat("x" * 400) for _ in range(1)] + [{"padding": "y" * MAX_BODY_BYTES}]
    response = upload(http, big)
    assert response.status_code == 201, response.text  # over MAX_BODY_BYTES, under IMPORT_MAX_BYTES
    assert response.json()["skipped"][0]["index"] == 2
    refused = upload(http, b" " * (IMPORT_MAX_BYTES + 1))
    assert refused.status_code == 413
    assert "IMPORT_MAX_BYTES" in refused.json()["error"]["hint"]
    other = http.post("/api/conversations", json={"title": "t" * MAX_BODY_BYTES})
    assert other.status_code == 413 and "MAX_BODY_BYTES" in other.json()["error"]["hint"]


def test_gradios_upload_route_is_still_refused(http: httpx.Client) -> None:
    refused = http.post("/gradio_api/upload", files={"files": ("a.json", b"[]", "application/json")})
    assert refused.status_code == 403
