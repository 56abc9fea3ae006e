"""Registers the key `dup_key` that the other dup plugin registers too, and a key of its own."""

from autodeploy import BaseTransform, ModelFactory, hookimpl


class DupKeyA(BaseTransform):
    """This plugin's `dup_key`."""


class OnlyA(BaseTransform):
    """A key only this plugin registers: it stays usable whatever happens to `dup_key`."""


class DupFactoryA(ModelFactory):
    """This plugin's `DupFactory` (never built by the tests)."""

    def _build_model(self, device):
        raise NotImplementedError("test factory of dup_a: only its registration is tested")

    def _load_checkpoint(self, model, device):
        raise NotImplementedError("test factory of dup_a: only its registration is tested")


@hookimpl
def autodeploy_register_transforms(register):
    register("dup_key", DupKeyA)
    register("only_a", OnlyA)


@hookimpl
def autodeploy_register_factories(register):
    register("DupFactory", DupFactoryA)


@hookimpl
def autodeploy_register_modes(register):
    register("graph", {"dup_key": {"stage": "post_export", "run_per_gm": False, "origin": "dup_a"}})
