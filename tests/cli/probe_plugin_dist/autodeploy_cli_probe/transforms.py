"""The probe transforms: they only need to be listed, shown and validated (torch-free)."""

from __future__ import annotations

from pydantic import Field

from autodeploy import BaseTransform, TransformConfig


class ProbeBuildConfig(TransformConfig):
    """Config of `probe_build`."""

    device: str = Field(default="meta", description="The device to build the probe model on.")
    layers: int = Field(default=2, ge=1, description="How many layers the probe model has.")


class ProbeBuild(BaseTransform):
    """Build the probe model on the configured device.

    A second paragraph, so that `show` prints the whole docstring.
    """

    config: ProbeBuildConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return ProbeBuildConfig


class ProbeCleanup(BaseTransform):
    """Clean the probe graph."""


class ProbeOrphan(BaseTransform):
    """A transform that no mode configures."""
