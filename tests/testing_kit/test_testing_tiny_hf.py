"""`write_tiny_hf_checkpoint`: the one shared writer of tiny Hugging Face checkpoints in tests."""

from pathlib import Path

import torch
import transformers

from autodeploy.testing import tiny_hf_model, write_tiny_hf_checkpoint


def test_checkpoint_loads_back_as_the_seeded_model_with_its_overrides(tmp_path: Path) -> None:
    folder = write_tiny_hf_checkpoint(tmp_path / "ckpt", seed=3, hidden_size=32, tie_word_embeddings=False)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    expected = tiny_hf_model("llama", seed=3, hidden_size=32, tie_word_embeddings=False)
    assert loaded.config.hidden_size == 32 and loaded.config.head_dim == 8
    assert not loaded.config.tie_word_embeddings
    ids = torch.tensor([[1, 5, 9, 20]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, expected(ids).logits)


def test_small_shard_size_writes_an_index_and_global_rng_is_untouched(tmp_path: Path) -> None:
    torch.manual_seed(11)
    before = torch.rand(3)
    torch.manual_seed(11)
    folder = write_tiny_hf_checkpoint(tmp_path / "sharded", "qwen2", dtype=torch.bfloat16, max_shard_size="20KB")
    assert torch.equal(torch.rand(3), before)
    assert (folder / "model.safetensors.index.json").is_file()
    assert transformers.AutoConfig.from_pretrained(folder).model_type == "qwen2"


def test_random_norms_are_seeded_and_not_ones(tmp_path: Path) -> None:
    first = write_tiny_hf_checkpoint(tmp_path / "a", seed=5, random_norms=True)
    again = write_tiny_hf_checkpoint(tmp_path / "b", seed=5, random_norms=True)
    norms = {}
    for folder in (first, again):
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        norms[folder] = {n: p for n, p in model.named_parameters() if "norm" in n}
    assert norms[first] and all(not torch.equal(p, torch.ones_like(p)) for p in norms[first].values())
    assert all(torch.equal(norms[first][n], norms[again][n]) for n in norms[first])
    assert all(bool(((p >= 0.5) & (p <= 1.5)).all()) for p in norms[first].values())
