"""The installed autodeploy-plugin-build-and-load distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_build_and_load_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-build-and-load")  # raises, listing every problem, if not
    assert report.transforms == ["build_and_load_factory_model"]
