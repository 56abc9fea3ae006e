"""Building and validating a pipeline imports no torch: only running it does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    from pydantic import Field
    from autodeploy import BaseTransform, TransformConfig, hookimpl
    from autodeploy.optimizer import InferenceOptimizer, build_pipeline_config, validate_transforms
    from autodeploy.plugin import PluginControls, PluginHost

    class ResizeConfig(TransformConfig):
        size: int = Field(default=2, description="a size")

    class Resize(BaseTransform):
        @classmethod
        def get_config_class(cls):
            return ResizeConfig

    class Plugin:
        @hookimpl
        def autodeploy_register_transforms(self, register):
            register("resize", Resize)

        @hookimpl
        def autodeploy_register_modes(self, register):
            register("small", {"resize": {"stage": "post_export", "size": 3}})

    host = PluginHost(PluginControls(autoload=False))
    host.register(Plugin(), name="resize-plugin")
    config = build_pipeline_config(host, mode="small", overrides=["transforms.resize.size=4"])
    (entry,) = validate_transforms(config, host)
    optimizer = InferenceOptimizer(None, {"mode": "small"}, host=host)
    print(entry.config.size, len(optimizer.entries))
    print(" ".join(name for name in ("torch", "transformers") if name in sys.modules) or "-")
    """
)


def test_building_and_validating_a_pipeline_does_not_import_torch():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["4 1", "-"]
