"""The baseline every figure is compared with: the common pattern of vLLM's and Gradio's own examples.

A `gr.ChatInterface` whose function streams from the OpenAI-compatible server with
the synchronous client and yields the whole text at every token, launched with
`launch()` and Gradio's default queue (one event at a time per function). Like
vLLM's reasoning examples it shows the thinking too, so that its first token is
the same one the app shows first.

    python -m bench.baseline --port 7861 --upstream http://127.0.0.1:8000/v1 --model NAME
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any, cast

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam


def build(upstream: str, model: str, api_key: str) -> gr.ChatInterface:
    client = OpenAI(base_url=upstream, api_key=api_key)

    def predict(message: str, history: list[dict[str, Any]]) -> Iterator[str]:
        messages = [
            cast(ChatCompletionMessageParam, {"role": m["role"], "content": _text(m["content"])}) for m in history
        ]
        messages.append({"role": "user", "content": message})
        stream = client.chat.completions.create(
            model=model, messages=messages, temperature=0.6, top_p=0.95, stream=True
        )
        partial = ""
        for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            partial += (delta.model_extra or {}).get("reasoning") or delta.content or ""
            yield partial

    return gr.ChatInterface(predict, api_name="chat")


def _text(content: Any) -> str:
    if isinstance(content, list):  # Gradio 6 gives message parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="OpenAI-compatible base URL, ending in /v1")
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default=os.environ.get("BENCH_UPSTREAM_KEY", "EMPTY"))
    args = parser.parse_args()
    build(args.upstream, args.model, args.api_key).launch(server_name="127.0.0.1", server_port=args.port)


if __name__ == "__main__":
    main()
