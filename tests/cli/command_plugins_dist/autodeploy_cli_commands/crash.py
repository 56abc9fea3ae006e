"""A command that registers fine and raises when it runs."""

from autodeploy import hookimpl


def _crash(args, host):
    raise ValueError("the handler broke")


@hookimpl
def autodeploy_register_commands(register):
    register("crash", help="raises when it runs", run=_crash)
