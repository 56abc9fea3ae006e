"""A test plugin whose registration hook raises after registering one transform."""
