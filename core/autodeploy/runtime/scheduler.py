"""Continuous batching: which requests run in the next step, and how many of their ids.

Plain Python, no torch. Requests wait in arrival order for a cache slot (``max_batch_size``
slots); a finished or aborted request frees its slot at once and the next waiting one takes it
in the same step. Each step packs, within the token budget (``max_num_tokens``): first every
running request that decodes (one id each), then the prompts still being prefilled, oldest
first, each taking what is left of the budget, so a prompt longer than the budget is prefilled
in chunks over several steps while the others keep decoding.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .request import Request


@dataclass(frozen=True)
class ScheduledRequest:
    """A request in this step, how many of its pending ids it feeds, and whether that is all of
    them (then the step's logits give its next token)."""

    request: Request
    num_tokens: int
    completes: bool

    @classmethod
    def of(cls, request: Request, num_tokens: int) -> ScheduledRequest:
        return cls(request, num_tokens, num_tokens == request.num_pending)


class Scheduler:
    """Slots, the waiting queue and the per-step plan."""

    def __init__(self, max_batch_size: int, token_budget: int) -> None:
        if max_batch_size < 1 or token_budget < 1:
            raise ValueError("max_batch_size and token_budget must be >= 1")
        self.max_batch_size = max_batch_size
        self.token_budget = token_budget
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self._free_slots = list(range(max_batch_size))

    def add(self, request: Request) -> None:
        self.waiting.append(request)

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def find(self, request_id: str) -> Request | None:
        for request in (*self.running, *self.waiting):
            if request.request_id == request_id:
                return request
        return None

    def admit(self) -> list[Request]:
        """Give free slots to waiting requests, in arrival order; returns the admitted ones."""
        admitted = []
        while self.waiting and self._free_slots:
            request = self.waiting.popleft()
            request.slot = self._free_slots.pop(0)
            self.running.append(request)
            admitted.append(request)
        return admitted

    def plan(self, chunked: bool = True) -> list[ScheduledRequest]:
        """This step's requests: decodes first, then prefills, within the token budget.

        With ``chunked=False`` (a module without a cache re-runs whole sequences) every running
        request is scheduled with all its pending ids.
        """
        if not chunked:
            return [ScheduledRequest.of(r, r.num_pending) for r in self.running if r.num_pending > 0]
        budget = self.token_budget
        decoding = [r for r in self.running if r.num_pending == 1]
        prefilling = [r for r in self.running if r.num_pending > 1]
        plan = []
        for request in (*decoding, *prefilling):
            take = min(request.num_pending, budget)
            if take <= 0:
                break
            plan.append(ScheduledRequest.of(request, take))
            budget -= take
        return plan

    def release(self, requests: Iterable[Request]) -> None:
        """Take finished requests out: their slots are free for the next admission."""
        for request in requests:
            if request in self.running:
                self.running.remove(request)
                if request.slot is not None:
                    self._free_slots.append(request.slot)
                    self._free_slots.sort()
            elif request in self.waiting:
                self.waiting.remove(request)
            request.slot = None
