"""``python -m autodeploy``: the command line (see `autodeploy.cli.main`)."""

from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
