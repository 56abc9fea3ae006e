"""``autodeploy run``: optimize a model through a pipeline, then answer a prompt with it.

The whole path a user cares about in one command: resolve the model (a checkpoint folder, or a
name such as the embedded default), merge the pipeline config (mode <- files <- ``--set``), run
the transforms and print their report, then generate greedily with the optimized module.
``--check`` compares its logits with the eager model's; ``--report-json`` keeps everything.

torch and transformers are imported inside `run`, never when the CLI starts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

from ..atomic import atomic_write_text
from ..distributed import DistributedContext
from ..errors import AutodeployError, ConfigError, TransformError
from ..optimizer import build_sequence_interface
from ..optimizer.pipeline_config import DEFAULT_MODE, PYTHON_SOURCE, PipelineConfig
from ..optimizer.resolve import resolve_pipeline
from .config_options import add_check_options, add_set_option
from .model_source import CACHE_DIR_VAR, ResolvedModel
from .output import write_text
from .prompting import GIVEN_IDS, EncodedPrompt, encode_prompt, parse_input_ids
from .ranks import add_world_size_option, launch_if_requested, quiet_unless_main
from .run_checks import check_ids_fit_vocabulary, check_report_path
from .run_debug import add_debug_options, attach_debug_options
from .run_generation import (
    add_generation_options,
    encode_prompts,
    generate_answers,
    read_prompts_file,
    sampling_params_from,
)

if TYPE_CHECKING:
    from ..interface import CachedSequenceInterface
    from ..optimizer import InferenceOptimizer, RunResult
    from ..plugin import PluginHost
    from ..records import RunReport
    from .logits_check import CheckResult

NAME = "run"
HELP = "optimize a model through a pipeline and generate text with it"
DEFAULT_PROMPT = "What is the capital of France?"
DEFAULT_MAX_NEW_TOKENS = 32
EXIT_CHECK_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=f"{HELP}. Without --model it runs the embedded default model "
        f"(SmolLM2-135M-Instruct, prepared once in the cache: ${CACHE_DIR_VAR}, else "
        "$XDG_CACHE_HOME/autodeploy, else ~/.cache/autodeploy).",
        parents=parents,
    )
    parser.add_argument(
        "--model",
        metavar="DIR|NAME",
        help="a local Hugging Face checkpoint folder, or a model name a plugin knows "
        "(default, smollm2, tiny-random); default: the embedded default model",
    )
    parser.add_argument(
        "--mode",
        help=f"the preset pipeline (graph, transformers, ...; wins over `mode:` in the configs, with a warning); "
        f"default: `mode:` of the configs, else {DEFAULT_MODE}",
    )
    parser.add_argument(
        "--config",
        dest="configs",
        action="append",
        default=[],
        metavar="FILE",
        help="a YAML pipeline config, merged over the mode (repeatable, later files win)",
    )
    add_set_option(parser, "transforms.compile_model.backend=torch-simple")
    add_check_options(parser)
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"the text to answer (default: {DEFAULT_PROMPT!r})")
    prompt.add_argument("--input-ids", metavar="IDS", help="token ids instead of a prompt, e.g. 1,2,3 (no tokenizer)")
    parser.add_argument(
        "--raw-prompt",
        action="store_true",
        help="send the prompt as it is, not through the tokenizer's chat template",
    )
    add_generation_options(parser, prompt)
    parser.add_argument(
        "--max-new-tokens",
        type=_non_negative_int,
        default=DEFAULT_MAX_NEW_TOKENS,
        metavar="N",
        help=f"generate at most N tokens (default {DEFAULT_MAX_NEW_TOKENS}; stops earlier at end of sequence)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the optimized module's logits with the eager model's on the prompt; exit 1 above the tolerance",
    )
    parser.add_argument(
        "--check-tol",
        type=_positive_float,
        metavar="TOL",
        help="absolute logits tolerance for --check (default 1e-3 for float32, larger for half precision)",
    )
    parser.add_argument("--report-json", metavar="FILE", help="write the run report, output and timings as JSON")
    add_debug_options(parser)
    add_world_size_option(parser)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def run(args: argparse.Namespace, host: PluginHost) -> int:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    # cheap checks first: a typo in --set or a config file fails before any model work
    checks = {"strict": args.strict, "allow_unavailable": args.allow_unavailable}
    config, _ = resolve_pipeline(host, files=args.configs, overrides=args.overrides, mode=args.mode, **checks)
    if args.world_size is not None:
        config = config.model_copy(update={"world_size": args.world_size})
    launched = launch_if_requested(config.world_size)
    if launched is not None:
        return launched
    rank = quiet_unless_main()
    finished = False
    try:
        status = _run_in_this_process(args, host, config, rank, started, timings)
        finished = True
        return status
    finally:
        rank.leave_process_group(finished=finished)


def _run_in_this_process(
    args: argparse.Namespace,
    host: PluginHost,
    config: PipelineConfig,
    rank: DistributedContext,
    started: float,
    timings: dict[str, float],
) -> int:
    """The whole run in this process: the only process, or one rank of several."""
    given_ids = parse_input_ids(args.input_ids) if args.input_ids is not None else None
    if given_ids is not None:
        _check_fits(len(given_ids), args.max_new_tokens, config)
    check_report_path(args.report_json)

    params = sampling_params_from(args)
    prompt_lines = read_prompts_file(args.prompts_file) if args.prompts_file is not None else None

    from ..runtime import build_engine, prepare_pipeline

    prepared = prepare_pipeline(host, config, args.model, strict=args.strict, allow_unavailable=args.allow_unavailable)
    config, resolved, factory, optimizer = prepared.config, prepared.resolved, prepared.factory, prepared.optimizer
    timings["resolve_model_s"] = resolved.seconds
    check_ids_fit_vocabulary(given_ids, factory)
    write_text(f"model: {resolved.describe()}")
    write_text(f"mode: {config.mode}")

    import torch

    tick = time.perf_counter()
    tokenizer = factory.init_tokenizer()
    if prompt_lines is not None:
        prompts = encode_prompts(tokenizer, prompt_lines, raw=args.raw_prompt)
    else:
        prompts = [_encode(tokenizer, args, given_ids, resolved)]
        _check_fits(len(prompts[0].ids), args.max_new_tokens, config)
    timings["tokenize_s"] = time.perf_counter() - tick
    prompt = prompts[0]  # --check and the debug options look at the first prompt
    input_ids = torch.tensor([prompt.ids], dtype=torch.long, device=config.device)
    with _user_ids_errors(prompt):
        observers = attach_debug_options(args, host, optimizer, factory, config, input_ids)

    cm = build_sequence_interface(config)
    result = _optimize(optimizer, cm, config, resolved, args.report_json, timings)
    observers.report()
    engine = build_engine(result.module, cm, tokenizer, factory, resolved.path)
    generations = generate_answers(engine, prompts, params, args.max_new_tokens, timings)

    check: Optional[CheckResult] = None
    if args.check:
        from .logits_check import check_against_eager

        with _user_ids_errors(prompt):
            check = check_against_eager(
                result.module,
                factory,
                input_ids,
                config.device,
                args.check_tol,
                run_optimized=lambda ids: engine.prompt_logits(ids[0].tolist()),
            )
        timings["check_s"] = check.seconds
        write_text(check.describe())

    timings["total_s"] = time.perf_counter() - started
    if args.report_json and rank.is_main:
        payload = {
            "ok": (check is None or check.passed) and not any(g["error"] for g in generations),
            **_common_payload(config, resolved, result.report, timings),
            "prompt": {"text": prompt.text, "how": prompt.how, "input_ids": prompt.ids},
            "generation": generations[0],
            "check": check.to_dict() if check is not None else None,
            **observers.to_dict(),
        }
        if len(prompts) > 1:
            payload["prompts"] = [{"text": p.text, "how": p.how, "input_ids": p.ids} for p in prompts]
            payload["generations"] = generations
        _write_report(args.report_json, payload)
    if check is not None and not check.passed:
        write_text(
            f"error: --check failed: the optimized module's logits differ from the eager model's by "
            f"{check.max_abs_diff:.3e}, above the tolerance {check.tolerance:.1e} (set it with --check-tol)"
            + (f"; {observers.bisector.verdict()}" if observers.bisector else "; --bisect names the transform"),
            stream=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    if any(generation["error"] for generation in generations):
        return EXIT_CHECK_FAILED  # a refused prompt (reported above); the others were answered
    return 0


def _optimize(
    optimizer: InferenceOptimizer,
    cm: CachedSequenceInterface,
    config: PipelineConfig,
    resolved: ResolvedModel,
    report_json: Optional[str],
    timings: dict[str, float],
) -> RunResult:
    """Run the pipeline and print its report; a failed run still prints and writes what it did."""
    tick = time.perf_counter()
    try:
        result = optimizer.run(cm)
    except TransformError as exc:
        report = getattr(exc, "report", None)
        if report is not None:
            write_text(report.format_table())
        if report_json:
            _write_report(report_json, _failure_payload(config, resolved, report, exc, timings))
        raise
    timings["pipeline_s"] = time.perf_counter() - tick
    write_text(result.report.format_table())
    write_text(f"pipeline: {len(result.report.records)} transform(s) in {timings['pipeline_s']:.2f} s")
    return result


def _encode(
    tokenizer: Any, args: argparse.Namespace, given_ids: Optional[list[int]], resolved: ResolvedModel
) -> EncodedPrompt:
    if given_ids is not None:
        return EncodedPrompt(ids=given_ids, how=GIVEN_IDS)
    if tokenizer is None:
        raise AutodeployError(
            f"model {resolved.path} has no tokenizer, so --prompt cannot be encoded; pass token ids with --input-ids 1,2,3"
        )
    return encode_prompt(tokenizer, args.prompt, raw=args.raw_prompt)


def _check_fits(prompt_len: int, max_new_tokens: int, config: PipelineConfig) -> None:
    """The optimized module is built for sequences up to max_seq_len: refuse longer ones up front."""
    needed = prompt_len + max_new_tokens
    if needed > config.max_seq_len:
        raise ConfigError(
            f"the prompt ({prompt_len} tokens) plus --max-new-tokens {max_new_tokens} needs {needed} positions, "
            f"more than max_seq_len {config.max_seq_len}; lower --max-new-tokens or raise it with "
            f"--set max_seq_len={needed}",
            source=_set_by(config, "max_seq_len"),
            path="max_seq_len",
        )


def _set_by(config: PipelineConfig, field: str) -> Optional[str]:
    """The config layer that set `field` (a file, ``--set ...``), or None for the default."""
    source = config.source_of(field)
    return None if source == PYTHON_SOURCE else source


@contextmanager
def _user_ids_errors(prompt: EncodedPrompt) -> Iterator[None]:
    """Turn an out-of-vocabulary id from ``--input-ids`` into a clear error instead of a traceback."""
    try:
        yield
    except IndexError as error:
        if prompt.how != GIVEN_IDS:
            raise
        raise AutodeployError(
            f"--input-ids: a token id is outside the model's vocabulary ({error}); ids given: {prompt.ids}"
        ) from error


def _common_payload(
    config: PipelineConfig, resolved: ResolvedModel, report: Optional[RunReport], timings: dict[str, float]
) -> dict[str, Any]:
    return {
        "model": {"requested": resolved.requested, "path": resolved.path, "resolved_by_plugin": resolved.by_plugin},
        "mode": config.mode,
        "transforms": report.to_dict()["transforms"] if report is not None else [],
        "timings": {key: round(value, 6) for key, value in timings.items()},
    }


def _failure_payload(
    config: PipelineConfig,
    resolved: ResolvedModel,
    report: Optional[RunReport],
    error: Exception,
    timings: dict[str, float],
) -> dict[str, Any]:
    return {"ok": False, "error": str(error), **_common_payload(config, resolved, report, timings)}


def _write_report(path: str, payload: dict[str, Any]) -> None:
    try:
        atomic_write_text(path, json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n")
    except OSError as exc:
        raise AutodeployError(f"--report-json: cannot write {path}: {exc.strerror or exc}") from exc
