"""A plugin that breaks two rules: torch at module level, no upper bound on the core."""
