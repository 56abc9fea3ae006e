"""`LLM`: AutoDeploy's Python entry point: build the pipeline once, then generate.

    llm = LLM("./my-checkpoint", mode="graph", max_seq_len=256)
    outputs = llm.generate(["Hello", [1, 2, 3]], SamplingParams(max_tokens=32))
    for delta in llm.generate_stream("Tell me", SamplingParams(max_tokens=64)):
        print(delta.new_text, end="")

The model and config resolve exactly as ``python -m autodeploy run`` resolves them
(`prepare_pipeline`): ``model`` is a checkpoint folder or a name a plugin knows (None: the
embedded default model); ``mode`` the preset; ``config`` a YAML file (or a list of them) or a
mapping; keyword ``options`` are top-level config fields (``max_seq_len=256``, ``device="cuda"``,
``transforms={...}``) and win over ``config``; ``overrides`` are ``--set`` strings; ``cache_dir``
is where named models are prepared (default: as ``run``, ``$AUTODEPLOY_CACHE_DIR`` etc.).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union, cast

from ..optimizer import build_pipeline_config, build_sequence_interface
from .engine import Engine, RequestError
from .outputs import ERROR, CompletionOutput, RequestOutput
from .pipeline import build_engine, prepare_pipeline
from .sampling_params import SamplingParams

if TYPE_CHECKING:
    from ..optimizer import PipelineConfig, RunResult
    from ..plugin import PluginHost

Prompt = Union[str, Sequence[int]]
ConfigSource = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]], Mapping[str, Any], None]


class LLM:
    """A model turned into a cached, batching generator by one pipeline run."""

    def __init__(
        self,
        model: Optional[str] = None,
        mode: Optional[str] = "graph",
        config: ConfigSource = None,
        *,
        host: Optional[PluginHost] = None,
        overrides: Iterable[str] = (),
        cache_dir: Union[str, os.PathLike[str], None] = None,
        **options: Any,
    ) -> None:
        from ..plugin import PluginHost

        self.host = host if host is not None else PluginHost.from_environment()
        files, data = _config_layers(config)
        data = {**data, **options}
        if model is not None:
            model = os.fspath(model)
        pipeline_config = build_pipeline_config(
            self.host, data=data or None, files=files, overrides=list(overrides), mode=mode
        )
        prepared = prepare_pipeline(
            self.host, pipeline_config, model, Path(cache_dir) if cache_dir is not None else None
        )
        self.config: PipelineConfig = prepared.config
        self.resolved = prepared.resolved
        self.factory = prepared.factory
        self.tokenizer = self.factory.init_tokenizer()
        self.cm = build_sequence_interface(self.config)
        self.result: RunResult = prepared.optimizer.run(self.cm)
        self.engine: Engine = build_engine(
            self.result.module, self.cm, self.tokenizer, self.factory, self.resolved.path
        )

    @property
    def module(self) -> Any:
        return self.result.module

    def encode(self, prompt: Prompt, *, chat: bool = False) -> list[int]:
        """Token ids of a prompt: text through the tokenizer (its chat template if `chat`), ids as given."""
        if not isinstance(prompt, str):
            return [int(token) for token in prompt]
        if self.tokenizer is None:
            raise RequestError(f"model {self.resolved.path} has no tokenizer: pass token ids instead of text")
        if chat:
            from ..cli.prompting import encode_prompt

            return encode_prompt(self.tokenizer, prompt, raw=False).ids
        return [int(token) for token in self.tokenizer(prompt)["input_ids"]]

    def generate(
        self,
        prompts: Union[Prompt, Sequence[Prompt]],
        sampling_params: Union[SamplingParams, Sequence[SamplingParams], None] = None,
        *,
        chat: bool = False,
    ) -> list[CompletionOutput]:
        """Answer every prompt (text or token ids), batched; one `CompletionOutput` per prompt, in order.

        A prompt the engine refuses (too long, empty, ...) gets finish reason ``error`` and the
        reason in ``error``; the others are answered as if it were not there.
        """
        batch = _as_prompt_list(prompts)
        params = _params_per_prompt(sampling_params, len(batch))
        results: dict[int, CompletionOutput] = {}
        index_of: dict[str, int] = {}
        prompt_ids: dict[int, list[int]] = {}
        for index, (prompt, p) in enumerate(zip(batch, params, strict=True)):
            try:
                ids = prompt_ids[index] = self.encode(prompt, chat=chat)
                index_of[self.engine.add_request(ids, p)] = index
            except RequestError as exc:
                results[index] = CompletionOutput("", (), ERROR, tuple(prompt_ids.get(index, ())), error=str(exc))
        while len(results) < len(batch) and self.engine.has_unfinished():
            for output in self.engine.step():
                if output.finished and output.request_id in index_of:
                    index = index_of[output.request_id]
                    results[index] = _completion(output, prompt_ids[index])
        return [results[index] for index in range(len(batch))]

    def generate_stream(
        self, prompt: Prompt, sampling_params: Optional[SamplingParams] = None, *, chat: bool = False
    ) -> Iterator[RequestOutput]:
        """Yield the answer's deltas as tokens come (the last one has ``finished=True``).

        Raises `RequestError` at once if the prompt is refused. Closing the iterator early aborts
        the request, so its slot is freed.
        """
        request_id = self.engine.add_request(self.encode(prompt, chat=chat), sampling_params)
        done = False
        try:
            while not done and self.engine.has_unfinished():
                for output in self.engine.step():
                    if output.request_id == request_id:
                        done = output.finished
                        yield output
        finally:
            if not done:
                self.engine.abort(request_id)
                while self.engine.has_unfinished() and self.engine.scheduler.find(request_id) is not None:
                    self.engine.step()


def _completion(output: RequestOutput, prompt_ids: list[int]) -> CompletionOutput:
    return CompletionOutput(
        text=output.text,
        token_ids=output.token_ids,
        finish_reason=output.finish_reason or ERROR,
        prompt_token_ids=tuple(prompt_ids),
        error=output.error,
        request_id=output.request_id,
    )


def _is_single_prompt(prompts: Any) -> bool:
    return isinstance(prompts, str) or (
        isinstance(prompts, Sequence) and bool(prompts) and all(isinstance(t, int) for t in prompts)
    )


def _as_prompt_list(prompts: Union[Prompt, Sequence[Prompt]]) -> list[Prompt]:
    if _is_single_prompt(prompts):
        return [prompts]  # type: ignore[list-item]
    if not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be text, token ids, or a list of those; got {type(prompts).__name__}")
    return list(cast("Sequence[Prompt]", prompts))


def _params_per_prompt(
    sampling_params: Union[SamplingParams, Sequence[SamplingParams], None], count: int
) -> list[SamplingParams]:
    if sampling_params is None:
        return [SamplingParams()] * count
    if isinstance(sampling_params, SamplingParams):
        return [sampling_params] * count
    params = list(sampling_params)
    if len(params) != count:
        raise ValueError(f"got {len(params)} sampling params for {count} prompts (pass one, or one per prompt)")
    return params


def _config_layers(config: ConfigSource) -> tuple[list[Any], dict[str, Any]]:
    """``config`` as (YAML files, data mapping)."""
    if config is None:
        return [], {}
    if isinstance(config, Mapping):
        return [], dict(config)
    if isinstance(config, (str, os.PathLike)):
        return [config], {}
    return list(config), {}
