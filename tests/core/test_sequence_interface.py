"""The sequence interface's step description: packed tokens, metadata, limits, graph inputs."""

from __future__ import annotations

import pytest
import torch

from autodeploy import CachedSequenceInterface


def test_a_mixed_step_is_packed_into_one_row_with_its_metadata():
    cm = CachedSequenceInterface(max_seq_len=16, max_batch_size=4)
    # a prefill of 3 tokens in slot 2, and a decode step of a sequence holding 5 tokens in slot 0
    batch = cm.nest_sequences([[7, 8, 9], [4]], input_pos=[0, 5], cache_loc=[2, 0])
    assert batch.num_tokens == 4 and not batch.is_decode_only
    assert cm.batch_tensor("input_ids").tolist() == [[7, 8, 9, 4]]
    assert cm.batch_tensor("position_ids").tolist() == [[0, 1, 2, 5]]
    assert cm.batch_tensor("seq_len").tolist() == [3, 1]
    assert cm.batch_tensor("seq_start").tolist() == [0, 3]
    assert cm.batch_tensor("last_token_index").tolist() == [2, 3]
    assert cm.batch_tensor("cache_loc").tolist() == [2, 0]
    assert list(cm.named_args) == ["input_ids", "position_ids"]


def test_metadata_and_caches_become_graph_inputs_in_order():
    cm = CachedSequenceInterface(max_seq_len=8, max_batch_size=2)
    cm.add_graph_input("input_pos")
    cm.add_graph_input("input_pos")  # once only
    cm.add_cache("k_cache_0", lambda c: torch.zeros(c.max_batch_size, c.max_seq_len, 2, 4))
    with pytest.raises(RuntimeError, match="not allocated"):
        cm.nest_sequences([[1]], [0], [0])
        _ = cm.named_args
    assert cm.initialize_caches() == 2 * 8 * 2 * 4 * 4
    assert list(cm.named_args) == ["input_ids", "position_ids", "input_pos", "k_cache_0"]
    with pytest.raises(ValueError, match="unknown sequence metadata"):
        cm.add_graph_input("seq_lens")


@pytest.mark.parametrize(
    ("tokens", "input_pos", "cache_loc", "message"),
    [
        ([[1]] * 3, [0, 0, 0], [0, 1, 2], "max_batch_size=2"),
        ([[1], [2]], [0, 0], [1, 1], "distinct"),
        ([[1, 2]], [7], [0], "outside max_seq_len 8"),
        ([[]], [0], [0], "at least one new token"),
        ([[1] * 5], [0], [0], "at most 4 tokens"),
    ],
)
def test_a_step_beyond_the_limits_is_refused(tokens, input_pos, cache_loc, message):
    cm = CachedSequenceInterface(max_seq_len=8, max_batch_size=2, max_num_tokens=4)
    with pytest.raises(ValueError, match=message):
        cm.nest_sequences(tokens, input_pos, cache_loc)
