"""autodeploy: turn a PyTorch / Hugging Face model into an inference-ready module through a
pipeline of pluggable transforms.

The public API is what this module exports, plus `autodeploy.graph` (the torch side: the model
inside the pipeline module, graph helpers, logits), `autodeploy.runtime` (the serving engine) and
`autodeploy.testing` (for plugins' tests), `autodeploy.distributed` (rank, weight slices) and
`autodeploy.weight_conversions` (checkpoint tensors converted as they load).
Plugins import nothing else of the core (a test checks). Importing this module never imports torch
or transformers: listing, validating and documenting transforms must stay fast.
"""

from ._version import __version__
from .atomic import atomic_write_bytes, atomic_write_text
from .attention_backend import AttentionBackend
from .config import SharedConfig, TransformConfig, TransformInfo
from .errors import (
    AutodeployError,
    CheckpointError,
    ConfigError,
    ConfigProblems,
    PluginError,
    TransformError,
    UnknownTransformError,
)
from .factory import ModelFactory
from .interface import METADATA_NAMES, CachedSequenceInterface
from .mappings import deep_merge
from .markers import hookimpl, hookspec
from .messages import closest_names, describe_exception, first_few
from .optimizer import ConfigWarning, InferenceOptimizer, PipelineConfig, build_pipeline_config
from .plugin import PluginControls, PluginHost, PluginRecord, PluginStatus
from .records import RunReport, TransformRecord, TransformStatus
from .stages import Stages
from .transform.base import BaseTransform, get_history

__all__ = [
    "METADATA_NAMES",
    "AttentionBackend",
    "AutodeployError",
    "BaseTransform",
    "CachedSequenceInterface",
    "CheckpointError",
    "ConfigError",
    "ConfigProblems",
    "ConfigWarning",
    "InferenceOptimizer",
    "ModelFactory",
    "PipelineConfig",
    "PluginControls",
    "PluginError",
    "PluginHost",
    "PluginRecord",
    "PluginStatus",
    "RunReport",
    "SharedConfig",
    "Stages",
    "TransformConfig",
    "TransformError",
    "TransformInfo",
    "TransformRecord",
    "TransformStatus",
    "UnknownTransformError",
    "__version__",
    "atomic_write_bytes",
    "atomic_write_text",
    "build_pipeline_config",
    "closest_names",
    "deep_merge",
    "describe_exception",
    "first_few",
    "get_history",
    "hookimpl",
    "hookspec",
]
