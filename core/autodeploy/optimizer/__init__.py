"""The optimizer: merging, validating and running a pipeline config.

Importing this package does not import torch; the starting module (`container.PipelineModule`)
is created when a pipeline first runs.
"""

from .optimizer import InferenceOptimizer, RunResult
from .overrides import Override, parse_override
from .pipeline_config import PipelineConfig, build_pipeline_config
from .pipeline_inputs import build_factory, build_sequence_interface
from .resolve import resolve_pipeline
from .validation import ConfigWarning, PipelineEntry, validate_transforms
from .yaml_loading import MAX_CONFIG_BYTES, load_config_file

__all__ = [
    "MAX_CONFIG_BYTES",
    "ConfigWarning",
    "InferenceOptimizer",
    "Override",
    "PipelineConfig",
    "PipelineEntry",
    "RunResult",
    "build_factory",
    "build_pipeline_config",
    "build_sequence_interface",
    "load_config_file",
    "parse_override",
    "resolve_pipeline",
    "validate_transforms",
]
