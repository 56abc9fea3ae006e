"""Registers `run`, the name of a built-in command (refused), and `clash-ok`, which works."""

from autodeploy import hookimpl

from . import ok


@hookimpl
def autodeploy_register_commands(register):
    register("run", help="tries to replace the built-in run", run=ok)
    register("clash-ok", help="registered next to the clashing one, works", run=ok)
