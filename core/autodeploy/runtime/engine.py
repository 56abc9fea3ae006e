"""`Engine`: continuous batching over a pipeline's module and its sequence interface (``cm``).

Each `step` admits waiting requests into free cache slots, packs the step (decodes and prefill
chunks of all running requests in one row, within ``cm.max_batch_size`` and ``cm.token_budget``),
runs the module once, samples a token for every request whose ids were all fed, and returns what
changed (`RequestOutput` deltas). Finished requests free their slot in the same step.

A module with caches (``cm.cache_names``) is called as ``module(**cm.named_args)`` after
``cm.nest_sequences``; one without (an uncached pipeline) re-runs each request's whole sequence,
``module(input_ids=[1, L])``: correct, and as slow as no cache is.

Threads: `step` runs in one thread (e.g. a server's engine loop); `add_request` and `abort` may
be called from any other thread: they only touch a locked inbox that `step` drains.

torch is imported when the engine runs, not when this module is imported.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..errors import AutodeployError
from ..generation import logits_of
from .outputs import ABORT, ERROR, LENGTH, STOP, RequestOutput
from .request import Request
from .sampler import new_generator, sample_tokens
from .sampling_params import SamplingParams
from .scheduler import ScheduledRequest, Scheduler
from .text import IncrementalText

if TYPE_CHECKING:
    import torch

    from ..interface import CachedSequenceInterface


class RequestError(AutodeployError, ValueError):
    """A request the engine refuses (too long, empty, bad ids, ...); the other requests go on."""


class Engine:
    """Continuous-batching generation over ``module`` and its sequence interface ``cm``."""

    def __init__(
        self,
        module: Any,
        cm: CachedSequenceInterface,
        tokenizer: Any = None,
        eos_token_ids: Iterable[int] = (),
        *,
        vocab_size: Optional[int] = None,
    ) -> None:
        self.module = module
        self.cm = cm
        self.tokenizer = tokenizer
        self.eos_token_ids = frozenset(int(token) for token in eos_token_ids)
        self.vocab_size = vocab_size
        self.cached = bool(cm.cache_names)
        if self.cached and set(cm.caches) != set(cm.cache_names):
            cm.initialize_caches()
        self.scheduler = Scheduler(cm.max_batch_size, cm.token_budget)
        self._lock = threading.Lock()
        self._inbox: list[Request] = []
        self._aborts: list[str] = []
        self._known_ids: set[str] = set()
        self._ids = itertools.count()
        self.num_steps = 0

    @property
    def max_seq_len(self) -> int:
        return self.cm.max_seq_len

    # -- requests (any thread) -----------------------------------------------------------------

    def add_request(
        self, prompt_ids: Sequence[int], params: Optional[SamplingParams] = None, request_id: Optional[str] = None
    ) -> str:
        """Queue a prompt (token ids); returns its id. Raises `RequestError` if it cannot run."""
        params = SamplingParams() if params is None else params
        if not isinstance(params, SamplingParams):
            raise RequestError(f"params must be a SamplingParams, got {type(params).__name__}")
        ids = self._checked_ids(prompt_ids)
        max_new = self._max_new_tokens(len(ids), params)
        if params.stop and self.tokenizer is None:
            raise RequestError("stop strings need a tokenizer to decode the answer; this engine has none")
        request = Request(
            request_id="",
            prompt_ids=ids,
            params=params,
            max_new_tokens=max_new,
            text=IncrementalText(self.tokenizer, params.stop),
            generator=new_generator(params, self.cm.device),
        )
        with self._lock:
            if request_id is None:
                request_id = str(next(self._ids))
                while request_id in self._known_ids:
                    request_id = str(next(self._ids))
            elif request_id in self._known_ids:
                raise RequestError(f"request id {request_id!r} is already in use")
            request.request_id = str(request_id)
            self._known_ids.add(request.request_id)
            self._inbox.append(request)
        return request.request_id

    def abort(self, request_id: str) -> None:
        """Stop a request: its slot is freed and its last output says ``abort`` (at the next step)."""
        with self._lock:
            self._aborts.append(str(request_id))

    def has_unfinished(self) -> bool:
        with self._lock:
            return bool(self._inbox or self._aborts or self.scheduler.has_unfinished())

    def _checked_ids(self, prompt_ids: Sequence[int]) -> list[int]:
        if isinstance(prompt_ids, (str, bytes)):
            raise RequestError("prompt_ids must be token ids (a list of integers), not text; encode it first")
        try:
            ids = [int(token) for token in prompt_ids]
        except (TypeError, ValueError):
            raise RequestError(f"prompt_ids must be a list of integer token ids, got {prompt_ids!r}") from None
        if not ids:
            raise RequestError("the prompt is empty: a request needs at least one token id")
        bad = [token for token in ids if token < 0 or (self.vocab_size is not None and token >= self.vocab_size)]
        if bad:
            where = f"the model's vocabulary [0, {self.vocab_size})" if self.vocab_size is not None else "[0, ...)"
            raise RequestError(f"token ids must be in {where}; got {bad[:5]}{' ...' if len(bad) > 5 else ''}")
        return ids

    def _max_new_tokens(self, prompt_len: int, params: SamplingParams) -> int:
        limit = self.cm.max_seq_len
        if params.max_tokens is None:
            if prompt_len >= limit:
                raise RequestError(
                    f"the prompt has {prompt_len} tokens, but max_seq_len is {limit}: no room for a new token; "
                    "shorten the prompt or build the pipeline with a larger max_seq_len"
                )
            return limit - prompt_len
        if prompt_len + params.max_tokens > limit:
            raise RequestError(
                f"the prompt ({prompt_len} tokens) plus max_tokens {params.max_tokens} needs "
                f"{prompt_len + params.max_tokens} positions, more than max_seq_len {limit}; "
                "lower max_tokens, shorten the prompt or build the pipeline with a larger max_seq_len"
            )
        return params.max_tokens

    def prompt_logits(self, prompt_ids: Sequence[int]) -> torch.Tensor:
        """The module's logits for one whole prompt, computed as a step computes them: ``[1, L, vocab]``
        (or ``[1, 1, vocab]`` when the graph keeps only the last position's). For checks such as
        ``run --check``; call it while no request runs (it uses cache slot 0)."""
        import torch

        ids = self._checked_ids(prompt_ids)
        if self.scheduler.has_unfinished():
            raise RuntimeError("prompt_logits needs an idle engine (requests are running)")
        with torch.no_grad():
            if not self.cached:
                return logits_of(self.module(**self._full_inputs(ids)))
            self.cm.nest_sequences([ids], [0], [0])
            logits = logits_of(self.module(**self.cm.named_args))
        return logits.reshape(1, -1, logits.shape[-1])

    # -- the loop (one thread) -----------------------------------------------------------------

    def step(self) -> list[RequestOutput]:
        """Run one step; returns the outputs of every request that changed (new tokens or finished)."""
        with self._lock:
            for request in self._inbox:
                self.scheduler.add(request)
            self._inbox.clear()
            aborts, self._aborts = self._aborts, []
        changed: list[Request] = []
        for request_id in aborts:
            found = self.scheduler.find(request_id)
            if found is not None:
                found.finish(ABORT)
                changed.append(found)
        self._retire(changed)
        self.scheduler.admit()
        plan = self.scheduler.plan(chunked=self.cached)
        if plan:
            self.num_steps += 1
            changed.extend(self._run(plan))
        outputs = [request.take_output() for request in changed]
        self._retire(changed)
        return outputs

    def _retire(self, requests: Iterable[Request]) -> None:
        finished = [request for request in requests if request.finished]
        self.scheduler.release(finished)
        with self._lock:
            self._known_ids.difference_update(request.request_id for request in finished)

    def _run(self, plan: list[ScheduledRequest]) -> list[Request]:
        """Feed the plan to the module, sample the completing requests; returns those that changed."""
        import torch

        try:
            with torch.no_grad():
                rows = self._forward_cached(plan) if self.cached else self._forward_uncached(plan)
        except Exception as exc:  # the model failed: these requests end with the reason, the engine goes on
            message = f"the model failed on this step: {type(exc).__name__}: {exc}"
            for scheduled in plan:
                scheduled.request.finish(ERROR, message)
            return [scheduled.request for scheduled in plan]
        for scheduled in plan:
            scheduled.request.num_computed += scheduled.num_tokens
        sampling = [scheduled.request for scheduled in plan if scheduled.completes]
        if not sampling:
            return []
        tokens = sample_tokens(rows, [r.params for r in sampling], [r.generator for r in sampling])
        for request, token in zip(sampling, tokens, strict=True):
            self._append(request, token)
        return sampling

    def _forward_cached(self, plan: list[ScheduledRequest]) -> torch.Tensor:
        """One packed call; the logits rows ``[n_completing, vocab]`` of the completing requests."""
        import torch

        cm = self.cm
        batch = cm.nest_sequences(
            [s.request.pending_ids(s.num_tokens) for s in plan],
            [s.request.num_computed for s in plan],
            [s.request.cache_slot for s in plan],
        )
        logits = logits_of(self.module(**cm.named_args))
        logits = logits.reshape(-1, logits.shape[-1])
        if logits.shape[0] == batch.num_sequences:
            pass  # one row per sequence: all decodes, or a graph that gathers the last tokens' logits
        elif logits.shape[0] == batch.num_tokens:
            logits = logits.index_select(0, cm.batch_tensor("last_token_index"))
        else:
            raise RuntimeError(
                f"the module returned {logits.shape[0]} logits rows for {batch.num_tokens} tokens "
                f"of {batch.num_sequences} sequences"
            )
        completing = [i for i, s in enumerate(plan) if s.completes]
        if len(completing) == len(plan):
            return logits
        return logits.index_select(0, torch.tensor(completing, dtype=torch.long, device=logits.device))

    def _forward_uncached(self, plan: list[ScheduledRequest]) -> torch.Tensor:
        """Re-run each request's whole sequence; the last position's logits of each."""
        import torch

        rows = [logits_of(self.module(**self._full_inputs(s.request.all_ids)))[0, -1] for s in plan]
        return torch.stack(rows)

    def _full_inputs(self, ids: Sequence[int]) -> dict[str, torch.Tensor]:
        """An uncached module's inputs for a whole sequence (``position_ids`` if the graph takes them)."""
        import torch

        input_ids = torch.tensor([list(ids)], dtype=torch.long, device=self.cm.device)
        inputs = {"input_ids": input_ids}
        if "position_ids" in self.cm.example_input_names:
            inputs["position_ids"] = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        return inputs

    def _append(self, request: Request, token: int) -> None:
        """Add a sampled token and decide whether the request is done."""
        request.output_ids.append(token)
        params = request.params
        if (token in self.eos_token_ids and not params.ignore_eos) or token in params.stop_token_ids:
            request.finish(STOP)  # the stopping id is in token_ids, not in the text
            return
        request.add_text(request.text.add(token))
        if request.text.stopped_by is not None:
            request.finish(STOP)
        elif len(request.output_ids) >= request.max_new_tokens or request.num_ids >= self.cm.max_seq_len:
            request.finish(LENGTH)
