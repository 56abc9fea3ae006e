"""Imports a dependency that is not installed, as a plugin with a missing requirement would."""

import autodeploy_testplugin_missing_dependency  # noqa: F401

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_transforms(register):
    raise AssertionError("never reached: the module fails at import")
