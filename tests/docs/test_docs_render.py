"""The generated reference shows everything about a transform, from the code, deterministically."""

import json
import re
from enum import Enum
from pathlib import Path
from typing import Literal, Optional

import pytest
from pydantic import Field

from autodeploy import BaseTransform, PluginControls, PluginHost, Stages, TransformConfig, TransformInfo, hookimpl
from autodeploy.docs import collect_reference, generate_pages
from autodeploy.docs.render import stage_page
from autodeploy.docs.wording import STAGE_PURPOSE, stage_title
from autodeploy.naming import title_from_key

ROOT = Path(__file__).resolve().parents[2]


class Precision(Enum):
    HALF = "half"
    FULL = "full"


class FuseThingsConfig(TransformConfig):
    """Configuration for fusing things."""

    backend: Literal["eager", "fused"] = Field(default="fused", description="Which kernels | which path.")
    precision: Precision = Field(default=Precision.HALF, description="Numeric precision.")
    limit: Optional[int] = Field(default=None, description="At most this many fusions.")
    names: list[str] = Field(default_factory=list, description="Only these modules.")


class FuseThings(BaseTransform):
    """Fuse things that can be fused.

    A second paragraph that explains why.
    """

    config: FuseThingsConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        """Return the fusing config."""
        return FuseThingsConfig


class FuseMoreThings(FuseThings):
    """The same, but more."""


class PinnedConfig(TransformConfig):
    """A config that fixes its stage."""

    stage: Stages = Field(default=Stages.CACHE_INIT, description="Always cache_init.")


class Pinned(BaseTransform):
    """Runs in cache_init unless told otherwise."""

    @classmethod
    def get_config_class(cls):
        return PinnedConfig


class Loose(BaseTransform):
    """Configured by no mode, stage not fixed."""


class DocsPlugin:
    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("fuse_things", FuseThings)
        register("fuse_more_things", FuseMoreThings)
        register("pinned_cache", Pinned)
        register("loose_end", Loose)

    @hookimpl
    def autodeploy_register_modes(self, register):
        register(
            "graph", {"fuse_things": {"stage": "post_load_fusion"}, "fuse_more_things": {"stage": "post_load_fusion"}}
        )
        register("fast", {"fuse_more_things": {"stage": "post_load_fusion"}})


@pytest.fixture(scope="module")
def pages():
    host = PluginHost(PluginControls(autoload=False))
    host.register(DocsPlugin(), name="docs-test")
    return generate_pages(host)


def section(page: str, key: str) -> str:
    """The text of one transform's section on a stage page."""
    start = page.index(f'<a id="{key}"></a>')
    following = page.find('<a id="', start + 1)
    return page[start : following if following != -1 else len(page)]


def test_titles_come_from_keys():
    assert title_from_key("build_and_load_factory_model") == "Build And Load Factory Model"
    assert title_from_key("build_model") == "Build Model"
    assert title_from_key("export_to_gm") == "Export To Gm"
    assert stage_title(Stages.POST_LOAD_FUSION) == "Post Load Fusion Stage"


def test_every_stage_has_a_purpose_and_a_page(pages):
    assert set(STAGE_PURPOSE) == set(Stages)
    for stage in Stages:
        page = pages[stage_page(stage)]
        assert page.splitlines()[2] == f"# {stage_title(stage)}"
        assert STAGE_PURPOSE[stage] in page
    assert set(pages) >= {"index.md", "core.md"}


def test_stage_without_transforms_says_so(pages):
    assert "No installed plugin provides a transform for the `sharding` stage." in pages["sharding-stage.md"]
    assert "No installed plugin provides" not in pages["post-load-fusion-stage.md"]


def test_transform_section_shows_key_module_modes_signature_bases_and_docstrings(pages):
    text = section(pages["post-load-fusion-stage.md"], "fuse_things")
    module = FuseThings.__module__
    assert "## Fuse Things\n" in text
    assert "Transform key: `fuse_things`" in text
    assert f"Source module: `{module}`" in text
    assert "Configured modes: graph\n" in text
    assert "Provided by: `docs-test (in-process)`" in text
    assert f"```python\nclass {module}.FuseThings(\n    config: TransformConfig,\n)\n```" in text
    assert "Bases: `BaseTransform`" in text
    assert "Fuse things that can be fused.\n\nA second paragraph that explains why." in text
    assert "### `classmethod get_config_class() -> type[TransformConfig]`\n\nReturn the fusing config." in text

    more = section(pages["post-load-fusion-stage.md"], "fuse_more_things")
    assert "Configured modes: fast, graph\n" in more
    assert "Bases: `FuseThings`" in more
    assert "The same, but more." in more and "Fuse things that can be fused." not in more  # no borrowed docstring
    assert "Return the fusing config." in more  # the method it inherits


def test_yaml_configuration_has_the_config_class_schema_and_fields(pages):
    text = section(pages["post-load-fusion-stage.md"], "fuse_things")
    assert "### YAML configuration" in text
    assert f"#### pydantic model `{FuseThingsConfig.__module__}.FuseThingsConfig`" in text
    assert "Bases: `TransformConfig`\n\nConfiguration for fusing things." in text
    schema_text = re.search(r"```json\n(.*?)\n```", text, re.S).group(1)
    assert json.loads(schema_text) == FuseThingsConfig.model_json_schema()
    assert schema_text == json.dumps(FuseThingsConfig.model_json_schema(), indent=3)  # 3-space indent, pydantic's order
    assert "- extra: `'allow'`" in text
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == set(FuseThingsConfig.model_fields)
    assert rows["backend"] == (
        "| `backend` | `Literal['eager', 'fused']` | `'fused'` | Which kernels \\| which path. | `FuseThingsConfig` |"
    )
    assert rows["precision"].startswith("| `precision` | `Precision` | `'half'` |")
    assert rows["limit"].startswith("| `limit` | `int \\| None` | `None` | At most this many fusions. |")
    assert rows["names"].startswith("| `names` | `list[str]` | `[]` |")
    assert rows["stage"] == (
        "| `stage` | `Stages` | *required* | The stage of the transformation pipeline where this transform "
        "should run. | `TransformConfig` |"
    )
    assert rows["run_per_gm"].startswith("| `run_per_gm` | `bool` | `True` |")


def test_stage_comes_from_modes_else_from_the_config_default(pages):
    assert '<a id="pinned_cache"></a>' in pages["cache-init-stage.md"]
    assert "Configured modes: none" in section(pages["cache-init-stage.md"], "pinned_cache")
    assert '<a id="loose_end"></a>' in pages["unstaged.md"]
    assert "[`loose_end`](unstaged.md#loose_end)" in pages["index.md"]


def test_index_links_every_transform_and_lists_modes_in_run_order(pages):
    index = pages["index.md"]
    assert (
        "| [`fuse_things`](post-load-fusion-stage.md#fuse_things) | post_load_fusion | graph | `docs-test (in-process)` |"
        in index
    )
    assert "- `graph`: `fuse_things`, `fuse_more_things`" in index
    assert "- [Post Load Fusion Stage](post-load-fusion-stage.md): 2 transforms" in index
    assert "- [Sharding Stage](sharding-stage.md): 0 transforms" in index


def test_transforms_are_ordered_by_stage_then_key():
    host = PluginHost(PluginControls(autoload=False))
    host.register(DocsPlugin(), name="docs-test")
    keys = [doc.key for doc in collect_reference(host).transforms]
    assert keys == ["fuse_more_things", "fuse_things", "pinned_cache", "loose_end"]


def test_core_page_documents_stages_config_classes_and_base_transform(pages):
    core = pages["core.md"]
    for number, stage in enumerate(Stages, start=1):
        assert f"{number}. [`{stage.value}`]({stage_page(stage)}): {STAGE_PURPOSE[stage]}" in core
    for name in ("TransformConfig", "TransformInfo", "SharedConfig"):
        assert f"### `autodeploy.config.{name}`" in core
    assert json.dumps(TransformInfo.model_json_schema(), indent=3) in core
    assert "### `_apply_to_full_model(mod: nn.Module, cm: CachedSequenceInterface" in core


def test_output_is_deterministic_and_free_of_addresses_and_local_paths(pages):
    host = PluginHost(PluginControls(autoload=False))
    host.register(DocsPlugin(), name="docs-test")
    assert generate_pages(host) == pages
    for name, text in pages.items():
        assert " at 0x" not in text, name
        assert str(ROOT) not in text and str(Path.home()) not in text, name
        assert text.endswith("\n") and not text.endswith("\n\n"), name
        assert not any(line != line.rstrip() for line in text.splitlines()), name
