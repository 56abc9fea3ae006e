"""Catalogue: broken pipeline configs (YAML files and ``--set`` overrides).

Each case is fed to ``autodeploy validate`` (a real subprocess) and to the Python API. Both must
refuse it with a `ConfigError` whose message starts with where the problem is (the file, or the
``--set`` that caused it, then the config path) and says what is wrong: exit status 1, nothing on
stdout, no traceback.

`error` is the start of that message, `also` further fragments it must contain; ``{file}`` stands
for the config file's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from reliability_bad_input import BadInput

# What a case's config file is, besides text or bytes.
LARGE_FILE = "large"  # a file just over the size limit
DIRECTORY = "directory"  # a folder where the file should be
MISSING = "missing"  # no file at all

BUILD_MODEL = "transforms:\n  build_model:\n    stage: factory\n    run_per_gm: false\n"


@dataclass(frozen=True, kw_only=True)
class ConfigCase(BadInput):
    content: Union[str, bytes] = ""
    special: Optional[str] = None  # LARGE_FILE, DIRECTORY or MISSING instead of `content`
    sets: tuple[str, ...] = ()  # --set overrides
    error: str
    also: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # fragments the message must not hold (a false diagnosis)
    flow_list_bytes: int = 0  # instead of `content`: a file `x: [0,0,0,...]` of about this many bytes
    # a marker file the config would create if it ran code; it must never appear
    marker: Optional[str] = None


CASES: tuple[ConfigCase, ...] = (
    ConfigCase(
        id="yaml-syntax-error",
        what="a YAML syntax error (a key indented wrongly)",
        content="transforms:\n  build_model:\n    stage: factory\n   device: meta\n",
        error="{file}: line 4, column 4: invalid YAML",
    ),
    ConfigCase(
        id="yaml-tab-indentation",
        what="a tab used for indentation",
        content="transforms:\n\tbuild_model:\n    stage: factory\n",
        error="{file}: line 2, column 1: invalid YAML: found character '\\t' that cannot start any token",
    ),
    ConfigCase(
        id="yaml-unclosed-bracket",
        what="a flow mapping that is never closed",
        content="transforms: {build_model: {stage: factory}\n",
        error="{file}: line 2, column 1: invalid YAML",
    ),
    ConfigCase(
        id="top-level-list",
        what="a top level that is a list",
        content="- build_model\n- export_to_gm\n",
        error="{file}: the top level must be a mapping of settings (such as `transforms:`), got a list",
    ),
    ConfigCase(
        id="top-level-scalar",
        what="a top level that is a plain string",
        content="graph\n",
        error="{file}: the top level must be a mapping of settings (such as `transforms:`), got a string",
    ),
    ConfigCase(
        id="top-level-number-key",
        what="a number as a top-level key",
        content="3: graph\n",
        error="{file}: top-level keys must be names, got 3",
    ),
    ConfigCase(
        id="unknown-transform-key",
        what="a misspelt transform key",
        content="transforms:\n  buld_model:\n    stage: factory\n",
        error="{file}: transforms.buld_model: unknown transform 'buld_model'; did you mean 'build_model'",
    ),
    ConfigCase(
        id="transform-key-at-top-level",
        what="a transform entry written at the top level instead of under `transforms:`",
        content="build_model:\n  stage: factory\n",
        error="{file}: build_model: 'build_model' is a transform key at the top level; "
        "transform entries go under `transforms:`",
    ),
    ConfigCase(
        id="mistyped-field",
        what="a field name one letter off (devce for device)",
        content=BUILD_MODEL + "    devce: cpu\n",
        error="{file}: transforms.build_model.devce: unknown field 'devce' for transform 'build_model'; "
        "did you mean 'device'?",
    ),
    ConfigCase(
        id="mistyped-base-field",
        what="a misspelt field of every transform (skip_on_eror)",
        content=BUILD_MODEL + "    skip_on_eror: true\n",
        error="{file}: transforms.build_model.skip_on_eror: unknown field 'skip_on_eror' for transform "
        "'build_model'; did you mean 'skip_on_error'?",
    ),
    ConfigCase(
        id="wrong-type",
        what="a boolean field given a word",
        content=BUILD_MODEL + "    enabled: maybe\n",
        error="{file}: transforms.build_model.enabled: expected a valid boolean",
        also=("got 'maybe' (string)",),
    ),
    ConfigCase(
        id="wrong-type-mapping",
        what="a string field given a mapping",
        content=BUILD_MODEL + "    device: {type: cuda}\n",
        error="{file}: transforms.build_model.device: expected a valid string",
        also=("(mapping)",),
    ),
    ConfigCase(
        id="wrong-enum-stage",
        what="a misspelt stage name",
        content="transforms:\n  build_model:\n    stage: factroy\n",
        error="{file}: transforms.build_model.stage: expected one of factory, export,",
        also=("got 'factroy' (string); did you mean 'factory'?",),
    ),
    ConfigCase(
        id="wrong-enum-backend",
        what="a compile backend that does not exist",
        content="transforms:\n  compile_model:\n    stage: compile\n    backend: tensorrt\n",
        error="{file}: transforms.compile_model.backend: expected 'torch-simple', 'torch-compile', 'torch-cudagraph' or 'torch-opt'",
        also=("got 'tensorrt' (string)",),
    ),
    ConfigCase(
        id="missing-stage",
        what="a transform entry without its stage (no mode preset gives it one)",
        content="mode: null\ntransforms:\n  build_model:\n    device: meta\n",
        error="{file}: transforms.build_model.stage: required field 'stage' is missing (one of: factory, export,",
    ),
    ConfigCase(
        id="entry-not-a-mapping",
        what="a transform entry that is a string",
        content="transforms:\n  build_model: factory\n",
        error="{file}: transforms.build_model: a transform entry must be a mapping",
        also=("got 'factory' (string)",),
    ),
    ConfigCase(
        id="transforms-not-a-mapping",
        what="`transforms:` given a list",
        content="transforms:\n  - build_model\n",
        error="{file}: transforms: expected a valid dictionary",
        also=("(list)",),
    ),
    ConfigCase(
        id="value-out-of-range",
        what="a sequence length below the minimum",
        content="max_seq_len: 0\n",
        error="{file}: max_seq_len: expected a value greater than or equal to 2, got 0 (int)",
    ),
    ConfigCase(
        id="unknown-mode",
        what="a misspelt mode",
        content="mode: grpah\n",
        error="{file}: mode: unknown mode 'grpah' (did you mean 'graph'?)",
    ),
    ConfigCase(
        id="unknown-model-factory",
        what="a misspelt model factory",
        content="model_factory: AutoModelForCausalLMM\n",
        error="{file}: model_factory: unknown factory 'AutoModelForCausalLMM'; did you mean 'AutoModelForCausalLM'",
    ),
    ConfigCase(
        id="set-path-missing",
        what="--set of a transform entry that does not exist",
        content=BUILD_MODEL,
        sets=("transforms.buld_model.device=cpu",),
        error="--set transforms.buld_model.device=cpu: transforms.buld_model.device: the config has no transform "
        "entry 'buld_model' to override (did you mean 'build_model'?)",
    ),
    ConfigCase(
        id="set-through-a-value",
        what="--set of a key below a plain value",
        content=BUILD_MODEL,
        sets=("transforms.build_model.stage.name=x",),
        error="--set transforms.build_model.stage.name=x: transforms.build_model.stage.name: "
        "'transforms.build_model.stage' is a string ('factory'), not a mapping, so it has no key 'name'",
    ),
    ConfigCase(
        id="set-without-value",
        what="--set without `=VALUE`",
        content=BUILD_MODEL,
        sets=("transforms.build_model.device",),
        error="--set transforms.build_model.device: expected KEY.PATH=VALUE",
    ),
    ConfigCase(
        id="set-empty-path-part",
        what="--set of a path with an empty part",
        content=BUILD_MODEL,
        sets=("transforms..device=cpu",),
        error="--set transforms..device=cpu: 'transforms..device' is not a dotted key path",
    ),
    ConfigCase(
        id="set-value-bad-yaml",
        what="--set whose value is broken YAML",
        content=BUILD_MODEL,
        sets=("transforms.build_model.device=[cpu",),
        error="--set transforms.build_model.device=[cpu: line 1, column 5: invalid YAML",
    ),
    ConfigCase(
        id="set-wrong-type",
        what="--set giving a field a value of the wrong type",
        content=BUILD_MODEL,
        sets=("transforms.build_model.enabled=sometimes",),
        error="--set transforms.build_model.enabled=sometimes: transforms.build_model.enabled: "
        "expected a valid boolean",
    ),
    ConfigCase(
        id="empty-file",
        what="an empty file",
        content="",
        error="{file}: the file is empty (expected a mapping such as `transforms: {{...}}`)",
    ),
    ConfigCase(
        id="comments-only",
        what="a file holding only comments",
        content="# transforms:\n#   build_model: {stage: factory}\n",
        error="{file}: the file is empty",
    ),
    ConfigCase(
        id="file-too-large",
        what="a file over the 128 KiB limit",
        special=LARGE_FILE,
        error="{file}: the file is 616.3 KiB; config files are limited to 128 KiB (pipeline configs are a few KiB)",
    ),
    ConfigCase(
        id="flow-list-10mb",
        what="a 10 MB flow list (5 million items) that once kept the parser busy for minutes",
        flow_list_bytes=10_000_000,
        error="{file}: the file is 9.5 MiB; config files are limited to 128 KiB",
        absent=("alias",),
    ),
    ConfigCase(
        id="flow-list-1mb",
        what="a 1 MB flow list once refused after 22 s as an alias bomb, though it holds no alias",
        flow_list_bytes=1_000_000,
        error="{file}: the file is 976.6 KiB; config files are limited to 128 KiB",
        absent=("alias",),
    ),
    ConfigCase(
        id="flow-list-under-the-size-limit",
        what="a 120 kB flow list (60000 items): under the size limit, over the parse limit",
        flow_list_bytes=120_000,
        error="{file}: line 1, column 19999: the text holds more than 10000 keys and values "
        "(pipeline configs hold a few hundred); parsing stopped here",
        absent=("alias",),
    ),
    ConfigCase(
        id="not-text",
        what="binary bytes instead of text",
        content=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
        error="{file}: not readable as text:",
    ),
    ConfigCase(
        id="a-directory",
        what="a folder given as the config file",
        special=DIRECTORY,
        error="{file}: is a directory, not a YAML file",
    ),
    ConfigCase(
        id="missing-file",
        what="a config file that does not exist",
        special=MISSING,
        error="{file}: no such file",
    ),
    ConfigCase(
        id="python-object-tag",
        what="a YAML tag that would run a shell command",
        content="transforms: !!python/object/apply:os.system ['touch {marker}']\n",
        error="{file}: line 1, column 13: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' would "
        "construct a Python object; configs are loaded safely and such tags are refused",
        marker="ran-os-system",
    ),
    ConfigCase(
        id="python-name-tag",
        what="a YAML tag naming a Python function",
        content="model: !!python/name:os.system ''\n",
        error="{file}: line 1, column 8: the YAML tag 'tag:yaml.org,2002:python/name:os.system' would construct "
        "a Python object",
    ),
    ConfigCase(
        id="python-module-tag-in-set",
        what="a --set value with a tag that would import a module",
        content=BUILD_MODEL,
        sets=("model=!!python/module:os",),
        error="--set model=!!python/module:os: line 1, column 1: the YAML tag 'tag:yaml.org,2002:python/module:os' "
        "would construct a Python object",
    ),
    ConfigCase(
        id="unknown-custom-tag",
        what="a custom YAML tag",
        content="model: !checkpoint /models/llama\n",
        error="{file}: line 1, column 8: unknown YAML tag '!checkpoint'; configs use plain YAML values only",
    ),
    ConfigCase(
        id="tag-does-not-fit-value",
        what="an explicit YAML type tag on a value of another type",
        content="max_seq_len: !!int many\n",
        error="{file}: line 1, column 14: invalid YAML: cannot read 'many' as !!int",
    ),
    ConfigCase(
        id="set-tag-on-a-word",
        what="a YAML set tag on a plain word",
        content="model_kwargs: !!set rope\n",
        error="{file}: line 1, column 15: invalid YAML: expected a mapping node, but found scalar",
    ),
    ConfigCase(
        id="integer-too-long",
        what="an integer of 5000 digits",
        content="max_seq_len: " + "9" * 5000 + "\n",
        error="{file}: line 1, column 14: invalid YAML: cannot read '9999",
        also=("Exceeds the limit (4300 digits)",),
    ),
    ConfigCase(
        id="duplicate-key",
        what="a transform entry written twice (YAML would keep only the second)",
        content=BUILD_MODEL + "  build_model:\n    stage: factory\n",
        error="{file}: line 5, column 3: invalid YAML: found duplicate key 'build_model' (first defined at line 2)",
    ),
    ConfigCase(
        id="deep-nesting",
        what="brackets nested thousands deep",
        content="model_kwargs: " + "[" * 5000 + "]" * 5000 + "\n",
        error="{file}: line 1, column 78: values nest deeper than 64 levels",
    ),
    ConfigCase(
        id="alias-bomb",
        what="anchors and aliases expanding to billions of entries",
        content="model_kwargs:\n  l0: &l0 [a, b, c, d, e, f, g, h, i, j]\n"
        + "".join(f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 10)),
        error="{file}: line 6, column 7: with its aliases followed, this value holds more than 100000 entries",
    ),
    ConfigCase(
        id="recursive-alias",
        what="a value that contains itself through an alias",
        content="transforms: &loop\n  build_model: *loop\n",
        error="{file}: line 1, column 13: an alias refers to a value that contains it",
    ),
)
