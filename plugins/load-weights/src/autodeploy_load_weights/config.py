"""Config schemas of the weight_load transforms (AutoDeploy's field names, plus our own options).

Torch-free: validating a pipeline config must not pay for importing torch.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from autodeploy import TransformConfig


class MoveDeviceConfig(TransformConfig):
    """Configuration for the moving inputs/arguments to the device transform."""

    checkpoint_device: Optional[str] = Field(
        default=None,
        description="Optional device to init checkpoint before move to shared_config.local_device.",
    )


class LoadWeightsToDeviceConfig(MoveDeviceConfig):
    """Configuration of ``load_weights``: AutoDeploy's ``checkpoint_device`` plus loading options."""

    show_progress: Optional[bool] = Field(
        default=None,
        description="Show a progress bar while the checkpoint loads. None decides automatically: "
        "shown when stderr is a terminal and the checkpoint is at least 1 GiB.",
    )
    random_init_seed: int = Field(
        default=0,
        description="Seed of the random initialisation used when the factory skips loading weights "
        "(skip_loading_weights); the same seed gives the same weights on the same device.",
    )
    random_init_std: float = Field(
        default=0.02,
        gt=0,
        description="Standard deviation of the normal distribution that random initialisation draws "
        "matrices from (biases get zeros, 1-D weights such as norm scales get ones).",
    )
