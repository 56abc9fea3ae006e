"""What the server counts, for ``GET /metrics``: requests, tokens, queue, batch occupancy, latency.

Updated from two threads (the event loop, the engine loop), hence one lock. Latencies keep a
bounded window of recent samples for their quantiles, so memory stays flat however long the
server runs. Rendered as Prometheus text (the format scrapers expect) or as JSON.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Optional

WINDOW = 4096
QUANTILES = (0.5, 0.9, 0.99)
PREFIX = "autodeploy_serve_"


class LatencyWindow:
    """Count and sum of every sample, quantiles over the most recent `WINDOW`."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.recent: deque[float] = deque(maxlen=WINDOW)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.recent.append(seconds)

    def quantile(self, q: float) -> Optional[float]:
        if not self.recent:
            return None
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.total,
            **{f"p{round(q * 100)}": self.quantile(q) for q in QUANTILES},
        }


class ServerMetrics:
    """Counters and gauges of one server."""

    def __init__(self, max_batch_size: int, max_queue: int) -> None:
        self._lock = threading.Lock()
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.requests: dict[str, int] = {"received": 0, "finished": 0, "aborted": 0, "failed": 0, "rejected": 0}
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.in_flight = 0
        self.steps = 0
        self.step_sequences = 0
        self.last_occupancy = 0
        self.max_occupancy = 0
        self.ttft = LatencyWindow()
        self.inter_token = LatencyWindow()

    def count(self, outcome: str, prompt_tokens: int = 0) -> None:
        with self._lock:
            self.requests[outcome] = self.requests.get(outcome, 0) + 1
            self.prompt_tokens += prompt_tokens

    def set_in_flight(self, value: int) -> None:
        with self._lock:
            self.in_flight = value

    def step(self, sequences: int, new_tokens: int) -> None:
        """One engine step decoded `sequences` requests together, producing `new_tokens`."""
        with self._lock:
            self.steps += 1
            self.step_sequences += sequences
            self.last_occupancy = sequences
            self.max_occupancy = max(self.max_occupancy, sequences)
            self.generation_tokens += new_tokens

    def latency(self, ttft: Optional[float] = None, inter_token: Optional[float] = None) -> None:
        with self._lock:
            if ttft is not None:
                self.ttft.add(ttft)
            if inter_token is not None:
                self.inter_token.add(inter_token)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            running = min(self.in_flight, self.max_batch_size)
            return {
                "requests": dict(self.requests),
                "tokens": {"prompt": self.prompt_tokens, "generation": self.generation_tokens},
                "running": running,
                "queue_length": self.in_flight - running,
                "max_batch_size": self.max_batch_size,
                "max_queue": self.max_queue,
                "batch_occupancy": {
                    "steps": self.steps,
                    "last": self.last_occupancy,
                    "max": self.max_occupancy,
                    "mean": self.step_sequences / self.steps if self.steps else 0.0,
                },
                "time_to_first_token_s": self.ttft.summary(),
                "inter_token_latency_s": self.inter_token.summary(),
            }

    def prometheus(self) -> str:
        """The snapshot in Prometheus' text exposition format."""
        snap = self.snapshot()
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, Any]]) -> None:
            lines.append(f"# HELP {PREFIX}{name} {help_text}")
            lines.append(f"# TYPE {PREFIX}{name} {kind}")
            for labels, value in samples:
                lines.append(f"{PREFIX}{name}{labels} {_number(value)}")

        metric(
            "requests_total",
            "counter",
            "Requests by outcome (rejected: refused before reaching the engine).",
            [(f'{{outcome="{outcome}"}}', count) for outcome, count in sorted(snap["requests"].items())],
        )
        metric(
            "prompt_tokens_total", "counter", "Prompt tokens of accepted requests.", [("", snap["tokens"]["prompt"])]
        )
        metric("generation_tokens_total", "counter", "Tokens generated.", [("", snap["tokens"]["generation"])])
        metric("running_requests", "gauge", "Requests holding a batch slot.", [("", snap["running"])])
        metric("queue_length", "gauge", "Requests waiting for a batch slot.", [("", snap["queue_length"])])
        occupancy = snap["batch_occupancy"]
        metric("engine_steps_total", "counter", "Engine steps run.", [("", occupancy["steps"])])
        metric("batch_occupancy", "gauge", "Requests decoded in the last engine step.", [("", occupancy["last"])])
        metric("batch_occupancy_max", "gauge", "Most requests decoded in one engine step.", [("", occupancy["max"])])
        metric("batch_occupancy_mean", "gauge", "Mean requests decoded per engine step.", [("", occupancy["mean"])])
        for name, key, help_text in (
            ("time_to_first_token_seconds", "time_to_first_token_s", "From arrival to the first generated token."),
            ("inter_token_latency_seconds", "inter_token_latency_s", "Mean time between tokens of one request."),
        ):
            summary = snap[key]
            samples = [(f'{{quantile="{q}"}}', summary[f"p{round(q * 100)}"]) for q in QUANTILES]
            # the "labels" `_sum` / `_count` append to the name: name_sum, name_count
            metric(name, "summary", help_text, [*samples, ("_sum", summary["sum"]), ("_count", summary["count"])])
        return "\n".join(lines) + "\n"


def _number(value: Any) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, float):
        return repr(value)
    return str(value)
