"""A test plugin for the command-line tests: transforms in several stages and modes."""
