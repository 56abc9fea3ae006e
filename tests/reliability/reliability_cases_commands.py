"""Catalogue: command-line arguments that are wrong before any work starts.

Each case is one ``python -m autodeploy ...`` call (a real subprocess; the calls run as one batch)
with a bad argument: a token id the model has no embedding for, a plugin name the scaffold cannot
turn into a working plugin, an allow list that leaves no plugin loaded. Each must exit with its
status and a one-paragraph error naming the argument and what is wrong, without a traceback, and,
where the argument is known to be wrong before the work, before the work (``run`` prints no
pipeline report; ``new-plugin`` writes nothing).

``{model}`` in `args` stands for the suite's tiny checkpoint (vocab_size 64).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reliability_bad_input import BadInput

TOO_LONG_NAME = "a" * 300
_RUN = ("run", "--model", "{model}", "--mode", "transformers", "--max-new-tokens", "1")


@dataclass(frozen=True, kw_only=True)
class CommandCase(BadInput):
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    status: int = 1
    error: str  # the start of the error paragraph, after "error: "
    also: tuple[str, ...] = ()  # fragments the error must hold besides
    absent: tuple[str, ...] = ()  # fragments the whole output must not hold


CASES: tuple[CommandCase, ...] = (
    CommandCase(
        id="input-ids-beyond-the-vocabulary",
        what="`run --input-ids 1,300` on a model of 64 token ids",
        args=(*_RUN, "--input-ids", "1,300"),
        error="--input-ids: token id 300 is outside the model's vocabulary (vocab_size 64: ids 0 to 63)",
        absent=("pipeline:",),
    ),
    CommandCase(
        id="input-ids-beyond-int64",
        what="`run --input-ids 1,99999999999999999999` (once an overflow traceback after the whole run)",
        args=(*_RUN, "--input-ids", "1,99999999999999999999"),
        error="--input-ids: token id 99999999999999999999 is outside the model's vocabulary (vocab_size 64",
        absent=("pipeline:", "Overflow"),
    ),
    CommandCase(
        id="new-plugin-name-too-long",
        what="`new-plugin` with a 300-character name (once a 'File name too long' traceback)",
        args=("new-plugin", TOO_LONG_NAME, "--dir", "{dir}"),
        error=f"plugin name '{TOO_LONG_NAME[:24]}...' is 300 characters long; at most 64 are accepted",
    ),
    CommandCase(
        id="new-plugin-none",
        what="`new-plugin none`, whose class would be `None` (once written, not compilable)",
        args=("new-plugin", "none", "--dir", "{dir}"),
        error="plugin name 'none' would name its class 'None', a Python keyword; choose another (e.g. 'none_pass')",
    ),
    CommandCase(
        id="new-plugin-true",
        what="`new-plugin true`, whose class would be `True`",
        args=("new-plugin", "true", "--dir", "{dir}"),
        error="plugin name 'true' would name its class 'True', a Python keyword",
    ),
    CommandCase(
        id="new-plugin-false",
        what="`new-plugin False`, whose class would be `False`",
        args=("new-plugin", "False", "--dir", "{dir}"),
        error="plugin name 'False' would name its class 'False', a Python keyword",
    ),
    CommandCase(
        id="new-plugin-shadows-an-import",
        what="`new-plugin transform_info`, whose class `TransformInfo` would shadow the one it imports",
        args=("new-plugin", "transform_info", "--dir", "{dir}"),
        error="plugin name 'transform_info' would name a class 'TransformInfo', which the generated code already "
        "imports or defines",
    ),
    CommandCase(
        id="new-plugin-config-class-shadows-an-import",
        what="`new-plugin transform`, whose config class `TransformConfig` would shadow the one it imports",
        args=("new-plugin", "transform", "--dir", "{dir}"),
        error="plugin name 'transform' would name a class 'TransformConfig', which the generated code already",
    ),
    CommandCase(
        id="new-plugin-installed-package",
        what="`new-plugin hf`, whose package `autodeploy_hf` is the installed hf plugin's",
        args=("new-plugin", "hf", "--dir", "{dir}"),
        error="plugin name 'hf' would make the package 'autodeploy_hf', which is already installed",
    ),
    CommandCase(
        id="allow-list-matches-nothing",
        what="AUTODEPLOY_PLUGINS naming no installed plugin, so that no mode exists",
        args=("run", "--model", "{model}", "--input-ids", "1,2"),
        env={"AUTODEPLOY_PLUGINS": "hello"},
        error="",  # where the mode came from is worded elsewhere
        also=(
            "mode: unknown mode 'graph' (there are none); ",
            " installed plugins are not loaded: not in the allow list AUTODEPLOY_PLUGINS=hello",
        ),
    ),
)
