"""The installed autodeploy-plugin-compile distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_compile_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-compile")  # raises, listing every problem, if not
    assert report.transforms == ["compile_model"]
