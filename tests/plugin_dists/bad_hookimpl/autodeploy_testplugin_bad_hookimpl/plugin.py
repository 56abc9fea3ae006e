"""A registration hook asking for an argument the specification does not have."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_transforms(register, registry):
    raise AssertionError("never called: the hook implementation does not fit its specification")
