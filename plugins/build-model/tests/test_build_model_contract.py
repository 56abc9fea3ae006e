"""The installed autodeploy-plugin-build-model distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_build_model_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-build-model")  # raises, listing every problem, if not
    assert report.transforms == ["build_model"]
