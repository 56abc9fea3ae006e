"""The transforms ``detect_sharding`` and ``sharding_transform_executor`` (stage sharding).

Torch-free at import: the graph work is in `detect` and `execute`, imported when a transform runs.
At world size 1 both are skipped, so the presets can carry them unconditionally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

from .config import ShardingExecutorConfig, ShardingTransformConfig
from .plan import PLAN_META

if TYPE_CHECKING:
    from torch import fx

    from autodeploy import CachedSequenceInterface, ModelFactory


def _skipped() -> TransformInfo:
    return TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)


class DetectSharding(BaseTransform):
    """Find the tensor-parallel splits of each graph for this rank (world size > 1).

    Sources are tried in ``sharding_source`` order: ``manual`` (``manual_config['tp_plan']``),
    ``factory`` (``factory_config['tp_plan']``, else the Hugging Face config's
    ``base_model_tp_plan``) and ``heuristic`` (from the graph: layers whose outputs reach only one
    other linear layer are split by columns, that layer by rows). With ``support_partial_config``
    later sources fill in what earlier ones left. Embeddings and ``lm_head`` stay replicated
    unless a plan says otherwise (or ``shard_all_unprocessed`` gathers leftovers). The plan is
    kept on the graph for ``sharding_transform_executor``; the matches count the layers to split.
    """

    config: ShardingTransformConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return ShardingTransformConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        if shared_config.world_size == 1 or "tp" not in self.config.sharding_dims:
            return gm, _skipped()
        from .detect import detect

        plan = detect(
            gm,
            rank=shared_config.local_rank,
            world_size=shared_config.world_size,
            sources=self.config.sharding_source,
            plans={"manual": _tp_plan(self.config.manual_config), "factory": self._factory_plan(factory)},
            simple_shard_only=self.config.simple_shard_only,
            support_partial_config=self.config.support_partial_config,
            shard_all_unprocessed=self.config.shard_all_unprocessed,
        )
        gm.meta[PLAN_META] = plan
        return gm, TransformInfo(skipped=False, num_matches=plan.num_split_layers, is_clean=True, has_valid_shapes=True)

    def _factory_plan(self, factory: Optional[ModelFactory]) -> dict[str, str]:
        plan = _tp_plan(self.config.factory_config)
        if plan or factory is None:
            return plan
        hf_config = getattr(factory, "hf_config", None)
        if not callable(hf_config):
            return {}
        config = hf_config()
        config = getattr(config, "get_text_config", lambda: config)()
        return dict(getattr(config, "base_model_tp_plan", None) or {})


def _tp_plan(config: dict[str, Any]) -> dict[str, str]:
    plan = config.get("tp_plan", {})
    return {str(key): str(value) for key, value in plan.items()} if isinstance(plan, dict) else {}


class ShardingTransformExecutor(BaseTransform):
    """Apply the plan ``detect_sharding`` left on each graph, for this rank.

    Column-split layers keep their rank's share of output features (weights and biases),
    row-split layers their share of input features; head counts spelled out in view, reshape
    and expand nodes between them shrink accordingly; an ``autodeploy::all_reduce`` follows
    each row-split layer (its bias is added once, after the sum) and an ``autodeploy::all_gather``
    each simply split one. Weights on the meta device get their per-rank shape and a recorded
    slice, so that ``load_weights`` reads only this rank's part of each checkpoint tensor.
    Checks every split before changing anything; a head count the world size does not divide
    is an error naming the layer and the numbers.
    """

    config: ShardingExecutorConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return ShardingExecutorConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        plan = gm.meta.pop(PLAN_META, None)
        if plan is None or shared_config.world_size == 1:
            return gm, _skipped()
        from .execute import apply_plan

        split = apply_plan(gm, plan)
        return gm, TransformInfo(skipped=False, num_matches=split, is_clean=False, has_valid_shapes=False)
