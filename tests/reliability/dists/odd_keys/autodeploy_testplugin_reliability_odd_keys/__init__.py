"""A test plugin of the reliability suite registering keys no config can name, next to a valid one."""
