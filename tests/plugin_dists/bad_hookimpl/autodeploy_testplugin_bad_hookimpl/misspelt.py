"""A hook implementation for a hook that does not exist (missing final 's')."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_transform(register):
    raise AssertionError("never called: there is no such hook")
