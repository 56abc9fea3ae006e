"""Registers `half_registered`, then raises; also observes stages (it must not, once failed)."""

from autodeploy import BaseTransform, hookimpl

# what the lifecycle hook saw: the tests check a failed plugin is never called
OBSERVED_STAGES: list = []


class HalfRegistered(BaseTransform):
    """A valid transform, dropped because the hook that registered it failed afterwards."""


@hookimpl
def autodeploy_register_transforms(register):
    register("half_registered", HalfRegistered)
    raise RuntimeError("registration exploded on purpose")


@hookimpl
def autodeploy_before_stage(stage, mod, report):
    OBSERVED_STAGES.append(stage)
