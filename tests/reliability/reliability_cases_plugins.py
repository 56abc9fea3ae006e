"""Catalogue: third-party plugins of every quality.

Each case is one installed distribution (tests/plugin_dists or tests/reliability/dists) that is
broken in one way. For each, the suite checks that ``list-plugins`` shows its status and error with
distribution and version, that ``list-transforms``, ``validate`` and ``run`` of a pipeline that does
not need it keep working and warn about it, that a config needing the broken piece fails naming
it, and that ``--strict-plugins`` (or AUTODEPLOY_STRICT_PLUGINS=1) turns it into a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from reliability_bad_input import BadInput

from autodeploy import __version__ as CORE_VERSION


@dataclass(frozen=True)
class Record:
    """The plugin record ``list-plugins --json`` must show."""

    entry_point: str
    distribution: str
    version: str
    status: str


@dataclass(frozen=True, kw_only=True)
class PluginCase(BadInput):
    records: tuple[Record, ...]
    # fragment of the problem line shown by list-plugins and in every command's warnings
    problem: str
    # a config that needs the broken piece, and a fragment of the error it gets; `needed_error`
    # None means the piece works (the plugin has a problem, but what it provides is usable)
    needs: Optional[str] = None
    needed_error: Optional[str] = None


def _transform(key_yaml: str) -> str:
    return f"mode: null\ntransforms:\n  {key_yaml}:\n    stage: post_export\n    run_per_gm: false\n"


_BROKEN_IMPORT = Record("broken_import", "autodeploy-testplugin-broken-import", "0.3.0", "failed")
_BROKEN_REGISTER = Record("half_registered", "autodeploy-testplugin-broken-register", "0.4.0", "failed")
_BAD_REGISTRATIONS = Record("bad_registrations", "autodeploy-testplugin-bad-registrations", "0.7.0", "loaded")
_ODD_KEYS = Record("odd_keys", "autodeploy-testplugin-reliability-odd-keys", "0.9.0", "loaded")
_DUP_A = Record("dup_a", "autodeploy-testplugin-dup-a", "0.1.0", "loaded")
_DUP_B = Record("dup_b", "autodeploy-testplugin-dup-b", "0.2.0", "loaded")
_INCOMPATIBLE = Record("incompatible", "autodeploy-testplugin-incompatible", "0.5.0", "incompatible")
_TWICE = Record("twice_installed", "autodeploy-testplugin-reliability-twice", "1.1.0", "loaded")
_BAD_HOOKIMPL = Record("bad_hookimpl", "autodeploy-testplugin-bad-hookimpl", "0.6.0", "failed")
_MISSPELT_HOOK = Record("misspelt_hook", "autodeploy-testplugin-bad-hookimpl", "0.6.0", "failed")

_REJECTED_BY_BAD_REGISTRATIONS = (
    "is not usable: plugin 'bad_registrations' (autodeploy-testplugin-bad-registrations 0.7.0) "
    "registered it, but it was rejected"
)
_REJECTED_BY_ODD_KEYS = (
    "is not usable: plugin 'odd_keys' (autodeploy-testplugin-reliability-odd-keys 0.9.0) "
    "registered it, but it was rejected"
)


def _odd_key(case_id: str, what: str, key_yaml: str, key_repr: str) -> PluginCase:
    return PluginCase(
        id=case_id,
        what=what,
        records=(_ODD_KEYS,),
        problem=f"transform key {key_repr} is not a plain YAML key",
        needs=_transform(key_yaml),
        needed_error=f"transform {key_repr} {_REJECTED_BY_ODD_KEYS}",
    )


CASES: tuple[PluginCase, ...] = (
    PluginCase(
        id="import-error",
        what="the plugin's module fails to import (a missing dependency)",
        records=(_BROKEN_IMPORT,),
        problem="failed: ModuleNotFoundError: No module named 'autodeploy_testplugin_missing_dependency'",
        needs=_transform("broken_import"),
        needed_error=(
            "transform 'broken_import' would come from plugin 'broken_import' "
            "(autodeploy-testplugin-broken-import 0.3.0), which failed: ModuleNotFoundError"
        ),
    ),
    PluginCase(
        id="registration-hook-raises",
        what="the registration hook raises after registering a transform",
        records=(_BROKEN_REGISTER,),
        problem="failed: RuntimeError: registration exploded on purpose (raised in autodeploy_register_transforms)",
        needs=_transform("half_registered"),
        needed_error=(
            "transform 'half_registered' is not usable: plugin 'half_registered' "
            "(autodeploy-testplugin-broken-register 0.4.0) registered it, then failed: RuntimeError"
        ),
    ),
    PluginCase(
        id="registers-an-object",
        what="an object instance registered as a transform",
        records=(_BAD_REGISTRATIONS,),
        problem="(an instance of object, not a class) is not a subclass of autodeploy.BaseTransform",
        needs=_transform("not_a_transform"),
        needed_error=f"transform 'not_a_transform' {_REJECTED_BY_BAD_REGISTRATIONS}",
    ),
    PluginCase(
        id="registers-a-function",
        what="a plain function registered as a transform",
        records=(_ODD_KEYS,),
        problem="transform 'function_not_class': <function not_a_class",
        needs=_transform("function_not_class"),
        needed_error=f"transform 'function_not_class' {_REJECTED_BY_ODD_KEYS}",
    ),
    PluginCase(
        id="key-with-spaces",
        what="a transform key with a space",
        records=(_BAD_REGISTRATIONS,),
        problem="transform key 'has spaces' is not a plain YAML key",
        needs=_transform('"has spaces"'),
        needed_error=f"transform 'has spaces' {_REJECTED_BY_BAD_REGISTRATIONS}",
    ),
    _odd_key("key-with-colon", "a transform key with ': ' in it", '"colon: key"', "'colon: key'"),
    _odd_key("key-with-newline", "a transform key with a line break", '"new\\nline"', "'new\\nline'"),
    _odd_key("key-empty", "an empty transform key", '""', "''"),
    _odd_key("key-anchor-character", "a transform key starting with YAML's anchor character", '"&anchor"', "'&anchor'"),
    PluginCase(
        id="key-not-a-string",
        what="a number registered as a transform key",
        records=(_ODD_KEYS,),
        problem="transform key 7 is a int, not a string",
        needs=_transform('"7"'),
        needed_error=f"transform '7' {_REJECTED_BY_ODD_KEYS}",
    ),
    PluginCase(
        id="config-not-transformconfig",
        what="a transform whose config class does not derive TransformConfig",
        records=(_BAD_REGISTRATIONS,),
        problem="NotATransformConfig, which does not derive autodeploy.TransformConfig",
        needs=_transform("wrong_config"),
        needed_error=f"transform 'wrong_config' {_REJECTED_BY_BAD_REGISTRATIONS}",
    ),
    PluginCase(
        id="factory-not-modelfactory",
        what="a model factory that does not derive ModelFactory",
        records=(_BAD_REGISTRATIONS,),
        problem="factory 'NotAFactory': autodeploy_testplugin_bad_registrations.plugin.NotAFactory is not a subclass",
        needs="mode: null\nmodel_factory: NotAFactory\n",
        needed_error=f"factory 'NotAFactory' {_REJECTED_BY_BAD_REGISTRATIONS}",
    ),
    PluginCase(
        id="same-key-two-distributions",
        what="the same transform key registered by two distributions",
        records=(_DUP_A, _DUP_B),
        problem=(
            "transform 'dup_key' is registered by plugin 'dup_a' (autodeploy-testplugin-dup-a 0.1.0) "
            "and plugin 'dup_b' (autodeploy-testplugin-dup-b 0.2.0)"
        ),
        needs=_transform("dup_key"),
        needed_error="keep one by blocking the others: '-p no:autodeploy-testplugin-dup-b'",
    ),
    PluginCase(
        id="same-factory-two-distributions",
        what="the same model factory name registered by two distributions",
        records=(_DUP_A, _DUP_B),
        problem=(
            "factory 'DupFactory' is registered by plugin 'dup_a' (autodeploy-testplugin-dup-a 0.1.0) "
            "and plugin 'dup_b' (autodeploy-testplugin-dup-b 0.2.0)"
        ),
        needs="mode: null\nmodel_factory: DupFactory\n",
        needed_error="factory 'DupFactory' is registered by plugin 'dup_a'",
    ),
    PluginCase(
        id="incompatible-core",
        what="a plugin requiring a core version range that excludes this core",
        records=(_INCOMPATIBLE,),
        problem=f"incompatible: requires autodeploy-core>=99, but autodeploy-core {CORE_VERSION} is running",
        needs=_transform("incompatible"),
        needed_error=(
            "transform 'incompatible' would come from plugin 'incompatible' (autodeploy-testplugin-incompatible "
            "0.5.0), which is incompatible with this core"
        ),
    ),
    PluginCase(
        id="installed-twice",
        what="one distribution installed twice on the path, in two versions",
        records=(_TWICE,),
        problem="autodeploy-testplugin-reliability-twice is installed more than once; loaded the copy in",
        needs=_transform("twice_installed"),
        needed_error=None,  # the first copy on the path is loaded and works
    ),
    PluginCase(
        id="hookimpl-arguments-mismatch",
        what="a hook implementation asking for an argument the specification does not have",
        records=(_BAD_HOOKIMPL,),
        problem="Argument(s) {'registry'} are declared in the hookimpl but can not be found in the hookspec",
        needs=_transform("bad_hookimpl"),
        needed_error=(
            "transform 'bad_hookimpl' would come from plugin 'bad_hookimpl' "
            "(autodeploy-testplugin-bad-hookimpl 0.6.0), which failed: PluginValidationError"
        ),
    ),
    PluginCase(
        id="hook-name-misspelt",
        what="a hook implementation for a hook that does not exist (a misspelt name)",
        records=(_MISSPELT_HOOK,),
        problem="unknown hook 'autodeploy_register_transform' (did you mean 'autodeploy_register_transforms'?)",
    ),
)
