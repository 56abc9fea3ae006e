"""``python -m autodeploy serve``: build the pipeline once, then serve it (see `server`).

The model and config resolve exactly as ``python -m autodeploy run`` resolves them, through the
runtime's `LLM`; torch, FastAPI and uvicorn are imported here, when the command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .options import ServeOptions

if TYPE_CHECKING:
    from autodeploy import PluginHost

    from .service import Service

DEFAULT_MODEL_NAME = "default"
DEFAULT_MODE = "graph"


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from .server import say, serve

    options = ServeOptions.from_args(args)
    say(f"building the pipeline for {args.model or 'the default model'} ...")
    service = build_service(args, host, options)
    return serve(service, options)


def build_service(args: argparse.Namespace, host: PluginHost, options: ServeOptions) -> Service:
    """Build the pipeline and wrap its engine for serving."""
    from autodeploy.runtime import LLM

    from .service import Service

    llm = LLM(args.model, mode=_mode(args, host), config=args.configs or None, host=host, overrides=args.overrides)
    name = options.served_model_name or args.model or DEFAULT_MODEL_NAME
    return Service.from_llm(llm, model_name=name, max_queue=options.max_queue, api_key=options.api_key)


def _mode(args: argparse.Namespace, host: PluginHost) -> str:
    """--mode, else the ``mode:`` the configs or --set choose, else graph (as `run` decides).

    Building the config here also checks --config and --set before any model work.
    """
    from autodeploy import build_pipeline_config

    if args.mode is not None:
        return args.mode
    chosen = build_pipeline_config(host, files=args.configs, overrides=args.overrides).mode
    return chosen if chosen is not None else DEFAULT_MODE
