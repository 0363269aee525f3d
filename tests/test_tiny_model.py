"""The tiny checkpoints the suite builds: the AWQ packing must be AutoAWQ's."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from webapp.engine import tiny_model

AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)


def unpack(packed: torch.Tensor) -> torch.Tensor:
    """AutoAWQ's GEMM unpacking, written out independently of the packer."""
    rows, packs = packed.shape
    out = torch.zeros(rows, packs * 8, dtype=torch.int32)
    for slot, column in enumerate(AWQ_ORDER):
        out[:, column::8] = (packed >> (4 * slot)) & 0xF
    return out


def test_awq_layers_dequantize_to_the_original_weights() -> None:
    torch.manual_seed(1)
    weight = torch.randn(64, 96) * 0.05  # [out, in], as in a torch Linear
    qweight, qzeros, scales = tiny_model._awq_layer(weight)
    assert qweight.shape == (96, 8) and qzeros.shape == (3, 8) and scales.shape == (3, 64)
    q = unpack(qweight).float()
    zeros = unpack(qzeros).float().repeat_interleave(tiny_model.AWQ_GROUP, dim=0)
    dequantized = ((q - zeros) * scales.float().repeat_interleave(tiny_model.AWQ_GROUP, dim=0)).t()
    step = scales.float().max().item()
    assert (dequantized - weight).abs().max().item() <= step  # round-to-nearest: within one step


def test_zero_layers_stay_exactly_zero_after_quantization() -> None:
    qweight, qzeros, scales = tiny_model._awq_layer(torch.zeros(64, 64))
    q, zeros = unpack(qweight).float(), unpack(qzeros).float().repeat_interleave(tiny_model.AWQ_GROUP, dim=0)
    assert torch.equal((q - zeros) * scales.float().repeat_interleave(tiny_model.AWQ_GROUP, dim=0), torch.zeros(64, 64))


def test_awq_checkpoint_declares_its_quantization(models_dir: Path) -> None:
    config = json.loads((models_dir / "awq" / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "awq"
    assert config["torch_dtype"] == "float16"  # vLLM's AWQ refuses float32
    tensors = load_file(str(models_dir / "awq" / "model.safetensors"))
    assert tensors["model.layers.0.self_attn.q_proj.qweight"].dtype == torch.int32
    assert "model.layers.0.self_attn.q_proj.weight" not in tensors


def test_scripted_model_writes_its_script_in_transformers(models_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models_dir / "scripted")
    prompt = str(
        tokenizer.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True)
    )
    assert prompt.endswith("<｜Assistant｜><think>\n")
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    model = AutoModelForCausalLM.from_pretrained(models_dir / "scripted", dtype=torch.float32)
    out = model.generate(ids, max_new_tokens=40, do_sample=True, temperature=1.5)  # type: ignore[misc]
    text = tokenizer.decode(out[0][ids.shape[1] :], skip_special_tokens=True)
    assert text == f"{tiny_model.SCRIPT_REASONING}</think>{tiny_model.SCRIPT_ANSWER}"
