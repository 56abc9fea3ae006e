"""A test plugin registering `dup_key`, `only_a`, factory `DupFactory` and mode entry graph/dup_key."""
