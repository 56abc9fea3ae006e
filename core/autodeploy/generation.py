"""Greedy decoding over any module that maps ``input_ids`` to logits, and a logits comparison.

The pipeline's final module is called like the model, ``module(input_ids=ids)``, and returns logits
(as a tensor, a ``ModelOutput``, a dict or a tuple, depending on how far the pipeline went). The
keyword matters: an exported graph accepts its inputs by the names they were exported with.

Given the sequence interface of a pipeline whose cache_init stage inserted a KV cache
(``cm.cache_names`` non-empty), `greedy_generate` runs cached: one prefill step, then one token per
sequence per step, ``module(**cm.named_args)`` (a minimal loop until the runtime's scheduler takes
over). Without one, each step re-runs the whole sequence: quadratic, but exactly what
``generate(do_sample=False, use_cache=False)`` computes.

torch is imported inside the functions: importing autodeploy must stay torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    import torch

    from .interface import CachedSequenceInterface

EosIds = Union[int, Iterable[int], None]


def logits_of(output: Any) -> torch.Tensor:
    """The logits tensor in a module's output: a tensor, ``.logits``, ``["logits"]`` or ``[0]``."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if logits is None and isinstance(output, dict):
        logits = output.get("logits")
    if logits is None and isinstance(output, (tuple, list)) and output:
        logits = output[0]
    if not isinstance(logits, torch.Tensor):
        raise TypeError(
            f"the module returned {type(output).__name__}, which holds no logits tensor "
            "(expected a tensor, an object with `.logits`, a dict with 'logits' or a tuple starting with it)"
        )
    return logits


def _eos_set(eos_token_id: EosIds) -> list[int]:
    if eos_token_id is None:
        return []
    if isinstance(eos_token_id, int):
        return [eos_token_id]
    return [int(token) for token in eos_token_id]


def greedy_generate(
    module: Callable[..., Any],
    input_ids: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: EosIds = None,
    pad_token_id: Optional[int] = None,
    cm: Optional[CachedSequenceInterface] = None,
) -> torch.Tensor:
    """Extend `input_ids` (batch, seq) greedily by up to `max_new_tokens` tokens; return all ids.

    With `cm` holding caches (after cache_init), the module is run step by step over them.

    A sequence that produced an end-of-sequence id (`eos_token_id`: one id or several) is
    finished; it is padded with `pad_token_id` (default: the first EOS id) while the others go
    on, as Hugging Face's ``generate`` does. The loop stops when every sequence is finished or
    the limit is reached. The prompts of a batch must have the same length (no attention mask).
    """
    import torch

    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape (batch, seq), got {tuple(input_ids.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    eos_ids = _eos_set(eos_token_id)
    if pad_token_id is None and eos_ids:
        pad_token_id = eos_ids[0]
    eos_tensor = torch.tensor(eos_ids, dtype=input_ids.dtype, device=input_ids.device)
    sequences = input_ids
    unfinished = torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    cached_cm = cm if cm is not None and cm.cache_names else None
    if cached_cm is not None and input_ids.shape[0] > cached_cm.max_batch_size:
        raise ValueError(f"{input_ids.shape[0]} prompts but the caches hold max_batch_size={cached_cm.max_batch_size}")
    with torch.no_grad():
        for step in range(max_new_tokens):
            if cached_cm is not None:
                logits = _cached_step_logits(module, cached_cm, sequences, step == 0)
            else:
                logits = logits_of(module(input_ids=sequences))[:, -1, :]
            next_tokens = logits.argmax(dim=-1).to(input_ids.dtype)
            if eos_ids:
                next_tokens = torch.where(unfinished, next_tokens, torch.full_like(next_tokens, pad_token_id or 0))
            sequences = torch.cat([sequences, next_tokens[:, None]], dim=-1)
            if eos_ids:
                unfinished &= ~torch.isin(next_tokens, eos_tensor)
                if not bool(unfinished.any()):
                    break
    return sequences


def _cached_step_logits(
    module: Callable[..., Any], cm: CachedSequenceInterface, sequences: torch.Tensor, prefill: bool
) -> torch.Tensor:
    """One cached step for every row (slot i holds row i): the prompt at first, then the last token."""
    length = sequences.shape[1]
    rows = sequences.tolist()
    batch = cm.nest_sequences(
        rows if prefill else [row[-1:] for row in rows],
        input_pos=[0 if prefill else length - 1] * len(rows),
        cache_loc=range(len(rows)),
    )
    logits = logits_of(module(**cm.named_args))[0]
    if logits.shape[0] != batch.num_tokens:
        return logits  # one row per sequence already (the last tokens' logits)
    return logits[cm.batch_tensor("last_token_index")]


def compare_logits(a: Any, b: Any) -> float:
    """The largest absolute difference between two logits (tensors or model outputs), in float32.

    Used by ``run --check`` to compare the optimized module with the eager model on one input.
    NaN anywhere in the difference gives NaN, which fails any ``diff <= tolerance`` test.
    """
    import torch

    left, right = logits_of(a), logits_of(b)
    if left.shape != right.shape:
        raise ValueError(f"logits shapes differ: {tuple(left.shape)} vs {tuple(right.shape)}")
    if left.numel() == 0:
        return 0.0
    with torch.no_grad():
        difference = left.detach().to(torch.float32) - right.detach().to(device=left.device, dtype=torch.float32)
        if bool(torch.isnan(difference).any()):
            return float("nan")
        return float(difference.abs().max())
