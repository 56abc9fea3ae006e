"""A test plugin whose hook implementations do not fit the hook specifications."""
