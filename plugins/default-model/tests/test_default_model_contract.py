"""The installed autodeploy-plugin-default-model distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_default_model_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-default-model")  # raises, listing every problem, if not
    assert [entry.split(":")[0] for entry in report.entry_points] == ["autodeploy.plugins"]
