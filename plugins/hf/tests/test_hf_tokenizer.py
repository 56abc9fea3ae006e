"""init_tokenizer: the folder's tokenizer when it has one (local files only), None when it has none,
a CheckpointError naming the folder when it is broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from autodeploy_hf import AutoModelForCausalLMFactory
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from autodeploy import CheckpointError

VOCAB = {"[UNK]": 0, "the": 1, "capital": 2, "of": 3, "france": 4, "is": 5, "paris": 6}


def save_word_tokenizer(folder: Path) -> Path:
    """A real (tiny, word-level) tokenizer written by save_pretrained."""
    backend = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]").save_pretrained(folder)
    return folder


def test_no_tokenizer_files_gives_none(llama_dir: Path) -> None:
    assert AutoModelForCausalLMFactory(model=str(llama_dir)).init_tokenizer() is None


def test_the_folder_tokenizer_is_loaded(llama_dir: Path, checkpoint_copy: Callable[[Path], Path]) -> None:
    folder = save_word_tokenizer(checkpoint_copy(llama_dir))
    tokenizer = AutoModelForCausalLMFactory(model=str(folder)).init_tokenizer()
    assert tokenizer("the capital of france is paris")["input_ids"] == [1, 2, 3, 4, 5, 6]


def test_a_separate_tokenizer_folder(llama_dir: Path, tmp_path: Path) -> None:
    tokenizer_folder = save_word_tokenizer(tmp_path / "tokenizer")
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), tokenizer=str(tokenizer_folder))
    assert factory.init_tokenizer()("paris")["input_ids"] == [6]


def test_a_tokenizer_folder_without_tokenizer_files(llama_dir: Path, tmp_path: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), tokenizer=str(tmp_path))
    with pytest.raises(CheckpointError, match=rf"^{tmp_path}: .*not a folder with tokenizer files"):
        factory.init_tokenizer()


def test_a_broken_tokenizer_names_the_folder(llama_dir: Path, checkpoint_copy: Callable[[Path], Path]) -> None:
    folder = save_word_tokenizer(checkpoint_copy(llama_dir))
    (folder / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    with pytest.raises(CheckpointError, match=rf"^{folder}: its tokenizer cannot be loaded"):
        AutoModelForCausalLMFactory(model=str(folder)).init_tokenizer()
