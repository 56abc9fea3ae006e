"""pluggy markers for the `autodeploy` project: `@hookimpl` in plugins, `@hookspec` in the core."""

import pluggy

PROJECT_NAME = "autodeploy"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
