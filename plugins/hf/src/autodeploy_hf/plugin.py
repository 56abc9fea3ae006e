"""Hook implementations of the Hugging Face plugin (entry point ``autodeploy.plugins: hf``).

Registers the model factories under AutoDeploy's names. Importing this module, or calling the
hook, imports neither torch nor transformers: the factory classes load them when they work.
"""

from __future__ import annotations

from collections.abc import Callable

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_factories(register: Callable[[str, type], None]) -> None:
    from .factory import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory

    register("AutoModelForCausalLM", AutoModelForCausalLMFactory)
    register("AutoModelForImageTextToText", AutoModelForImageTextToTextFactory)
