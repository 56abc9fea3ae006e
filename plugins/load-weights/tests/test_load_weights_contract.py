"""The installed autodeploy-plugin-load-weights distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_load_weights_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-load-weights")  # raises, listing every problem, if not
    assert "load_weights" in report.transforms
