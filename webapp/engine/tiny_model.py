"""Tiny Qwen2 checkpoints built locally, for tests and the offline demo.

No model hub is reachable from the machines this runs on, so the test suite and
`make demo` build their own models in seconds: the real model's architecture
(`Qwen2ForCausalLM`) and an R1-style chat template, at 1 MB.

- `random`: random weights; valid, but its output is noise.
- `scripted`: every layer's output projection is zero, so the hidden state at a
  position is its token's embedding, and the output head maps each token to a
  fixed next token. From the prompt's last token (`<think>\\n` ends R1's
  generation prompt) it writes `SCRIPT_REASONING</think>SCRIPT_ANSWER` and stops,
  whatever the sampling settings.
- `awq`: the scripted model with its linear layers quantized to 4-bit AWQ (GEMM
  layout), so vLLM serves it through its AWQ path.

Imports torch and transformers lazily: only the builders need them.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Literal

Variant = Literal["random", "scripted", "awq"]

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Each piece is one token, so the chain of next tokens never repeats itself.
REASONING_PIECES = ("Okay,", " the user", " greets me.", " I should", " greet them", " back.")
ANSWER_PIECES = ("\n\nHello!", " I am", " a tiny", " scripted", " model.", " **Bold**", " and $x^2$.")
SCRIPT_REASONING = "".join(REASONING_PIECES)
SCRIPT_ANSWER = "".join(ANSWER_PIECES)

HIDDEN = 128
INTERMEDIATE = 256
HEADS = 4  # head_dim 32: vLLM's CPU attention needs 32 to 512
KV_HEADS = 2
LAYERS = 2
AWQ_GROUP = 32
MAX_POSITIONS = 4096

# Shaped like the DeepSeek-R1-Distill template: system text raw after BOS, past
# answers stripped of their reasoning, and a generation prompt that opens thinking.
CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{{ bos_token }}"
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}{% endif %}{% endfor %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '" + USER + "' + message['content'] }}"
    "{% elif message['role'] == 'assistant' %}"
    "{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '" + ASSISTANT + "' + content + '" + EOS + "' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '" + ASSISTANT + "<think>\\n' }}{% endif %}"
)

# The older revision of the template: the generation prompt stops at the role
# marker, so the model itself decides whether to think (and sometimes does not).
OLD_CHAT_TEMPLATE = CHAT_TEMPLATE.replace(ASSISTANT + "<think>\\n'", ASSISTANT + "'")

_CORPUS = (
    "The quick brown fox jumps over the lazy dog. What is two plus two? The answer is four.\n"
    "Please reason step by step, and put your final answer within \\boxed{}.\n"
    "请逐步推理，并将最终答案放在\\boxed{}内。你好，请介绍一下你自己。写两首关于秋天的五言绝句。\n"
    "def main():\n    print('hello world')\n"
)


def build(directory: Path, variant: Variant = "scripted", *, seed: int = 0) -> Path:
    """Write a tiny checkpoint of the given variant into `directory` and return it."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer_json = _build_tokenizer()
    (directory / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False))
    vocab = _vocabulary(tokenizer_json)
    vocab_size = (max(vocab.values()) // 64 + 1) * 64
    _write_json(
        directory / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS,
            "eos_token": EOS,
            "pad_token": EOS,
            "add_bos_token": False,
            "add_eos_token": False,
            "model_max_length": MAX_POSITIONS,
            "chat_template": CHAT_TEMPLATE,
        },
    )
    dtype = "float16" if variant == "awq" else "bfloat16"
    config: dict[str, Any] = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "bos_token_id": vocab[BOS],
        "eos_token_id": vocab[EOS],
        "torch_dtype": dtype,
    }
    _write_json(
        directory / "generation_config.json",
        {
            "bos_token_id": vocab[BOS],
            "eos_token_id": vocab[EOS],
            "do_sample": True,
            "temperature": 0.6,
            "top_p": 0.95,
        },
    )
    weights = _random_weights(vocab_size)
    if variant in ("scripted", "awq"):
        _script(weights, vocab)
    if variant == "awq":
        weights = _awq_quantize(weights)
        config["quantization_config"] = {
            "quant_method": "awq",
            "bits": 4,
            "group_size": AWQ_GROUP,
            "zero_point": True,
            "version": "gemm",
        }
    _write_json(directory / "config.json", config)
    _save(weights, directory / "model.safetensors", torch.float16 if variant == "awq" else torch.bfloat16)
    return directory


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2))


def _build_tokenizer() -> dict[str, Any]:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([_CORPUS] * 4, trainer)
    # As in the real model, the role and think markers are plain added tokens, so
    # they survive decoding and vLLM's reasoning parser finds `</think>` in the text.
    plain = [USER, ASSISTANT, THINK_OPEN, THINK_CLOSE, *REASONING_PIECES, *ANSWER_PIECES]
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in plain])
    data: dict[str, Any] = json.loads(tokenizer.to_str())
    return data


def _vocabulary(tokenizer_json: dict[str, Any]) -> dict[str, int]:
    vocab: dict[str, int] = dict(tokenizer_json["model"]["vocab"])
    for added in tokenizer_json["added_tokens"]:
        vocab[added["content"]] = added["id"]
    return vocab


def _random_weights(vocab_size: int) -> dict[str, Any]:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=False,
    )
    model = Qwen2ForCausalLM(config)  # type: ignore[no-untyped-call]
    with torch.no_grad():
        # Larger than the default init, so the random variant's output varies.
        model.lm_head.weight.normal_(0.0, 0.5)
    return {name: tensor.detach().clone().float() for name, tensor in model.state_dict().items()}


def _script(weights: dict[str, Any], vocab: dict[str, int]) -> None:
    """Make the output depend only on the current token, then wire the script."""
    import torch

    for name, tensor in weights.items():
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            tensor.zero_()  # every layer adds nothing to the residual stream
    chain = [vocab["Ċ"]]  # the byte-level token for "\n", last of `<think>\n`
    chain += [vocab[p] for p in REASONING_PIECES] + [vocab[THINK_CLOSE]]
    chain += [vocab[p] for p in ANSWER_PIECES] + [vocab[EOS]]
    embed = weights["model.embed_tokens.weight"]
    head = weights["lm_head.weight"]
    vocab_size = embed.shape[0]
    # Unit vectors in 128 dimensions are nearly orthogonal: the target's logit wins
    # by about 50 against every other, so even temperature 2 samples the script.
    directions = torch.nn.functional.normalize(torch.randn(vocab_size, HIDDEN), dim=1)
    embed.copy_(directions)
    head.zero_()
    scale = 6.0
    for current, following in itertools.pairwise(chain):
        head[following] += scale * directions[current]
    others = sorted(set(range(vocab_size)) - set(chain[:-1]))
    for token in others:
        embed[token] = directions[vocab[EOS]]  # anything off the script ends the answer
    head[vocab[EOS]] += scale * directions[vocab[EOS]]


def _awq_quantize(weights: dict[str, Any]) -> dict[str, Any]:
    """Round-to-nearest 4-bit AWQ of every linear layer, in AutoAWQ's GEMM layout."""
    out: dict[str, Any] = {}
    for name, tensor in weights.items():
        prefix = name.removesuffix(".weight")
        if name.endswith(".weight") and prefix.rsplit(".", 1)[-1] in _LINEAR:
            qweight, qzeros, scales = _awq_layer(tensor)
            out[f"{prefix}.qweight"] = qweight
            out[f"{prefix}.qzeros"] = qzeros
            out[f"{prefix}.scales"] = scales
        else:
            out[name] = tensor
    return out


_LINEAR = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
_AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)  # AutoAWQ's interleaving inside each int32


def _awq_layer(weight: Any) -> tuple[Any, Any, Any]:
    import torch

    out_features, in_features = weight.shape
    groups = weight.t().reshape(in_features // AWQ_GROUP, AWQ_GROUP, out_features)
    low = groups.amin(dim=1)
    high = groups.amax(dim=1)
    scales = (high - low) / 15
    scales = torch.where(scales == 0, torch.ones_like(scales), scales).half().float()
    zeros = torch.clamp(torch.round(-low / scales), 0, 15)
    q = torch.clamp(torch.round(groups / scales[:, None, :]) + zeros[:, None, :], 0, 15)
    q = q.reshape(in_features, out_features).to(torch.int32)
    return _pack(q), _pack(zeros.to(torch.int32)), scales.half()


def _pack(values: Any) -> Any:
    import torch

    rows, cols = values.shape
    packed = torch.zeros(rows, cols // 8, dtype=torch.int32)
    for slot, column in enumerate(_AWQ_ORDER):
        packed |= values[:, column::8] << (4 * slot)
    return packed


def _save(weights: dict[str, Any], path: Path, dtype: Any) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {name: (t if t.dtype == torch.int32 else t.to(dtype)).contiguous() for name, t in weights.items()}
    save_file(tensors, str(path), metadata={"format": "pt"})
