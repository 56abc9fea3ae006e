"""The options of ``python -m autodeploy serve`` (argparse only: listing the command stays cheap)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Optional

HELP = "serve a model over an OpenAI-compatible HTTP API (completions, chat, streaming)"
API_KEY_VAR = "AUTODEPLOY_API_KEY"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_QUEUE = 256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Model and pipeline options as `run` has them, then where and how to serve."""
    model = parser.add_argument_group("model and pipeline")
    model.add_argument(
        "--model",
        metavar="DIR|NAME",
        help="a local Hugging Face checkpoint folder, or a model name a plugin knows "
        "(default, smollm2, tiny-random); default: the embedded default model",
    )
    model.add_argument("--mode", help="the preset pipeline (graph, transformers, ...); default: graph")
    model.add_argument(
        "--config",
        dest="configs",
        action="append",
        default=[],
        metavar="FILE",
        help="a YAML pipeline config, merged over the mode (repeatable, later files win)",
    )
    model.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one setting, value in YAML (repeatable), e.g. max_batch_size=16",
    )
    model.add_argument(
        "--served-model-name",
        metavar="NAME",
        help="the model name clients send and /v1/models lists (default: --model, else 'default')",
    )
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host", default=DEFAULT_HOST, help=f"the address to bind (default {DEFAULT_HOST}: this machine only)"
    )
    server.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"the TCP port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    server.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' on /v1 requests (default: ${API_KEY_VAR} when set, else no key)",
    )
    server.add_argument(
        "--max-queue",
        type=_non_negative_int,
        default=DEFAULT_MAX_QUEUE,
        metavar="N",
        help=f"requests that may wait for a batch slot; beyond it the server answers 429 (default {DEFAULT_MAX_QUEUE})",
    )
    server.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="on SIGTERM / Ctrl-C, how long running requests may take to finish (default 60)",
    )


@dataclass(frozen=True)
class ServeOptions:
    """What the server needs from the command line, with the API key resolved."""

    host: str
    port: int
    api_key: Optional[str]
    max_queue: int
    drain_timeout: float
    served_model_name: Optional[str]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServeOptions:
        api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_VAR) or None
        return cls(
            host=args.host,
            port=args.port,
            api_key=api_key,
            max_queue=args.max_queue,
            drain_timeout=args.drain_timeout,
            served_model_name=args.served_model_name,
        )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0..65535, got {value}")
    return value
