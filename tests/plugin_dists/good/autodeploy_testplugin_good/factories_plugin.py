"""Entry point `hello_factories` (group autodeploy.plugins): the model factory."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_factories(register):
    from .factory import HelloFactory

    register("HelloFactory", HelloFactory)
