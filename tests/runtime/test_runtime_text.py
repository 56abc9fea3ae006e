"""Incremental text: deltas add up to the decoded answer; stop strings cut it, even across tokens."""

from __future__ import annotations

import pytest

from autodeploy.runtime.text import IncrementalText


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint)


def feed(text: IncrementalText, ids):
    deltas = []
    for token in ids:
        deltas.append(text.add(token))
        if text.stopped_by is not None:
            break
    deltas.append(text.finish())
    return "".join(deltas)


def test_deltas_add_up_to_the_decoded_text(tokenizer):
    ids = [5, 17, 42, 9]
    assert feed(IncrementalText(tokenizer), ids) == tokenizer.decode(ids) == "w5 w17 w42 w9"


def test_a_stop_string_across_tokens_ends_the_text_before_it(tokenizer):
    text = IncrementalText(tokenizer, stop=("w42 w9",))
    assert feed(text, [5, 17, 42, 9, 3]) == "w5 w17 "
    assert text.stopped_by == "w42 w9"


def test_text_that_may_begin_a_stop_string_is_held_back(tokenizer):
    text = IncrementalText(tokenizer, stop=("w17 w99",))
    released = text.add(5) + text.add(17)
    assert released == "w5"[: len(released)] and not released.endswith("w17")  # may still become the stop
    assert released + text.add(18) + text.finish() == "w5 w17 w18"
    assert text.stopped_by is None
