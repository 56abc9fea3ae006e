"""autodeploy-plugin-pattern-matchers: attention found in exported graphs, as canonical ops."""
