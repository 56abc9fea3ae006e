"""The transform base class and the graph utilities it runs around each transform."""
