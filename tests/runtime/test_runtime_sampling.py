"""SamplingParams refuse bad values by name; the sampler is greedy, top-k, top-p, seeded."""

from __future__ import annotations

import pytest
import torch

from autodeploy.runtime import SamplingParams, SamplingParamsError
from autodeploy.runtime.sampler import new_generator, sample_tokens


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("max_tokens", 0, "max_tokens"),
        ("max_tokens", 2.5, "max_tokens"),
        ("temperature", -0.1, "temperature"),
        ("temperature", float("nan"), "temperature"),
        ("top_k", -1, "top_k"),
        ("top_p", 0.0, "top_p"),
        ("top_p", 1.5, "top_p"),
        ("seed", "7", "seed"),
        ("stop_token_ids", [1, -2], "stop_token_ids"),
        ("stop", ["ok", ""], "stop"),
        ("ignore_eos", "yes", "ignore_eos"),
    ],
)
def test_bad_sampling_params_name_the_field_and_value(field, value, fragment):
    with pytest.raises(SamplingParamsError, match=fragment) as caught:
        SamplingParams(**{field: value})
    assert repr(value) in str(caught.value) or field == "stop"


def test_sampling_params_normalise_stop_values():
    params = SamplingParams(stop="END", stop_token_ids=[3, 4], max_tokens=None)
    assert params.stop == ("END",) and params.stop_token_ids == (3, 4) and params.max_tokens is None
    assert SamplingParams().greedy and SamplingParams(temperature=0.7, top_k=1).greedy
    assert not SamplingParams(temperature=0.7).greedy


def draw(logits, params, seed_generators=True):
    generators = [new_generator(p, "cpu") for p in params]
    return sample_tokens(logits, params, generators)


def test_greedy_and_top_k_1_take_the_argmax():
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(1))
    expected = logits.argmax(dim=-1).tolist()
    assert draw(logits, [SamplingParams()] * 6) == expected
    assert draw(logits, [SamplingParams(temperature=1.5, top_k=1, seed=i) for i in range(6)]) == expected


def test_seeded_samples_repeat_and_do_not_depend_on_the_other_rows():
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(2))
    params = [SamplingParams(temperature=1.0, seed=s) for s in (11, 12, 13, 14)]
    first = [draw(logits, params) for _ in range(2)]
    assert first[0] == first[1]
    alone = [draw(logits[i : i + 1], [params[i]])[0] for i in range(4)]
    assert alone == first[0]
    many = {tuple(draw(logits, [SamplingParams(temperature=5.0, seed=s)] * 4)) for s in range(10)}
    assert len(many) > 1  # different seeds give different samples at a high temperature


def test_top_k_and_top_p_keep_only_the_likely_tokens():
    logits = torch.tensor([[5.0, 4.0, 3.0, -10.0, -10.0, -10.0]])
    top_k = {draw(logits, [SamplingParams(temperature=10.0, top_k=2, seed=s)])[0] for s in range(200)}
    assert top_k == {0, 1}
    # probabilities ~[0.665, 0.245, 0.090, ...]: top_p 0.8 keeps the first two only
    top_p = {draw(logits, [SamplingParams(temperature=1.0, top_p=0.8, seed=s)])[0] for s in range(200)}
    assert top_p == {0, 1}
    top_p_small = {draw(logits, [SamplingParams(temperature=1.0, top_p=0.1, seed=s)])[0] for s in range(50)}
    assert top_p_small == {0}


def test_sample_tokens_refuses_mismatched_rows():
    with pytest.raises(ValueError, match="2 requests"):
        sample_tokens(torch.zeros(3, 5), [SamplingParams()] * 2, [None, None])


def test_importing_the_runtime_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, autodeploy.runtime; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
