"""autodeploy plugin autodeploy-plugin-hello: the hello transform (see plugin.py for what it registers)."""
