"""autodeploy's ``build_model`` transform (factory stage): the model, built by the factory, no weights.

Importing this package imports neither torch nor transformers.
"""

from .build_model import BuildModel, BuildModelConfig

__all__ = ["BuildModel", "BuildModelConfig"]
