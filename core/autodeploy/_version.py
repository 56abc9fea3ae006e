"""The core's version, kept in one place so that packaging and plugins' compatibility checks agree."""

__version__ = "0.1.0"
