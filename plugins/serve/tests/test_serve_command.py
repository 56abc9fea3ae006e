"""The ``serve`` command as the CLI sees it: registered through the plugin hook, cheap to list,
and bad options or models refused before any model work."""

from __future__ import annotations

import subprocess
import sys

from serve_test_support import server_environment

HEAVY = ("torch", "transformers", "fastapi", "uvicorn")
LISTING = f"""
import sys
from autodeploy import PluginHost
command = PluginHost.from_environment().commands()["serve"]
print(command.plugin.distribution, command.obj.help)
print(",".join(name for name in {HEAVY!r} if name in sys.modules) or "-")
"""


def autodeploy(*args: str, cache) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autodeploy", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=server_environment(cache),
    )


def test_serve_is_a_plugin_command_listed_without_heavy_imports(model_cache):
    result = subprocess.run(
        [sys.executable, "-c", LISTING], capture_output=True, text=True, env=server_environment(model_cache)
    )
    assert result.returncode == 0, result.stderr
    registered, heavy = result.stdout.splitlines()
    assert registered.startswith("autodeploy-plugin-serve serve a model over an OpenAI-compatible HTTP API")
    assert heavy == "-"
    listing = autodeploy("--help", cache=model_cache)
    assert "serve a model over an OpenAI-compatible HTTP API" in listing.stdout


def test_bad_options_and_models_are_refused_before_serving(model_cache):
    bad_port = autodeploy("serve", "--port", "70000", cache=model_cache)
    assert bad_port.returncode == 2 and "expected a TCP port 0..65535, got 70000" in bad_port.stderr
    bad_set = autodeploy("serve", "--model", "tiny-random", "--set", "max_batch_size=zero", cache=model_cache)
    assert bad_set.returncode == 1 and "max_batch_size" in bad_set.stderr
    missing = autodeploy("serve", "--model", str(model_cache / "no-such-model"), cache=model_cache)
    assert missing.returncode == 1 and "no-such-model" in missing.stderr
    assert "serving" not in missing.stdout + bad_set.stdout
