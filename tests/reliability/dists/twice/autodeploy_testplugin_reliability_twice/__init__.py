"""A valid test plugin of the reliability suite that the suite installs twice, in two versions."""
