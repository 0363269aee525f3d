"""R1's answer must begin inside thinking: added when the template does not, never doubled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import SERVED_NAME, LiveApp, free_port, make_settings
from webapp.engine.supervisor import Engine
from webapp.engine.tiny_model import OLD_CHAT_TEMPLATE, SCRIPT_ANSWER, SCRIPT_REASONING
from webapp.llm.client import ModelClient, StreamEnd
from webapp.llm.reasoning import Piece

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
async def old_template_engine(
    models_dir: Path, vllm_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Engine]:
    """A second real vLLM server, whose chat template stops at `<｜Assistant｜>` (no `<think>\\n`)."""
    work = tmp_path_factory.mktemp("old-template")
    template = work / "old.jinja"
    template.write_text(OLD_CHAT_TEMPLATE)
    settings = make_settings(
        model=str(models_dir / "scripted"),
        served_model_name="old-template",
        max_model_len=512,
        enforce_eager=True,
        engine_port=free_port(),
        port=free_port(),
        vllm_log_file=work / "engine.log",
        engine_args=f"--chat-template {template}",
    )
    engine = Engine(settings)
    await engine.start()
    status = await engine.wait_ready(within=300)
    assert status.ready, (status, settings.vllm_log_file.read_text()[-3000:])
    yield engine
    await engine.stop()


async def answer(client: ModelClient) -> tuple[str, str]:
    events = [e async for e in client.astream(HELLO)]
    assert isinstance(events[-1], StreamEnd)
    pieces = [e for e in events if isinstance(e, Piece)]
    return (
        "".join(p.text for p in pieces if p.kind == "reasoning"),
        "".join(p.text for p in pieces if p.kind == "content"),
    )


async def test_an_old_template_gets_the_think_tag_from_the_app(old_template_engine: Engine) -> None:
    client = ModelClient(old_template_engine.base_url, api_key=old_template_engine.api_key)
    assert await client.athink_prefix() == "<think>\n"
    # The scripted model only follows its script from `<think>\n`: the exact answer proves the prefix was there.
    assert await answer(client) == (SCRIPT_REASONING, SCRIPT_ANSWER)
    cost = await client.acount_tokens(HELLO)
    assert cost is not None
    await client.aclose()


async def test_without_the_tag_the_old_template_gives_no_thinking(old_template_engine: Engine) -> None:
    client = ModelClient(old_template_engine.base_url, api_key=old_template_engine.api_key)
    client._template_opens_thinking = True  # pretend the template were right: what a naive client does
    reasoning, content = await answer(client)
    assert (reasoning, content) != (SCRIPT_REASONING, SCRIPT_ANSWER)
    await client.aclose()


async def test_a_current_template_is_not_given_a_second_tag(live_app: LiveApp) -> None:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
    assert await client.athink_prefix() is None
    assert await answer(client) == (SCRIPT_REASONING, SCRIPT_ANSWER)
    await client.aclose()
