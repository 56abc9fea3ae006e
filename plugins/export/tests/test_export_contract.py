"""The installed autodeploy-plugin-export distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_export_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-export")  # raises, listing every problem, if not
    assert "export_to_gm" in report.transforms
