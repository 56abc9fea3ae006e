"""The registration hook itself raises: the whole plugin fails."""

from autodeploy import hookimpl

from . import ok


@hookimpl
def autodeploy_register_commands(register):
    register("half-registered", help="registered just before the hook raises", run=ok)
    raise RuntimeError("command registration exploded")
