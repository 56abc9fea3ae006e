"""Entry point `always_fails` (group autodeploy.transforms): the failing transforms and a mode
whose pipeline fails at once, so a command-line run reaches the failure in a few seconds."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_transforms(register):
    from .transforms import AlwaysFails, FailsToConstruct, MarkDone, MarkRan, ReturnsNoModule, ReturnsNothing

    register("always_fails", AlwaysFails)
    register("fails_to_construct", FailsToConstruct)
    register("returns_nothing", ReturnsNothing)
    register("returns_no_module", ReturnsNoModule)
    register("mark_ran", MarkRan)
    register("mark_done", MarkDone)


@hookimpl
def autodeploy_register_modes(register):
    register(
        "reliability_fail",
        {
            "always_fails": {"stage": "factory", "run_per_gm": False},
            "mark_ran": {"stage": "post_export", "run_per_gm": False},
        },
    )
