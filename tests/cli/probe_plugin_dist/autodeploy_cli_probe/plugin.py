"""Entry point `probe` (group autodeploy.transforms): three transforms, modes `probe` and `probe_lite`,
and the command `probe-echo`."""

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


@hookimpl
def autodeploy_register_commands(register):
    register(
        "probe-echo",
        help="print the given words (a plugin command)",
        add_arguments=_echo_arguments,
        run=_echo,
    )


def _echo_arguments(parser):
    parser.add_argument("words", nargs="+", help="what to print")
    parser.add_argument("--upper", action="store_true", help="print in capitals")
    parser.add_argument("--exit", type=int, default=0, dest="exit_status", help="the exit status to return")


def _echo(args, host):
    from .echo import echo  # the handler's imports happen when the command runs, not when it is listed

    return echo(args, host)
