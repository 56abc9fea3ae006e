"""Two commands whose options cannot be built: add_arguments raises, or redefines --debug."""

from autodeploy import hookimpl

from . import ok


def _raises(parser):
    raise ValueError("cannot add options today")


def _redefines_a_global_option(parser):
    parser.add_argument("--debug", action="store_true")


@hookimpl
def autodeploy_register_commands(register):
    register("badargs", help="its add_arguments raises", add_arguments=_raises, run=ok)
    register(
        "badglobal",
        help="its add_arguments clashes with a global option",
        add_arguments=_redefines_a_global_option,
        run=ok,
    )
