"""Entry point `twice_installed`: one valid transform of the same name."""

from autodeploy import BaseTransform, TransformInfo, hookimpl


class TwiceInstalled(BaseTransform):
    """Marks the module with the version of the copy that was loaded."""

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        from importlib.metadata import version

        mod.twice_installed_version = version("autodeploy-testplugin-reliability-twice")
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)


@hookimpl
def autodeploy_register_transforms(register):
    register("twice_installed", TwiceInstalled)
