"""The installed autodeploy-plugin-hf distribution keeps the plugin contract (see autodeploy.testing)."""

from autodeploy.testing import check_plugin


def test_hf_distribution_keeps_the_plugin_contract():
    report = check_plugin("autodeploy-plugin-hf")  # raises, listing every problem, if not
    assert "AutoModelForCausalLM" in report.factories
