"""The transforms of this plugin (torch-free at import; each rewrite lives in its own module).

Pattern matchers (stage ``pattern_matcher``, before the weights exist): model code -> canonical
``autodeploy`` ops. Fusions (stage ``post_load_fusion``, after loading): joined weights and fused
kernels. Every transform counts its matches and notes in the run report what it changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, Optional

from pydantic import Field

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import fx

    from autodeploy import CachedSequenceInterface, ModelFactory


def _info(num_matches: int) -> TransformInfo:
    return TransformInfo(
        skipped=False, num_matches=num_matches, is_clean=num_matches == 0, has_valid_shapes=num_matches == 0
    )


class MatchRMSNormPattern(BaseTransform):
    """Replace RMSNorm model code (float32 statistics, ``rsqrt(mean(x**2) + eps)``, times a weight)
    with ``autodeploy::torch_rmsnorm``. Reports the number of norms replaced; results unchanged."""

    transform_key: ClassVar[str] = "match_rmsnorm_pattern"

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .rmsnorm_matcher import replace_rmsnorms

        return gm, _info(replace_rmsnorms(gm))


class MatchSwiGLUPattern(BaseTransform):
    """Replace the SwiGLU MLP (``down(silu(gate(x)) * up(x))``) with ``autodeploy::torch_swiglu_mlp``.
    Reports the number of MLPs replaced; results unchanged."""

    transform_key: ClassVar[str] = "match_swiglu_pattern"

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .swiglu_matcher import replace_swiglus

        return gm, _info(replace_swiglus(gm))


class EliminateRedundantTransposes(BaseTransform):
    """Remove transpose/permute pairs that undo each other (a ``contiguous`` between them is kept).
    Reports the number of pairs removed."""

    transform_key: ClassVar[str] = "eliminate_redundant_transposes"

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .transposes import remove_redundant_transposes

        return gm, _info(remove_redundant_transposes(gm))


class FuseGemms(BaseTransform):
    """Join linear layers reading the same input (q/k/v, gate/up) into one product with their
    weights concatenated (after loading). Matches are the groups joined; the report notes how
    many linears went into them and the bytes of their weights (the same before and after: the
    gain is fewer, larger products)."""

    transform_key: ClassVar[str] = "fuse_gemms"

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .gemm_fusion import fuse_gemm_groups, weight_bytes

        before = weight_bytes(gm)
        result = fuse_gemm_groups(gm)
        if result.groups:
            self.add_details(linears_joined=result.linears, bytes_before=before, bytes_after=weight_bytes(gm))
        return gm, _info(result.groups)


class FuseRMSNormConfig(TransformConfig):
    """Which RMSNorm kernel to use."""

    rmsnorm_backend: Literal["aten", "torch"] = Field(
        default="aten",
        description="RMSNorm kernel: `aten` (one aten.rms_norm call; the fastest measured on CPU) or "
        "`torch` (the reference pow/mean/rsqrt/mul sequence).",
    )


class FuseRMSNorm(BaseTransform):
    """Point every ``autodeploy::torch_rmsnorm`` (and fused add+norm) at the configured kernel.
    Matches are the norms switched; the report names the backend."""

    transform_key: ClassVar[str] = "fuse_rmsnorm"
    config: FuseRMSNormConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return FuseRMSNormConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .norm_fusion import set_rmsnorm_backend

        count = set_rmsnorm_backend(gm, self.config.rmsnorm_backend)
        if count:
            self.add_details(backend=self.config.rmsnorm_backend)
        # only an argument changed: the graph stays as clean and its shapes as valid as they were
        return gm, TransformInfo(skipped=False, num_matches=count, is_clean=True, has_valid_shapes=True)


class FuseAddRMSNormConfig(TransformConfig):
    backend: Literal["aten", "torch"] = Field(
        default="aten", description="RMSNorm kernel of the fused op (`aten` measured fastest on CPU, or `torch`)."
    )


class FuseAddRMSNorm(BaseTransform):
    """Join a residual add and the RMSNorm reading it into ``autodeploy::fused_add_rms_norm``
    (returns the norm and the sum). Matches are the pairs joined."""

    transform_key: ClassVar[str] = "fuse_add_rms_norm"
    config: FuseAddRMSNormConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return FuseAddRMSNormConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .norm_fusion import fuse_add_rmsnorms, set_rmsnorm_backend

        count = fuse_add_rmsnorms(gm)
        if count:
            set_rmsnorm_backend(gm, self.config.backend)
            self.add_details(backend=self.config.backend)
        return gm, _info(count)


class FuseSwiGLUConfig(TransformConfig):
    backend: Literal["torch"] = Field(
        default="torch", description="Kernel of the gated activation: `torch` (silu_and_mul on the joined product)."
    )


class FuseSwiGLU(BaseTransform):
    """Lower each ``autodeploy::torch_swiglu_mlp`` into one product with the gate and up weights
    concatenated, ``silu_and_mul``, and the down product. Matches are the MLPs lowered; the report
    notes the bytes of their weights before and after (unchanged: two products instead of three)."""

    transform_key: ClassVar[str] = "fuse_swiglu"
    config: FuseSwiGLUConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return FuseSwiGLUConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .gemm_fusion import weight_bytes
        from .swiglu_fusion import lower_swiglus

        before = weight_bytes(gm)
        count = lower_swiglus(gm, self.config.backend)
        if count:
            self.add_details(bytes_before=before, bytes_after=weight_bytes(gm))
        return gm, _info(count)
