"""The plugin host: finding, loading and checking plugins, and collecting what they register.

Every transform, factory and mode comes from a plugin (installed, via entry points, or
registered in process). This package keeps each plugin's failure to itself and tells the user,
in one line, which plugin, distribution and version is at fault.
"""

from .controls import PluginControls
from .host import PluginHost
from .records import PluginRecord, PluginStatus
from .registry import Conflict, Provider

__all__ = ["Conflict", "PluginControls", "PluginHost", "PluginRecord", "PluginStatus", "Provider"]
