"""Entry point `hello` (group autodeploy.transforms): the transform and its mode entries."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_transforms(register):
    from .transform import Hello

    register("hello", Hello)


@hookimpl
def autodeploy_register_modes(register):
    register("graph", {"hello": {"stage": "post_export", "run_per_gm": False, "greeting": "hello from graph"}})
    register("greetings", {"hello": {"stage": "factory", "run_per_gm": False}})
