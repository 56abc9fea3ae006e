"""Moved to the core: ``from autodeploy.graph import retarget_device`` (this alias stays until no plugin
on main imports it from here)."""

from autodeploy.graph import retarget_device

__all__ = ["retarget_device"]
