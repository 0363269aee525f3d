"""`/openapi.json` (shown at `/docs`) describes every request and response of the REST API."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tests.helpers import make_settings
from webapp.application import create_app


def openapi(tmp_path: Path) -> dict[str, Any]:
    app = create_app(make_settings(data_dir=tmp_path, vllm_base_url="http://127.0.0.1:9/v1", admin_password="x" * 8))
    spec: dict[str, Any] = app.openapi()
    return spec


def test_every_api_route_documents_its_answer_and_its_errors(tmp_path: Path) -> None:
    paths = openapi(tmp_path)["paths"]
    api = {path: ops for path, ops in paths.items() if path.startswith("/api/") or path in ("/healthz", "/readyz")}
    assert len(api) >= 14, sorted(api)
    for path, operations in api.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            ok = next(status for status in responses if status.startswith("2"))
            if ok != "204":  # a body: its schema, or the media types of a stream or a file
                content = responses[ok].get("content", {})
                assert content, f"{method.upper()} {path}: {ok} says nothing of its body"
                media = next(iter(content.values()))
                if "application/json" in content:
                    assert media.get("schema") not in (None, {}), f"{method.upper()} {path}: untyped JSON answer"
            if path.startswith("/api/"):
                error = responses.get("422") or responses.get("404") or responses.get("401")
                assert error is not None, f"{method.upper()} {path}: no error documented"


def test_the_answers_name_their_fields(tmp_path: Path) -> None:
    spec = openapi(tmp_path)
    schemas = spec["components"]["schemas"]
    conversation = spec["paths"]["/api/conversations/{conversation_id}"]["get"]["responses"]["200"]
    ref = conversation["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"id", "title", "messages"} <= set(schemas[ref]["properties"])
    assert set(schemas["ErrorDetail"]["properties"]) == {"kind", "message", "hint"}
    assert (
        "text/event-stream"
        in (spec["paths"]["/api/conversations/{conversation_id}/messages"]["post"]["responses"]["200"]["content"])
    )
    me = spec["paths"]["/api/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert me.endswith("/Me")


def test_no_route_hands_its_request_to_a_worker_thread_before_it_starts(tmp_path: Path) -> None:
    # FastAPI runs an endpoint or a dependency that is a plain function in a worker thread: a hop
    # per request, which on a busy machine waits for a core (the first token's time pays it).
    app = create_app(make_settings(data_dir=tmp_path, vllm_base_url="http://127.0.0.1:9/v1", admin_password="x" * 8))

    def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
        for sub in dependant.dependencies:
            if sub.call is not None:
                yield sub.call
            yield from calls(sub)

    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert len(routes) >= 30
    for route in routes:
        for call in (route.endpoint, *calls(route.dependant)):
            assert inspect.iscoroutinefunction(call), f"{route.path}: {call.__qualname__} runs in a worker thread"
