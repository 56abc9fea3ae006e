"""Test plugins whose commands go wrong in each way the command line must survive."""


def ok(args, host):
    """A handler that works, shared by the commands that register fine."""
    print(f"ran {args.command}")
    return 0
