"""A working test plugin: the `hello` transform, the `HelloFactory` model factory and mode entries."""
