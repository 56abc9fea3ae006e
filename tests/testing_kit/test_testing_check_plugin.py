"""`check_plugin` finds every way a real installed distribution breaks the plugin contract."""

import pytest

from autodeploy.testing import PluginContractError, check_plugin

pytestmark = pytest.mark.usefixtures("misfit_plugins_on_path")


def problems_of(distribution: str, *, check_imports: bool = False) -> list[str]:
    # the import check starts an interpreter: only the tests about imports pay for it
    report = check_plugin(distribution, raise_on_problems=False, check_imports=check_imports)
    assert report.problems, f"expected problems for {distribution}"
    return report.problems


def test_a_good_distribution_passes_and_reports_what_it_provides():
    report = check_plugin("autodeploy-testplugin-good")  # with the import check
    assert report.ok and report.problems == []
    assert report.version == "1.2.3"
    assert report.transforms == ["hello"]
    assert report.factories  # its factories plugin registers at least one
    assert "graph" in report.modes
    assert any(entry.startswith("autodeploy.transforms: hello = ") for entry in report.entry_points)


def test_problems_raise_one_error_listing_all_of_them():
    with pytest.raises(PluginContractError) as excinfo:
        check_plugin("autodeploy-testkit-misfit", check_imports=False)
    message = str(excinfo.value)
    assert message.startswith("autodeploy-testkit-misfit 0.2.0: ")
    assert len(excinfo.value.report.problems) >= 4
    for problem in excinfo.value.report.problems:
        assert f"  - {problem}" in message


def test_not_installed_is_reported():
    assert problems_of("autodeploy-plugin-does-not-exist") == [
        "distribution 'autodeploy-plugin-does-not-exist' is not installed"
    ]


def test_hook_implementations_must_match_the_specifications():
    problems = " | ".join(problems_of("autodeploy-testplugin-bad-hookimpl"))
    assert "{'registry'} are declared in the hookimpl but can not be found in the hookspec" in problems
    assert "unknown hook 'autodeploy_register_transform' (did you mean 'autodeploy_register_transforms'?)" in problems


def test_registrations_must_derive_from_the_base_classes():
    problems = " | ".join(problems_of("autodeploy-testplugin-bad-registrations"))
    assert "does not derive autodeploy.TransformConfig" in problems
    assert "not a subclass of autodeploy.ModelFactory" in problems
    assert "'has spaces' is not a plain YAML key" in problems


def test_entry_points_must_import_and_register():
    broken_import = problems_of("autodeploy-testplugin-broken-import", check_imports=True)
    assert any("ModuleNotFoundError" in line for line in broken_import)
    assert len(broken_import) == 1  # not imported again by the import check
    assert any(
        "registration exploded on purpose" in line for line in problems_of("autodeploy-testplugin-broken-register")
    )


def test_keys_must_be_unique_among_installed_plugins():
    problems = problems_of("autodeploy-testplugin-dup-a")
    clash = [line for line in problems if line.startswith("transform 'dup_key' is registered by")]
    assert len(clash) == 1
    assert "autodeploy-testplugin-dup-a" in clash[0] and "autodeploy-testplugin-dup-b" in clash[0]
    assert not any("no installed plugin provides" in line for line in problems)  # ambiguous, not missing


def test_core_range_must_include_this_core_and_have_an_upper_bound():
    incompatible = problems_of("autodeploy-testplugin-incompatible", check_imports=True)
    assert any("incompatible: requires autodeploy-core>=99" in line for line in incompatible)
    # an incompatible plugin is never imported, not even by the import check
    assert not any("importing" in line for line in incompatible)
    assert any("no upper bound" in line for line in problems_of("autodeploy-testkit-heavy-import"))


@pytest.mark.slow
def test_entry_point_modules_must_not_import_torch():
    problems = problems_of("autodeploy-testkit-heavy-import", check_imports=True)
    assert any(line.startswith("importing autodeploy_testplugin_kit_heavy.plugin imports torch") for line in problems)
    report = check_plugin("autodeploy-testkit-heavy-import", raise_on_problems=False, check_imports=False)
    assert not any("imports torch" in line for line in report.problems)


def test_mode_entries_must_validate_and_transforms_must_be_documented():
    problems = problems_of("autodeploy-testkit-misfit")
    assert "mode 'graph' entry 'misfit_undocumented': levle is not a field of UndocumentedConfig" in problems
    assert "mode 'graph' configures 'misfit_missing', which no installed plugin provides" in problems
    assert any(line.startswith("mode 'misfit_fast' entry 'misfit_undocumented': stage: ") for line in problems)
    assert any("Undocumented has no docstring" in line for line in problems)
    assert any(
        "entry point 'misfit_modes' is in the group 'autodeploy.transforms' but registers no transform" in line
        for line in problems
    )
