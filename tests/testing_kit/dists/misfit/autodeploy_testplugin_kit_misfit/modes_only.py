"""In the transforms group, but registers only a mode, and one whose entry does not validate."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_modes(register):
    register("misfit_fast", {"misfit_undocumented": {"stage": "compiel", "level": "high"}})
