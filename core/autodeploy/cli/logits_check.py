"""``run --check``: does the optimized module still compute what the eager model computes?

The reference is the factory's own eager model (``build_and_load_model``), run on the same ids.
The tolerance is absolute, on the logits; its default depends on the logits' dtype, because
half-precision formats round logits of magnitude ~10-30 in steps of 0.01-0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..generation import compare_logits, logits_of

if TYPE_CHECKING:
    import torch

    from ..factory import ModelFactory

# float32: the optimized graph runs other kernels than the eager model (oneDNN's packed linears,
# fused norms), which sum in another order; over SmolLM2's 30 layers its logits (up to ~30) differ
# by ~1.1e-4. A real change (a scaled norm, a wrong weight) moves them by far more than 1e-3.
DEFAULT_TOLERANCES = {"float64": 1e-8, "float32": 1e-3, "float16": 5e-2, "bfloat16": 2.5e-1}
FALLBACK_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CheckResult:
    """The largest absolute logits difference, the tolerance it was held to, and the verdict."""

    max_abs_diff: float
    tolerance: float
    dtype: str
    seconds: float

    @property
    def passed(self) -> bool:
        # written so that NaN fails
        return self.max_abs_diff <= self.tolerance

    def describe(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"check: max |optimized - eager| logits difference {self.max_abs_diff:.3e} "
            f"(tolerance {self.tolerance:.1e}, {self.dtype}): {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        if self.max_abs_diff != self.max_abs_diff:  # NaN is not JSON
            data["max_abs_diff"] = "nan"
        return data


def default_tolerance(dtype: torch.dtype) -> float:
    """The absolute tolerance for logits of `dtype` (1e-3 for float32)."""
    return DEFAULT_TOLERANCES.get(str(dtype).removeprefix("torch."), FALLBACK_TOLERANCE)


def check_against_eager(
    module: Any,
    factory: ModelFactory,
    input_ids: torch.Tensor,
    device: str,
    tolerance: Optional[float],
    run_optimized: Optional[Callable[[torch.Tensor], Any]] = None,
) -> CheckResult:
    """Compare `module`'s logits on `input_ids` with the factory's eager model's.

    `run_optimized` computes the optimized logits instead of ``module(input_ids=...)`` (a cached
    module runs through the runtime's step); when it returns the last position's logits only (a
    graph that gathers them), the reference's last position is compared.
    """
    import torch

    start = time.perf_counter()
    with torch.no_grad():
        optimized = logits_of(run_optimized(input_ids) if run_optimized else module(input_ids=input_ids))
        reference_model = factory.build_and_load_model(device)
        reference = logits_of(reference_model(input_ids=input_ids))
        if optimized.dim() == 3 and reference.dim() == 3 and optimized.shape[1] < reference.shape[1]:
            reference = reference[:, -optimized.shape[1] :]
    del reference_model
    limit = tolerance if tolerance is not None else default_tolerance(optimized.dtype)
    difference = compare_logits(optimized, reference)
    return CheckResult(
        max_abs_diff=difference,
        tolerance=limit,
        dtype=str(optimized.dtype).removeprefix("torch."),
        seconds=time.perf_counter() - start,
    )
