"""A test plugin of the reliability suite: transforms that fail, and an observer of failures."""
