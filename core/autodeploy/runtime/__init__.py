"""The runtime: sampling, continuous batching and the `LLM` entry point over a pipeline's module.

It sits above the optimizer and below the CLI: ``python -m autodeploy run``, the Python API and
a server share it. Importing it does not import torch (that happens when an engine runs).
"""

from .engine import Engine, RequestError
from .llm import LLM
from .outputs import ABORT, ERROR, FINISH_REASONS, LENGTH, STOP, CompletionOutput, RequestOutput
from .pipeline import PreparedPipeline, build_engine, prepare_pipeline
from .sampler import new_generator, sample_tokens
from .sampling_params import SamplingParams, SamplingParamsError

__all__ = [
    "ABORT",
    "ERROR",
    "FINISH_REASONS",
    "LENGTH",
    "LLM",
    "STOP",
    "CompletionOutput",
    "Engine",
    "PreparedPipeline",
    "RequestError",
    "RequestOutput",
    "SamplingParams",
    "SamplingParamsError",
    "build_engine",
    "new_generator",
    "prepare_pipeline",
    "sample_tokens",
]
