"""autodeploy's ``build_and_load_factory_model`` transform (factory stage): build and load at once.

Importing this package imports neither torch nor transformers.
"""

from .build_and_load import BuildAndLoadFactoryModel

__all__ = ["BuildAndLoadFactoryModel"]
