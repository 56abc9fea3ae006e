"""The committed reference (docs/reference/) is what the first-party plugins generate, and its
factory page carries everything AutoDeploy's factory-stage reference shows."""

import json
import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / "docs" / "reference"
AUTODEPLOY_REFERENCE = ROOT.parent / "shared" / "reference" / "factory-stage.txt"


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
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUTODEPLOY_")}
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


def reference_sections(text: str) -> dict[str, str]:
    """AutoDeploy's page split into transform sections: a title line (ending in '#') followed by
    the transform key."""
    titles = list(re.finditer(r"^(.+)#\n\nTransform key:", text, re.M))
    sections = {}
    for index, match in enumerate(titles):
        end = titles[index + 1].start() if index + 1 < len(titles) else len(text)
        sections[match.group(1)] = text[match.start() : end]
    return sections


def reference_fields(section: str) -> dict[str, tuple[str, str, str]]:
    """field name -> (type, default, description) from `field NAME: TYPE = DEFAULT` entries."""
    fields = {}
    for match in re.finditer(r"^field (\w+): (.+?)(?: = (.+)| \[Required\])\n\n(.+)$", section, re.M):
        name, type_, default, description = match.groups()
        fields[name] = (type_, default or "required", description)
    return fields


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
def both_pages():
    if not AUTODEPLOY_REFERENCE.is_file():
        pytest.skip(f"{AUTODEPLOY_REFERENCE} (the project's shared material) is not here")
    return AUTODEPLOY_REFERENCE.read_text(encoding="utf-8"), (REFERENCE_DIR / "factory-stage.md").read_text(
        encoding="utf-8"
    )


def test_factory_page_has_every_transform_of_the_reference(both_pages):
    reference, ours = both_pages
    assert reference.splitlines()[0] == "Factory Stage#" and ours.splitlines()[2] == "# Factory Stage"
    theirs, mine = reference_sections(reference), our_sections(ours)
    assert list(theirs) == ["Build Model", "Build And Load Factory Model"]
    assert set(theirs) <= set(mine)


@pytest.mark.parametrize("title", ["Build Model", "Build And Load Factory Model"])
def test_each_transform_section_carries_what_the_reference_shows(both_pages, title):
    reference, ours = both_pages
    theirs, mine = reference_sections(reference)[title], our_sections(ours)[title]

    key = re.search(r"Transform key: (\w+)", theirs).group(1)
    assert f"Transform key: `{key}`" in mine
    assert re.search(r"Source module: `autodeploy_\w+(\.\w+)*`", mine)
    modes = re.search(r"Configured modes: (.+)", theirs).group(1)
    assert f"Configured modes: {modes}\n" in mine

    class_name = re.search(r"^class [\w.]+\.(\w+)\($", theirs, re.M).group(1)
    assert re.search(rf"^class [\w.]+\.{class_name}\(\n    config: TransformConfig,\n\)$", mine, re.M)
    base = re.search(r"^Bases: (\w+)$", theirs, re.M).group(1)
    assert f"Bases: `{base}`" in mine
    first_doc_line = theirs.split(f"Bases: {base}\n\n", 1)[1].splitlines()[0]
    assert normalized(first_doc_line) in normalized(mine)

    if "classmethod get_config_class()" in theirs:
        assert "### `classmethod get_config_class() -> type[TransformConfig]`" in mine
        assert "Get the configuration class for the transform." in mine

    assert "### YAML configuration" in mine
    config_class = re.search(r"pydantic model [\w.]+\.(\w+)\[source\]", theirs).group(1)
    assert re.search(rf"^#### pydantic model `[\w.]+\.{config_class}`$", mine, re.M)
    assert "Bases: `TransformConfig`" in mine
    their_schema = json.loads(re.search(r"Show JSON schema\n(\{.*?\n\})\n", theirs, re.S).group(1))
    our_schema = json.loads(re.search(r"```json\n(.*?)\n```", mine, re.S).group(1))
    assert our_schema == their_schema
    assert "extra: str = allow" in theirs and "- extra: `'allow'`" in mine

    their_fields, our_fields_ = reference_fields(theirs), our_fields(mine)
    assert their_fields and set(their_fields) <= set(our_fields_)
    for name, (type_, default, description) in their_fields.items():
        assert our_fields_[name] == (type_, default, description), name
