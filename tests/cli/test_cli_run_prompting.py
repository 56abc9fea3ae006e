"""The prompt side of ``run``: chat template by default, raw text on request, ids as given."""

from __future__ import annotations

import json

import pytest
from autodeploy_default_model.tiny_random import make_byte_tokenizer

from autodeploy import ModelFactory
from autodeploy.cli.prompting import decode, encode_prompt, end_of_sequence_ids, parse_input_ids
from autodeploy.errors import AutodeployError


@pytest.fixture(scope="module")
def tokenizer():
    return make_byte_tokenizer()


def test_chat_template_by_default(tokenizer):
    encoded = encode_prompt(tokenizer, "Hi?", raw=False)
    assert encoded.how == "chat template"
    assert tokenizer.decode(encoded.ids) == "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
    # the template's special tokens are single ids, not spelled out byte by byte
    assert encoded.ids.count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 2


def test_raw_prompt_skips_the_template(tokenizer):
    encoded = encode_prompt(tokenizer, "Hi?", raw=True)
    assert encoded.how == "raw text"
    assert tokenizer.decode(encoded.ids) == "Hi?"


def test_a_tokenizer_without_template_sends_raw_text(tokenizer):
    plain = make_byte_tokenizer()
    plain.chat_template = None
    assert encode_prompt(plain, "Hi?", raw=False).how == "raw text"


def test_an_empty_prompt_is_refused(tokenizer):
    with pytest.raises(AutodeployError, match="empty"):
        encode_prompt(tokenizer, "", raw=True)


@pytest.mark.parametrize(("text", "ids"), [("1,2,3", [1, 2, 3]), (" 7 , 8 ", [7, 8]), ("4 5", [4, 5])])
def test_input_ids_parse(text, ids):
    assert parse_input_ids(text) == ids


@pytest.mark.parametrize("text", ["", "1,a", "1,-1", "1.5"])
def test_bad_input_ids_are_refused(text):
    with pytest.raises(AutodeployError, match="--input-ids"):
        parse_input_ids(text)


def test_end_of_sequence_ids_come_from_the_factory_and_the_tokenizer(tokenizer, tmp_path):
    from autodeploy_hf import AutoModelForCausalLMFactory

    from autodeploy.testing import tiny_hf_config

    tiny_hf_config(
        "llama", hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2, eos_token_id=3
    ).save_pretrained(tmp_path)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [7, 9]}))
    factory = AutoModelForCausalLMFactory(model=str(tmp_path))
    assert end_of_sequence_ids(factory, tokenizer) == sorted({7, 9, tokenizer.eos_token_id})
    (tmp_path / "generation_config.json").unlink()
    assert end_of_sequence_ids(factory, None) == [3]  # the config's, when there is no generation config

    class KnowsNoIds(ModelFactory):  # the base class's answer: no ids of its own
        def _build_model(self, device):
            raise NotImplementedError

        def _load_checkpoint(self, model, device):
            raise NotImplementedError

    assert end_of_sequence_ids(KnowsNoIds(), tokenizer) == [tokenizer.eos_token_id]


def test_decode_drops_special_tokens(tokenizer):
    ids = tokenizer("Paris", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert decode(tokenizer, ids) == "Paris"
