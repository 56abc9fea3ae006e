"""Imports torch at module level: every listing of transforms would pay for it."""

import torch  # noqa: F401 - the point of this test plugin

from autodeploy import BaseTransform, TransformInfo, hookimpl


class HeavyNoop(BaseTransform):
    """Does nothing, expensively imported."""

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        return mod, TransformInfo(skipped=True, num_matches=0)


@hookimpl
def autodeploy_register_transforms(register):
    register("heavy_noop", HeavyNoop)
