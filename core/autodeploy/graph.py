"""The torch side of the plugin API: what transforms use on modules, graphs and logits.

``import autodeploy`` never imports this module (it stays torch-free); a plugin imports it where
it works with torch anyway::

    from autodeploy.graph import get_pipeline_model, set_pipeline_model

- `get_pipeline_model` / `set_pipeline_model`: the one accessor pair for the model inside the
  pipeline module (``factory_model``), or the module itself when a model was handed in directly.
- `new_pipeline_module`: the empty module a pipeline starts from.
- `named_graphmodules`, `replace_submodule`, `canonicalize_graph`, `run_shape_prop`: graph walking
  and cleanup, as the base transform runs them.
- `node_arg`: a node's argument at an index as an `fx.Node`, or None when it is not one (typed
  access to ``node.args[i]`` for matchers).
- `retarget_device`: move devices baked into an exported graph (export on meta, load elsewhere).
- `logits_of`, `greedy_generate`: the logits in a model's output, and greedy decoding.
- `can_cast`: whether a checkpoint tensor's dtype may fill a model tensor (one rule for all loaders).
"""

from __future__ import annotations

from .generation import greedy_generate, logits_of
from .optimizer.container import get_pipeline_model, new_pipeline_module, set_pipeline_model
from .transform.device_retarget import retarget_device
from .transform.dtypes import can_cast
from .transform.graph import canonicalize_graph, named_graphmodules, node_arg, replace_submodule, run_shape_prop

__all__ = [
    "can_cast",
    "canonicalize_graph",
    "get_pipeline_model",
    "greedy_generate",
    "logits_of",
    "named_graphmodules",
    "new_pipeline_module",
    "node_arg",
    "replace_submodule",
    "retarget_device",
    "run_shape_prop",
    "set_pipeline_model",
]
