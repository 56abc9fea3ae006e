"""The committed reference (docs/reference/) is what the first-party plugins generate, and its
factory page carries everything AutoDeploy's factory-stage reference shows."""

import json
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from autodeploy_test_support import environment_without_autodeploy_vars

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / "docs" / "reference"
# The facts of AutoDeploy's "Factory Stage" page, one JSON file per transform, kept by the plugin
# that provides the transform (its own reference tests read the same file).
AUTODEPLOY_REFERENCE = {
    "Build Model": ROOT / "plugins" / "build-model" / "tests" / "autodeploy_reference.json",
    "Build And Load Factory Model": ROOT / "plugins" / "build-and-load" / "tests" / "autodeploy_reference.json",
}


def first_party_distributions() -> list[str]:
    names = []
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        assert match, f"{pyproject}: no project name"
        names.append(match.group(1))
    return names


def test_committed_reference_is_up_to_date():
    """Fails when a transform, config class or docstring changed without `nox -s docs`."""
    names = first_party_distributions()
    missing = []
    for name in names:
        try:
            distribution(name)
        except PackageNotFoundError:
            missing.append(name)
    assert not missing, f"the reference is generated with every first-party plugin installed; missing: {missing}"
    env = environment_without_autodeploy_vars()
    env["AUTODEPLOY_PLUGINS"] = ",".join(names)  # third-party plugins in this environment stay out
    result = subprocess.run(
        [sys.executable, "-m", "autodeploy", "docs", "--out", str(REFERENCE_DIR), "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stderr}\nregenerate with `nox -s docs`"


# --- the factory page against AutoDeploy's reference page ----------------------------------------


def our_sections(text: str) -> dict[str, str]:
    parts = re.split(r'^<a id="[^"]+"></a>$', text, flags=re.M)[1:]
    return {re.search(r"^## (.+)$", part, re.M).group(1): part for part in parts}


def our_fields(section: str) -> dict[str, tuple[str, str, str]]:
    fields = {}
    for line in section.splitlines():
        cells = re.split(r"(?<!\\) \| ", line.strip("|").strip()) if line.startswith("| `") else []
        if len(cells) == 5:
            name, type_, default, description, _ = (cell.replace("\\|", "|") for cell in cells)
            default = "required" if default == "*required*" else default.strip("`")
            fields[name.strip("`")] = (type_.strip("`"), default, description)
    return fields


def normalized(text: str) -> str:
    """Whitespace collapsed, typographic apostrophes as typed (the reference page is rendered HTML)."""
    return " ".join(text.replace("\u2019", "'").split())


@pytest.fixture(scope="module")
def theirs() -> dict[str, dict]:
    """Section title -> the facts of AutoDeploy's page for that transform, in the page's order."""
    facts = [json.loads(path.read_text(encoding="utf-8")) for path in AUTODEPLOY_REFERENCE.values()]
    return {fact["title"]: fact for fact in sorted(facts, key=lambda fact: fact["section_order"])}


@pytest.fixture(scope="module")
def ours() -> str:
    return (REFERENCE_DIR / "factory-stage.md").read_text(encoding="utf-8")


def test_factory_page_has_every_transform_of_the_reference(theirs, ours):
    assert {fact["page"] for fact in theirs.values()} == {"Factory Stage"}
    assert ours.splitlines()[2] == "# Factory Stage"
    assert list(theirs) == ["Build Model", "Build And Load Factory Model"]
    assert set(theirs) <= set(our_sections(ours))


@pytest.mark.parametrize("title", ["Build Model", "Build And Load Factory Model"])
def test_each_transform_section_carries_what_the_reference_shows(theirs, ours, title):
    fact, mine = theirs[title], our_sections(ours)[title]

    assert f"Transform key: `{fact['transform_key']}`" in mine
    assert re.search(r"Source module: `autodeploy_\w+(\.\w+)*`", mine)
    assert f"Configured modes: {', '.join(fact['configured_modes'])}\n" in mine

    class_name = fact["class"].rsplit(".", 1)[1]
    assert re.search(rf"^class [\w.]+\.{class_name}\(\n    config: TransformConfig,\n\)$", mine, re.M)
    assert f"Bases: `{fact['bases']}`" in mine
    assert normalized(fact["docstring"][0]) in normalized(mine)

    if fact["get_config_class_docstring"]:
        assert "### `classmethod get_config_class() -> type[TransformConfig]`" in mine
        assert fact["get_config_class_docstring"][0] in mine

    assert "### YAML configuration" in mine
    config_class = fact["config_class"].rsplit(".", 1)[1]
    assert re.search(rf"^#### pydantic model `[\w.]+\.{config_class}`$", mine, re.M)
    assert f"Bases: `{fact['config_bases']}`" in mine
    our_schema = json.loads(re.search(r"```json\n(.*?)\n```", mine, re.S).group(1))
    assert our_schema == fact["json_schema"]
    assert fact["config_extra"] == "allow" and "- extra: `'allow'`" in mine

    their_fields, our_fields_ = fact["fields"], our_fields(mine)
    assert their_fields and set(their_fields) <= set(our_fields_)
    for name, field in their_fields.items():
        assert our_fields_[name] == (field["type"], field["default"], field["description"]), name
