"""The names of a new plugin all derive from the one name its author gives."""

import pytest

from autodeploy import AutodeployError
from autodeploy.scaffold import PluginNames, ScaffoldError, core_requirement


@pytest.mark.parametrize(
    ("given", "key", "distribution", "package", "class_name"),
    [
        ("hello", "hello", "autodeploy-plugin-hello", "autodeploy_hello", "Hello"),
        ("fuse-rmsnorm", "fuse_rmsnorm", "autodeploy-plugin-fuse-rmsnorm", "autodeploy_fuse_rmsnorm", "FuseRmsnorm"),
        ("My__Pass", "my_pass", "autodeploy-plugin-my-pass", "autodeploy_my_pass", "MyPass"),
        ("autodeploy-plugin-quant8", "quant8", "autodeploy-plugin-quant8", "autodeploy_quant8", "Quant8"),
    ],
)
def test_names_derive_from_the_given_name(given, key, distribution, package, class_name):
    names = PluginNames.from_name(given)
    assert (names.key, names.distribution, names.package, names.class_name) == (key, distribution, package, class_name)
    assert names.config_class_name == f"{class_name}Config"
    assert names.package.isidentifier() and names.key.isidentifier()


@pytest.mark.parametrize("bad", ["", "9lives", "has space", "dots.not.allowed", "autodeploy-plugin-", "class"])
def test_unusable_names_are_refused_clearly(bad):
    with pytest.raises(ScaffoldError, match="plugin name") as excinfo:
        PluginNames.from_name(bad)
    assert isinstance(excinfo.value, AutodeployError)


@pytest.mark.parametrize(
    ("core", "requirement"),
    [
        ("0.1.0", "autodeploy-core>=0.1,<0.2"),
        ("0.3.7", "autodeploy-core>=0.3,<0.4"),
        ("1.2.0", "autodeploy-core>=1.2,<2"),
        ("2.0.0rc1", "autodeploy-core>=2.0,<3"),
    ],
)
def test_core_range_is_this_release_series(core, requirement):
    assert core_requirement(core) == requirement
