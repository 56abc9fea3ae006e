"""Entry point `probe` (group autodeploy.transforms): three transforms, modes `probe` and `probe_lite`."""

from autodeploy import hookimpl


@hookimpl
def autodeploy_register_transforms(register):
    from .transforms import ProbeBuild, ProbeCleanup, ProbeOrphan

    register("probe_build", ProbeBuild)
    register("probe_cleanup", ProbeCleanup)
    register("probe_orphan", ProbeOrphan)


@hookimpl
def autodeploy_register_modes(register):
    register(
        "probe",
        {
            "probe_cleanup": {"stage": "post_export"},
            "probe_build": {"stage": "factory", "run_per_gm": False},
        },
    )
    register("probe_lite", {"probe_cleanup": {"stage": "pattern_matcher"}})
