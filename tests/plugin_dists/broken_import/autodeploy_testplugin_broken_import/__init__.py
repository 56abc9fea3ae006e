"""A test plugin whose entry-point module cannot be imported."""
