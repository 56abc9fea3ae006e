"""autodeploy-plugin-kv-cache: cached attention, the torch attention backend and cache sizing."""
