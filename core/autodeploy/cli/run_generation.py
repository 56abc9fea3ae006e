"""The generation side of ``autodeploy run``: prompts in, answers and tokens/s out, through the runtime.

``run`` builds the pipeline; this module adds the sampling flags and ``--prompts-file`` to its
parser, encodes the prompts, hands them to an `Engine` (all at once: they are batched by
continuous batching) and prints each answer and the throughput.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..errors import AutodeployError
from .output import write_text
from .prompting import GIVEN_IDS, EncodedPrompt, encode_prompt

if TYPE_CHECKING:
    from ..runtime import Engine, SamplingParams


def add_generation_options(parser: argparse.ArgumentParser, prompt_group: Any) -> None:
    """``--prompts-file`` (one of the prompt choices) and the sampling flags."""
    prompt_group.add_argument(
        "--prompts-file",
        metavar="FILE",
        help="answer every line of FILE as a prompt (empty lines skipped), batched together",
    )
    sampling = parser.add_argument_group("sampling (default: greedy)")
    sampling.add_argument(
        "--temperature", type=_non_negative_float, default=0.0, help="0 is greedy (default); above 0 samples"
    )
    sampling.add_argument("--top-k", type=int, metavar="K", help="sample among the K most likely tokens")
    sampling.add_argument("--top-p", type=float, default=1.0, metavar="P", help="nucleus sampling threshold in (0, 1]")
    sampling.add_argument("--seed", type=int, help="seed of each prompt's sampling generator (reproducible runs)")
    sampling.add_argument(
        "--stop", action="append", default=[], metavar="TEXT", help="end an answer at this text (repeatable)"
    )


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def sampling_params_from(args: argparse.Namespace) -> SamplingParams:
    """The sampling flags as `SamplingParams` (a bad combination is a clear error)."""
    from ..runtime import SamplingParams, SamplingParamsError

    try:
        return SamplingParams(
            max_tokens=max(1, args.max_new_tokens),
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            stop=tuple(args.stop),
        )
    except SamplingParamsError as exc:
        flag = str(exc).split(":")[0].removeprefix("SamplingParams.").replace("_", "-")
        raise AutodeployError(f"--{flag}: {str(exc).split(': ', 1)[1]}") from None


def read_prompts_file(path: str) -> list[str]:
    """The non-empty lines of `path` (a clear error if it cannot be read or has none)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AutodeployError(f"--prompts-file: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    prompts = [line.strip() for line in lines if line.strip()]
    if not prompts:
        raise AutodeployError(f"--prompts-file: {path} has no prompts (one per line)")
    return prompts


def encode_prompts(tokenizer: Any, texts: list[str], *, raw: bool) -> list[EncodedPrompt]:
    """The lines of ``--prompts-file`` as token ids (through the chat template unless `raw`)."""
    if tokenizer is None:
        raise AutodeployError("--prompts-file needs a tokenizer, and this model has none; use --input-ids")
    return [encode_prompt(tokenizer, text, raw=raw) for text in texts]


def generate_answers(
    engine: Engine,
    prompts: list[EncodedPrompt],
    params: SamplingParams,
    max_new_tokens: int,
    timings: dict[str, float],
) -> list[dict[str, Any]]:
    """Answer every prompt through the engine, print prompts, answers and tokens/s; return the records."""
    from ..runtime import RequestError

    single = len(prompts) == 1
    records: list[dict[str, Any]] = [{} for _ in prompts]
    index_of: dict[str, int] = {}
    for index, prompt in enumerate(prompts):
        label = "" if single else f"[{index}] "
        shown = prompt.text if prompt.text is not None else prompt.ids
        write_text(f"{label}prompt ({prompt.how}, {len(prompt.ids)} tokens): {shown}")
        if max_new_tokens == 0:
            records[index] = _record([], None, "length", None, max_new_tokens, engine)
            continue
        try:
            index_of[engine.add_request(prompt.ids, params)] = index
        except RequestError as exc:
            if single:
                raise _as_cli_error(exc, prompt) from None
            records[index] = _record([], None, "error", str(exc), max_new_tokens, engine)
    tick = time.perf_counter()
    while engine.has_unfinished():
        for output in engine.step():
            if output.finished:
                text = output.text if engine.tokenizer is not None else None
                records[index_of[output.request_id]] = _record(
                    list(output.token_ids), text, output.finish_reason, output.error, max_new_tokens, engine
                )
    seconds = timings["generate_s"] = time.perf_counter() - tick
    total = sum(record["num_new_tokens"] for record in records)
    for index, record in enumerate(records):
        label = "" if single else f"[{index}] "
        if record["error"] is not None:
            if single:
                raise _as_cli_error(AutodeployError(record["error"]), prompts[index])
            write_text(f"{label}error: {record['error']}", stream=sys.stderr)
        elif record["text"] is not None:
            write_text(f"{label}{record['text']}")
        else:
            write_text(f"{label}generated ids: {','.join(map(str, record['new_ids']))}")
    rate = total / seconds if seconds > 0 else 0.0
    for record in records:
        record["tokens_per_s"] = rate
    cache = "KV cache" if engine.cached else "no KV cache"
    across = "" if single else f" for {len(prompts)} prompts"
    write_text(f"generated {total} token(s){across} in {seconds:.2f} s ({rate:.1f} tokens/s, {cache})")
    return records


def _record(
    new_ids: list[int], text: Optional[str], reason: Optional[str], error: Optional[str], limit: int, engine: Engine
) -> dict[str, Any]:
    eos = sorted(engine.eos_token_ids)
    return {
        "new_ids": new_ids,
        "text": text,
        "num_new_tokens": len(new_ids),
        "max_new_tokens": limit,
        "eos_token_ids": eos,
        "ended_with_eos": bool(new_ids) and new_ids[-1] in eos,
        "finish_reason": reason,
        "error": error,
    }


def _as_cli_error(exc: Exception, prompt: EncodedPrompt) -> AutodeployError:
    if prompt.how == GIVEN_IDS:
        return AutodeployError(f"--input-ids: {exc}; ids given: {prompt.ids}")
    return AutodeployError(str(exc))
