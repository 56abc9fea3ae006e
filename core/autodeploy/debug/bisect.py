"""``run --check --bisect``: which transform made the logits differ from the eager model's?

After every transform the observer runs the module on the prompt and compares its logits with the
reference (the factory's eager model on the same ids, computed once before the pipeline). The
first transform after which the largest absolute difference exceeds the tolerance is the culprit.

Before the weight_load stage a graph holds no weights (meta tensors) and cannot run. There the
observer measures a copy: it runs the pipeline's own weight_load transforms on a deep copy of the
module (cheap: meta tensors hold no memory) and compares that copy's logits, so a transform that
breaks the graph in post_export or pattern_matcher is named, not the weight loading after it.
A module that cannot be run at some point (e.g. the factory stage's empty container) is marked
"not measured" and never blamed.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..markers import hookimpl
from ..records import TransformStatus
from ..stages import Stages

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..config import SharedConfig
    from ..factory import ModelFactory
    from ..interface import CachedSequenceInterface
    from ..optimizer.validation import PipelineEntry
    from ..records import TransformRecord


@dataclass(frozen=True)
class BisectStep:
    """One transform's measurement: the largest |logits - eager| after it, or why there is none."""

    position: int
    key: str
    stage: str
    max_abs_diff: Optional[float]
    note: str = ""

    def exceeds(self, tolerance: float) -> bool:
        if self.max_abs_diff is None:
            return False
        return not self.max_abs_diff <= tolerance  # NaN exceeds

    def to_dict(self) -> dict[str, Any]:
        diff = self.max_abs_diff
        return {
            "position": self.position,
            "key": self.key,
            "stage": self.stage,
            "max_abs_diff": "nan" if diff is not None and math.isnan(diff) else diff,
            "note": self.note,
        }


class LogitsBisector:
    """Observer comparing the module's logits with `reference` after each transform.

    `weight_load_entries` are the pipeline's weight_load entries (run on copies of modules that
    still hold meta tensors); `cm`, `factory` and `shared_config` are what they are called with.
    """

    def __init__(
        self,
        input_ids: torch.Tensor,
        reference: torch.Tensor,
        tolerance: float,
        *,
        weight_load_entries: list[PipelineEntry],
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ):
        self.input_ids = input_ids
        self.reference = reference
        self.tolerance = tolerance
        self.weight_load_entries = weight_load_entries
        self.cm = cm
        self.factory = factory
        self.shared_config = shared_config
        self.steps: list[BisectStep] = []

    @hookimpl
    def autodeploy_after_transform(self, key: str, stage: Stages, record: TransformRecord, mod: nn.Module) -> None:
        position = len(self.steps) + 1
        if record.status is TransformStatus.DISABLED:
            self.steps.append(BisectStep(position, key, stage.value, None, "disabled"))
            return
        diff, note = self._measure(mod, stage)
        self.steps.append(BisectStep(position, key, stage.value, diff, note))

    @property
    def first_divergence(self) -> Optional[BisectStep]:
        """The first transform after which the difference exceeds the tolerance (None: none did)."""
        return next((step for step in self.steps if step.exceeds(self.tolerance)), None)

    def _measure(self, mod: nn.Module, stage: Stages) -> tuple[Optional[float], str]:
        from ..generation import compare_logits

        note = ""
        try:
            runnable = mod
            if _holds_meta_tensors(mod):
                if stage >= Stages.WEIGHT_LOAD or not self.weight_load_entries:
                    return None, "not measured: weights not loaded"
                runnable = self._with_weights(mod)
                note = "measured on a copy with the weights loaded"
            logits = _logits(runnable, self.input_ids)
            return compare_logits(logits, self.reference), note
        except Exception as exc:  # noqa: BLE001 - a module that cannot run here is not measured, not blamed
            return None, f"not measured: {type(exc).__name__}: {_first_line(exc)}"

    def _with_weights(self, mod: nn.Module) -> nn.Module:
        """A deep copy of `mod` with the pipeline's weight_load transforms applied."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch's pytree specs, when copied
            loaded = copy.deepcopy(mod)
        for entry in self.weight_load_entries:
            if not entry.config.enabled:
                continue
            transform = entry.transform_class(entry.config)
            transform.key = entry.key
            loaded = transform(loaded, self.cm, self.factory, self.shared_config)
        return loaded

    def format_table(self) -> str:
        """One line per transform: position, key, stage, difference, verdict."""
        lines = [f"bisect: logits vs eager after each transform (tolerance {self.tolerance:.1e})"]
        width = max((len(step.key) for step in self.steps), default=3)
        for step in self.steps:
            if step.max_abs_diff is None:
                shown, verdict = "-", step.note
            else:
                shown = f"{step.max_abs_diff:.3e}"
                verdict = ("EXCEEDS" if step.exceeds(self.tolerance) else "ok") + (
                    f" ({step.note})" if step.note else ""
                )
            lines.append(f"  {step.position:2d}  {step.key.ljust(width)}  {step.stage:16}  {shown:>9}  {verdict}")
        return "\n".join(lines)

    def verdict(self) -> str:
        """One sentence naming the first transform that broke the logits, or saying none did."""
        culprit = self.first_divergence
        if culprit is None:
            return f"bisect: no transform made the logits differ from the eager model's beyond {self.tolerance:.1e}"
        return (
            f"bisect: the logits first differ beyond the tolerance after transform {culprit.position} "
            f"{culprit.key!r} (stage {culprit.stage}): max difference {culprit.max_abs_diff:.3e}"
        )

    def to_dict(self) -> dict[str, Any]:
        culprit = self.first_divergence
        return {
            "tolerance": self.tolerance,
            "first_divergence": culprit.key if culprit is not None else None,
            "steps": [step.to_dict() for step in self.steps],
        }


def eager_reference_logits(factory: ModelFactory, input_ids: torch.Tensor, device: str) -> torch.Tensor:
    """The factory's eager model's logits on `input_ids` (the model is dropped afterwards)."""
    import torch

    with torch.no_grad():
        model = factory.build_and_load_model(device)
        logits = _logits(model, input_ids)
    del model
    return logits


def _logits(module: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    import torch

    from ..generation import logits_of

    with torch.no_grad():
        try:
            output = module(input_ids=input_ids)
        except TypeError as exc:
            # a copy of an exported graph loses the hook that fills in default positions: give
            # them as the sequence interface does for a whole sequence, 0..L-1
            if "position_ids" not in str(exc):
                raise
            batch, length = input_ids.shape
            positions = torch.arange(length, device=input_ids.device).expand(batch, length)
            output = module(input_ids=input_ids, position_ids=positions)
        return logits_of(output).detach()


def _holds_meta_tensors(mod: nn.Module) -> bool:
    return any(tensor.is_meta for tensor in (*mod.parameters(), *mod.buffers()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
