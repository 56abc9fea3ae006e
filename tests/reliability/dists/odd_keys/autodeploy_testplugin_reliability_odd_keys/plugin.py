"""Registers valid transform classes under keys a YAML config (or ``--set a.b=c``) cannot carry
as they are, a function in place of a transform class, and `odd_keys_fine`, which must stay usable."""

from autodeploy import BaseTransform, hookimpl


class OddKeyed(BaseTransform):
    """A valid class; each key below registers a subclass of it (a class carries one key)."""


def not_a_class(mod, cm, factory, shared_config):
    """A function with the signature of a transform call: still not a transform class."""
    return mod


@hookimpl
def autodeploy_register_transforms(register):
    odd_keys = {"colon": "colon: key", "newline": "new\nline", "empty": "", "anchor": "&anchor", "number": 7}
    for name, key in odd_keys.items():
        register(key, type(f"OddKeyed_{name}", (OddKeyed,), {}))
    register("function_not_class", not_a_class)
    register("odd_keys_fine", OddKeyed)
