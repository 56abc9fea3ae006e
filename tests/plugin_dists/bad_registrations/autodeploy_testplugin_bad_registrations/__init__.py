"""A test plugin that registers unusable things next to one usable transform."""
