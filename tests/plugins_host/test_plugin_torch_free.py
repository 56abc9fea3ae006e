"""The plugin host, and loading plugins through it, never import torch or transformers."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers")

SCRIPT = f"""
import sys
import autodeploy.plugin
host = autodeploy.plugin.PluginHost.from_environment()   # reads AUTODEPLOY_PLUGINS from os.environ
print(",".join(sorted(host.transforms())))
print(",".join(sorted(host.factories())))
print(",".join(name for name in {HEAVY!r} if name in sys.modules))
"""


def test_loading_and_listing_plugins_imports_no_torch(installed_test_plugins):
    env = dict(installed_test_plugins.env, AUTODEPLOY_PLUGINS="autodeploy-testplugin-good")
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    transforms, factories, heavy = result.stdout.split("\n")[:3]
    assert transforms == "hello"  # the plugin really was loaded from the installed distribution
    assert factories == "HelloFactory"
    assert heavy == ""


def test_import_autodeploy_plugin_imports_no_torch():
    code = f"import sys, autodeploy.plugin; print(','.join(n for n in {HEAVY!r} if n in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
