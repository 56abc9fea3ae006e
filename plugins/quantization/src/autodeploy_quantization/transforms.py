"""The quantization transforms (torch-free at import).

Both run in ``post_load_fusion`` (they need the loaded weights), after the GEMM fusions, so that
joined q/k/v and gate/up products are quantized as one. Both are opt-in in the ``graph`` preset.
The run report notes how many linears were quantized and their weight bytes before and after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, Optional

from pydantic import Field

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import fx

    from autodeploy import CachedSequenceInterface, ModelFactory

DEFAULT_EXCLUDE = ["*lm_head*"]


def _info(num_matches: int) -> TransformInfo:
    return TransformInfo(
        skipped=False, num_matches=num_matches, is_clean=num_matches == 0, has_valid_shapes=num_matches == 0
    )


class QuantizeInt8Config(TransformConfig):
    backend: Literal["int8pack", "fbgemm", "dequant"] = Field(
        default="int8pack",
        description="int8 kernel: `int8pack` (aten._weight_int8pack_mm, float activations: keeps SmolLM2's "
        "likelihood within 0.1% of fp32), `fbgemm` (torch's dynamic quantized linear: int8 activations too, "
        "faster at batch 8 but per-tensor activation quantization costs SmolLM2 +39% NLL) or `dequant` "
        "(reference: a float copy of the weight per call).",
    )
    exclude_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="fnmatch patterns of weight names left in floating point (default: the lm_head).",
    )


class QuantizeInt8Linear(BaseTransform):
    """Quantize linear weights to int8 with one scale per output channel (symmetric), computed
    through ``autodeploy::int8_weight_linear``. Matches are the linears quantized; the report notes
    their weight bytes before and after."""

    transform_key: ClassVar[str] = "quantize_int8_linear"
    config: QuantizeInt8Config

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return QuantizeInt8Config

    def _apply(
        self, gm: fx.GraphModule, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[fx.GraphModule, TransformInfo]:
        import autodeploy.ops  # noqa: F401 - registers the op

        from .linear_rewrite import quantize_linears
        from .quantizers import int8_maker

        result = quantize_linears(gm, self.config.exclude_modules, int8_maker(self.config.backend))
        if result.layers:
            self.add_details(backend=self.config.backend, bytes_before=result.bytes_before, bytes_after=result.bytes_after)
        return gm, _info(result.layers)


class QuantizeInt4Config(TransformConfig):
    group_size: int = Field(default=32, gt=0, description="Input channels per scale/zero group (32 as GGUF's Q4 blocks).")
    backend: Literal["int4pack", "dequant"] = Field(
        default="int4pack",
        description="4-bit kernel: `int4pack` (aten._weight_int4pack_mm_for_cpu) or `dequant` (reference).",
    )
    exclude_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="fnmatch patterns of weight names left in floating point (default: the lm_head).",
    )


class QuantizeInt4Linear(BaseTransform):
    """Quantize linear weights to 4 bits, group-wise and asymmetric (``(q - 8) * scale + zero``),
    computed through ``autodeploy::int4_weight_linear``. Matches are the linears quantized; the
    report notes their weight bytes before and after."""

    transform_key: ClassVar[str] = "quantize_int4_linear"
    config: QuantizeInt4Config

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return QuantizeInt4Config

    def _apply(
        self, gm: fx.GraphModule, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[fx.GraphModule, TransformInfo]:
        import autodeploy.ops  # noqa: F401 - registers the op

        from .linear_rewrite import quantize_linears
        from .quantizers import int4_maker

        maker = int4_maker(self.config.group_size, self.config.backend)
        result = quantize_linears(gm, self.config.exclude_modules, maker)
        if result.layers:
            self.add_details(
                group_size=self.config.group_size,
                backend=self.config.backend,
                bytes_before=result.bytes_before,
                bytes_after=result.bytes_after,
            )
        return gm, _info(result.layers)
