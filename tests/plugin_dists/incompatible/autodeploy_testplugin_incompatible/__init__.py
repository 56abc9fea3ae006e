"""A test plugin that requires a core version that does not exist (autodeploy-core>=99)."""
