"""Greedy generation over a module, checked against Hugging Face's own ``generate``."""

import subprocess
import sys

import pytest
import torch
from torch import nn
from transformers import LlamaForCausalLM

from autodeploy.generation import compare_logits, greedy_generate, logits_of
from autodeploy.testing import tiny_hf_model

VOCAB = 97


@pytest.fixture(scope="module")
def tiny_llama() -> LlamaForCausalLM:
    return tiny_hf_model(
        "llama",
        seed=1234,
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=128,
        # large init so that greedy picks vary from step to step instead of repeating one token
        initializer_range=0.5,
        pad_token_id=None,
        tie_word_embeddings=False,
    )


@pytest.fixture(scope="module")
def prompts() -> torch.Tensor:
    generator = torch.Generator().manual_seed(7)
    return torch.randint(3, VOCAB, (2, 6), generator=generator)


def hf_greedy(model, input_ids, max_new_tokens, **kwargs):
    return model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        use_cache=False,
        **kwargs,
    )


class LogitsOnly(nn.Module):
    """A module returning a bare logits tensor, as an exported graph does."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False).logits


class TupleOutput(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False, return_dict=False)


def test_greedy_matches_hf_generate_without_eos(tiny_llama, prompts):
    expected = hf_greedy(tiny_llama, prompts, 10, eos_token_id=None, min_new_tokens=10)
    ours = greedy_generate(tiny_llama, prompts, max_new_tokens=10)
    assert ours.shape == (2, 16)
    assert torch.equal(ours, expected)
    # the test would be weak if the model just repeated one token
    assert len(set(ours[0, 6:].tolist())) > 1


@pytest.mark.parametrize("wrapper", [LogitsOnly, TupleOutput])
def test_greedy_reads_logits_from_any_output_kind(tiny_llama, prompts, wrapper):
    expected = greedy_generate(tiny_llama, prompts, max_new_tokens=5)
    assert torch.equal(greedy_generate(wrapper(tiny_llama), prompts, max_new_tokens=5), expected)


def test_greedy_stops_at_eos_and_pads_finished_rows_like_hf(tiny_llama, prompts):
    free_run = greedy_generate(tiny_llama, prompts, max_new_tokens=10)
    new_row0 = free_run[0, 6:].tolist()
    eos = new_row0[3]
    first_eos = new_row0.index(eos)
    pad = 0

    expected = hf_greedy(tiny_llama, prompts, 10, eos_token_id=eos, pad_token_id=pad)
    ours = greedy_generate(tiny_llama, prompts, max_new_tokens=10, eos_token_id=eos, pad_token_id=pad)

    assert torch.equal(ours, expected)
    assert ours[0, 6 + first_eos].item() == eos
    assert (ours[0, 6 + first_eos + 1 :] == pad).all()


def test_greedy_stops_early_when_every_row_finished(tiny_llama, prompts):
    single = prompts[:1]
    free_run = greedy_generate(tiny_llama, single, max_new_tokens=8)
    new_tokens = free_run[0, 6:].tolist()
    eos_ids = [new_tokens[2], 10_000]  # a list of EOS ids, one of which never occurs
    stopped = greedy_generate(tiny_llama, single, max_new_tokens=8, eos_token_id=eos_ids)
    stop_at = new_tokens.index(new_tokens[2])
    assert stopped.shape[1] == 6 + stop_at + 1
    assert torch.equal(stopped, free_run[:, : 6 + stop_at + 1])
    assert torch.equal(stopped, hf_greedy(tiny_llama, single, 8, eos_token_id=eos_ids))


def test_zero_new_tokens_returns_the_prompt(tiny_llama, prompts):
    assert torch.equal(greedy_generate(tiny_llama, prompts, max_new_tokens=0), prompts)


def test_bad_arguments_are_refused(tiny_llama, prompts):
    with pytest.raises(ValueError, match="shape"):
        greedy_generate(tiny_llama, prompts[0], max_new_tokens=2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_generate(tiny_llama, prompts, max_new_tokens=-1)


def test_module_without_logits_is_named():
    with pytest.raises(TypeError, match="no logits"):
        logits_of({"hidden": torch.zeros(1)})


def test_compare_logits_is_the_largest_absolute_difference(tiny_llama, prompts):
    with torch.no_grad():
        reference = tiny_llama(input_ids=prompts, use_cache=False)
    same = LogitsOnly(tiny_llama)(prompts)
    assert compare_logits(reference, same) == 0.0

    shifted = reference.logits.clone()
    shifted[1, 2, 3] -= 0.5
    shifted[0, 0, 0] += 0.25
    assert compare_logits(reference, shifted) == pytest.approx(0.5, abs=1e-6)


def test_compare_logits_refuses_other_shapes_and_flags_nan():
    a = torch.zeros(1, 3, 5)
    with pytest.raises(ValueError, match="shapes differ"):
        compare_logits(a, torch.zeros(1, 4, 5))
    b = a.clone()
    b[0, 1, 1] = float("nan")
    difference = compare_logits(a, b)
    assert not difference <= 1.0  # NaN fails every tolerance


def test_generation_module_imports_without_torch():
    code = "import autodeploy.generation, sys; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
