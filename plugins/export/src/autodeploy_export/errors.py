"""Errors this plugin raises; all are `autodeploy.errors.AutodeployError`s (the user can fix them).

Inside a pipeline the transform base class wraps them into a `TransformError` naming the
transform key and stage, chained to these (``__cause__``), which are chained to torch's error.
"""

from __future__ import annotations

from autodeploy import AutodeployError


class ModelExportError(AutodeployError):
    """``torch.export`` could not capture the model; names the model class and the failing call."""

    def __init__(self, model_class: str, location: str | None, reason: str):
        self.model_class = model_class
        self.location = location
        self.reason = reason
        where = f" at {location}" if location else ""
        super().__init__(f"cannot export {model_class}{where}: {reason}")


class ExportInputError(AutodeployError):
    """The module handed to ``export_to_gm`` or its example inputs do not fit what export needs."""


class InferenceOnlyGraphError(AutodeployError):
    """Someone asked an exported (inference-only) graph to switch to training mode."""
