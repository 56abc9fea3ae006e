"""Typed calls of the hooks the core calls while it works (the host's lifecycle methods).

The core calls each hook through a method here, never by a name in a string: a misspelt hook or
argument is then an error in the core (an ``AttributeError``, a type checker's complaint), not a
"plugin failure" blamed on whoever happens to implement the hook. A plugin's implementation that
raises becomes a `PluginError` naming that plugin; an `AutodeployError` from a plugin is the plugin
speaking to the user and passes unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pluggy

from ..errors import AutodeployError, PluginError

if TYPE_CHECKING:
    from torch import nn

    from ..factory import ModelFactory
    from ..records import RunReport, TransformRecord
    from ..stages import Stages
    from ..transform.base import BaseTransform


class LifecycleCalls:
    """Mixed into `PluginHost`: one method per hook the core calls."""

    @property
    def hook(self) -> pluggy.HookRelay:  # provided by PluginHost
        raise NotImplementedError

    def hook_failure_origin(self, hook_name: str, error: BaseException) -> str:  # provided by PluginHost
        raise NotImplementedError

    def before_stage(self, stage: Stages, mod: nn.Module, report: RunReport) -> None:
        self._observe(self.hook.autodeploy_before_stage, stage=stage, mod=mod, report=report)

    def after_stage(self, stage: Stages, mod: nn.Module, report: RunReport) -> None:
        self._observe(self.hook.autodeploy_after_stage, stage=stage, mod=mod, report=report)

    def before_transform(
        self, key: str, stage: Stages, transform: BaseTransform, mod: nn.Module, factory: Optional[ModelFactory]
    ) -> None:
        self._observe(
            self.hook.autodeploy_before_transform, key=key, stage=stage, transform=transform, mod=mod, factory=factory
        )

    def after_transform(self, key: str, stage: Stages, record: TransformRecord, mod: nn.Module) -> None:
        self._observe(self.hook.autodeploy_after_transform, key=key, stage=stage, record=record, mod=mod)

    def transform_error(
        self, key: str, stage: Stages, error: BaseException, record: TransformRecord, will_continue: bool
    ) -> None:
        self._observe(
            self.hook.autodeploy_transform_error,
            key=key,
            stage=stage,
            error=error,
            record=record,
            will_continue=will_continue,
        )

    def resolve_model(self, name: Optional[str], cache_dir: str) -> Optional[str]:
        """The first plugin's answer to "which local folder is model `name`" (None: nobody knows it).

        A plugin's failure propagates as it is: the caller knows which model it asked for.
        """
        answer: Optional[str] = self.hook.autodeploy_resolve_model(name=name, cache_dir=cache_dir)
        return answer

    def _observe(self, caller: pluggy.HookCaller, **kwargs: Any) -> None:
        """Call an observer hook; an implementation that raises fails the run naming its plugin."""
        try:
            caller(**kwargs)
        except AutodeployError:
            raise
        except Exception as exc:  # noqa: BLE001 - third-party observer code
            name = caller.name
            raise PluginError(
                f"the {name} hook of {self.hook_failure_origin(name, exc)} raised {type(exc).__name__}: {exc}; "
                "block that plugin (-p no:NAME or AUTODEPLOY_BLOCK_PLUGINS=NAME) to run without it"
            ) from exc
