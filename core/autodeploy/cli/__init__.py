"""The ``autodeploy`` command line: one module per subcommand, wired together by `main`."""
