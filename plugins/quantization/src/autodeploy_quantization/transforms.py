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
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        import autodeploy.ops  # noqa: F401 - registers the op

        from .linear_rewrite import quantize_linears
        from .quantizers import int8_maker

        result = quantize_linears(gm, self.config.exclude_modules, int8_maker(self.config.backend))
        if result.layers:
            self.add_details(
                backend=self.config.backend, bytes_before=result.bytes_before, bytes_after=result.bytes_after
            )
        return gm, _info(result.layers)


class QuantizeInt4Config(TransformConfig):
    group_size: int = Field(
        default=32, gt=0, description="Input channels per scale/zero group (32 as GGUF's Q4 blocks)."
    )
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
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
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


class QuantizeGGUFConfig(TransformConfig):
    q8_0: Literal["int8", "float"] = Field(
        default="int8",
        description="Q8_0 weights: `int8` (int8_weight_linear; the per-32 block scales become one scale per "
        "output channel, see the plugin README for what that loses) or `float` (de-quantised at load).",
    )
    q4: Literal["int4", "int8", "float"] = Field(
        default="int4",
        description="Q4_0 / Q4_1 weights: `int4` (int4_weight_linear, group 32: the blocks map exactly), "
        "`int8` (re-quantised per channel, for a faster int8 kernel) or `float`.",
    )
    other_types: Literal["int8", "int4", "float"] = Field(
        default="int8",
        description="Other quantised types (K-quants, Q5...): each tensor de-quantised alone at load, then "
        "quantised into this format (`int4` group-wise, 32), or left `float`.",
    )
    int8_backend: Literal["int8pack", "fbgemm", "dequant"] = Field(
        default="int8pack", description="int8 kernel (see quantize_int8_linear)."
    )
    int4_backend: Literal["int4pack", "dequant"] = Field(
        default="int4pack", description="4-bit kernel (see quantize_int4_linear)."
    )
    exclude_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="fnmatch patterns of weight names left in floating point (default: the lm_head). Tied "
        "weights (an lm_head sharing the embedding) always stay float.",
    )


class QuantizeGGUFLinearFromConfig(BaseTransform):
    """Load a quantised GGUF checkpoint into quantised linears, without the model in floating point.

    Runs before the weights are loaded (pattern_matcher stage, like AutoDeploy's ``*_from_config``
    quantization transforms): asks the factory how the checkpoint is quantised
    (``get_quant_config()``; GGUF files say which tensors are Q8_0, Q4_1...), rewrites each linear
    (and each SwiGLU MLP's three products) whose weight is stored quantised into
    ``int8_weight_linear`` / ``int4_weight_linear`` with buffers of the quantised layout, and
    records how the loader fills them from the file's blocks. Without a GGUF checkpoint it does
    nothing. Matches are the weights converted; the report notes their types, formats and bytes.
    """

    transform_key: ClassVar[str] = "quantize_gguf_linear_from_config"
    config: QuantizeGGUFConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return QuantizeGGUFConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .from_gguf import Targets, rewrite_for_gguf

        get_quant_config = getattr(factory, "get_quant_config", None)
        quant_config = get_quant_config() if callable(get_quant_config) else {}
        if quant_config.get("quant_method") != "gguf":
            return gm, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        targets = Targets(
            q8_0=self.config.q8_0,
            q4=self.config.q4,
            other=self.config.other_types,
            int8_backend=self.config.int8_backend,
            int4_backend=self.config.int4_backend,
            device=str(cm.device),
        )
        result = rewrite_for_gguf(gm, dict(quant_config.get("tensor_types", {})), targets, self.config.exclude_modules)
        if result.layers:
            self.add_details(
                gguf_types=dict(sorted(result.by_type.items())),
                formats=dict(sorted(result.by_format.items())),
                bytes_before=result.bytes_before,
                bytes_after=result.bytes_after,
                kept_float=len(result.kept_float),
            )
        return gm, _info(result.layers)
