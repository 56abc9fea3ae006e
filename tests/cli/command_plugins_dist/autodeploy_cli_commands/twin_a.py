"""Registers `twin`, as the other twin plugin does: a conflict, neither is used."""

from autodeploy import hookimpl

from . import ok


@hookimpl
def autodeploy_register_commands(register):
    register("twin", help="twin a", run=ok)
