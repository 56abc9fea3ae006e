"""A transform without a docstring, and mode entries that do not validate."""

from autodeploy import BaseTransform, TransformConfig, TransformInfo, hookimpl


class UndocumentedConfig(TransformConfig):
    """Its config is documented; the transform is not."""

    level: int = 1


class Undocumented(BaseTransform):
    @classmethod
    def get_config_class(cls):
        return UndocumentedConfig

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        return mod, TransformInfo(skipped=True, num_matches=0)


@hookimpl
def autodeploy_register_transforms(register):
    register("misfit_undocumented", Undocumented)


@hookimpl
def autodeploy_register_modes(register):
    register(
        "graph",
        {
            "misfit_undocumented": {"stage": "compile", "run_per_gm": False, "levle": 2},
            "misfit_missing": {"stage": "compile"},
        },
    )
