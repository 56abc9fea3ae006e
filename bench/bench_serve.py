"""Throughput and latency of ``python -m autodeploy serve`` with 1, 8 and 32 concurrent clients.

One server (a subprocess, ``--port 0``) serves the model (default: the embedded SmolLM2-135M-
Instruct, graph mode) with ``max_batch_size`` 32. The same ``--requests`` streaming completions
(different prompts, ``--new-tokens`` each, ``ignore_eos`` so every request does the same work,
greedy) are sent:

- ``sequential``: one at a time, each after the previous finished: the baseline;
- ``8 clients`` / ``32 clients``: that many clients at once, each sending its next request as
  soon as its previous one finished.

For each: throughput (generated tokens / wall time), time to first token (from sending the
request to the first streamed token) and per-token latency (a request's time from its first to
its last token over its tokens - 1), p50 and p99 over the requests, measured by the clients.
"ratio" is a side's throughput over ``sequential``'s. One untimed request warms the server up.

Target: 8 clients at least 3x the sequential throughput. Reported, not asserted; the exit
status is 1 only when a request failed or returned fewer tokens than asked (then the sides did
not do the same work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import environment, print_table, write_json

TARGET_CLIENTS = 8
TARGET_RATIO = 3.0
CONCURRENCY = (1, 8, 32)
MAX_BATCH_SIZE = 32
SERVING = re.compile(r"^serving '.*' at (http://\S+)$")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--model", help="what `serve --model` gets (default: the embedded default model)")
    parser.add_argument("--mode", default="graph", help="the pipeline mode (default graph)")
    parser.add_argument("--requests", type=int, default=32, help="requests per side (default 32)")
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per request (default 16)")
    parser.add_argument("--startup-timeout-s", type=float, default=900.0, help="how long the server may take to start")
    return parser.parse_args()


def prompt(index: int) -> str:
    return f"Question {index}: in one sentence, what is special about the number {index * 7 + 3}?"


class Server:
    """``python -m autodeploy serve`` in a subprocess; its output is kept for error messages."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [sys.executable, "-m", "autodeploy", "serve", "--port", "0", "--mode", args.mode]
        command += ["--set", f"max_batch_size={MAX_BATCH_SIZE}", "--max-queue", str(4 * args.requests)]
        if args.model:
            command += ["--model", args.model]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the user's model cache: the default model converts once
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self.url = ""
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            match = SERVING.match(line.strip())
            if match:
                self.url = match.group(1)
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout) or not self.url:
            self.stop()
            raise SystemExit("the server did not start:\n" + "\n".join(self.lines[-30:]))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def one_request(client: Any, index: int, new_tokens: int) -> dict[str, Any]:
    """Stream one completion; returns its timings and token count (from the usage chunk)."""
    body = {
        "prompt": prompt(index),
        "max_tokens": new_tokens,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    sent = time.perf_counter()
    token_times: list[float] = []
    tokens = 0
    async with client.stream("POST", "/v1/completions", json=body) as response:
        if response.status_code != 200:
            return {"error": f"HTTP {response.status_code}: {(await response.aread()).decode()[:200]}"}
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[len("data: ") :])
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            elif event["choices"] and event["choices"][0]["text"]:
                token_times.append(time.perf_counter())
    if not token_times:
        return {"error": "no text came back"}
    first, last = token_times[0], token_times[-1]
    return {
        "ttft_s": first - sent,
        "per_token_s": (last - first) / (tokens - 1) if tokens > 1 else 0.0,
        "tokens": tokens,
    }


async def run_side(url: str, clients: int, requests: int, new_tokens: int) -> dict[str, Any]:
    """`requests` requests, `clients` at a time (each client sends its next when one finished)."""
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=3600, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                results.append(await one_request(client, index, new_tokens))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    return {"wall_s": wall, "results": results}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(name: str, side: dict[str, Any], expected_tokens: int) -> dict[str, Any]:
    good = [r for r in side["results"] if "error" not in r and r["tokens"] == expected_tokens]
    errors = [r.get("error", f"{r.get('tokens')} tokens") for r in side["results"] if r not in good]
    tokens = sum(r["tokens"] for r in good)
    ttft = [r["ttft_s"] for r in good] or [float("nan")]
    per_token = [r["per_token_s"] for r in good] or [float("nan")]
    return {
        "side": name,
        "requests": len(side["results"]),
        "failed": len(errors),
        "errors": errors[:3],
        "wall_s": side["wall_s"],
        "tokens": tokens,
        "tokens_per_s": tokens / side["wall_s"],
        "ttft_p50_s": statistics.median(ttft),
        "ttft_p99_s": percentile(ttft, 0.99),
        "per_token_p50_s": statistics.median(per_token),
        "per_token_p99_s": percentile(per_token, 0.99),
    }


def main() -> int:
    args = parse_args()
    env_before = environment()
    started = time.perf_counter()
    server = Server(args)
    try:
        server.wait_ready(args.startup_timeout_s)
        startup_s = time.perf_counter() - started
        print(f"server ready at {server.url} after {startup_s:.1f} s", file=sys.stderr)
        asyncio.run(run_side(server.url, 1, 1, args.new_tokens))  # warm-up
        rows = []
        for clients in CONCURRENCY:
            name = "sequential" if clients == 1 else f"{clients} clients"
            side = asyncio.run(run_side(server.url, clients, args.requests, args.new_tokens))
            rows.append(summarise(name, side, args.new_tokens))
            print(f"{name}: {rows[-1]['tokens_per_s']:.1f} tokens/s", file=sys.stderr)
    finally:
        server.stop()
    base = rows[0]["tokens_per_s"]
    for row in rows:
        row["ratio"] = row["tokens_per_s"] / base if base else float("nan")
    table = [
        {
            "side": row["side"],
            "tok/s": f"{row['tokens_per_s']:.1f}",
            "ratio": f"{row['ratio']:.2f}x",
            "TTFT p50": f"{row['ttft_p50_s'] * 1000:.0f} ms",
            "TTFT p99": f"{row['ttft_p99_s'] * 1000:.0f} ms",
            "per-token p50": f"{row['per_token_p50_s'] * 1000:.0f} ms",
            "per-token p99": f"{row['per_token_p99_s'] * 1000:.0f} ms",
            "failed": row["failed"],
        }
        for row in rows
    ]
    print_table(table, list(table[0]))
    target_row = next(row for row in rows if row["side"] == f"{TARGET_CLIENTS} clients")
    print(
        f"{TARGET_CLIENTS} clients / sequential = {target_row['ratio']:.2f}x (target >= {TARGET_RATIO:.0f}x); "
        f"{args.requests} requests x {args.new_tokens} tokens, model {args.model or 'default'}, mode {args.mode}"
    )
    write_json(
        args.json,
        {
            "rows": rows,
            "target": {"clients": TARGET_CLIENTS, "ratio": TARGET_RATIO, "measured": target_row["ratio"]},
            "settings": {
                "model": args.model or "default",
                "mode": args.mode,
                "requests": args.requests,
                "new_tokens": args.new_tokens,
                "max_batch_size": MAX_BATCH_SIZE,
                "startup_s": startup_s,
            },
            "environment_before": env_before,
            "environment_after": environment(),
        },
    )
    return 1 if any(row["failed"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
