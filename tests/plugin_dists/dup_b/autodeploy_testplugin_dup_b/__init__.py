"""A test plugin registering `dup_key`, `only_b`, factory `DupFactory` and mode entry graph/dup_key."""
