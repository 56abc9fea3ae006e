"""`check_plugin`: does an installed distribution keep the plugin contract?

A plugin can import and even register fine in its author's environment and still break a user's:
a key clashing with another plugin, a mode entry that does not validate, torch imported at module
level (every ``list-transforms`` then pays for it), no upper bound on the core version. This
checks a distribution as the host would load it, plus what the host cannot see on its own, and
lists every problem in one readable report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from typing import Any, Optional

from packaging.utils import canonicalize_name

from ..plugin import PluginControls, PluginHost
from ..plugin.compat import CORE_DISTRIBUTION, core_requirements
from ..plugin.loader import ENTRY_POINT_GROUPS, TRANSFORMS_GROUP
from ..plugin.registry import TRANSFORM

HEAVY_MODULES = ("torch", "transformers")
_IMPORT_CHECK_TIMEOUT_S = 120


@dataclass
class ContractReport:
    """What `check_plugin` found: what the distribution provides and every problem, one line each."""

    distribution: str
    version: Optional[str] = None
    entry_points: list[str] = field(default_factory=list)
    transforms: list[str] = field(default_factory=list)
    factories: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        name = " ".join(part for part in (self.distribution, self.version) if part)
        if self.ok:
            return f"{name}: keeps the plugin contract ({', '.join(self.entry_points)})"
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"{name}: {len(self.problems)} plugin contract problem(s):\n{listed}"


class PluginContractError(AssertionError):
    """Raised by `check_plugin` when a distribution breaks the contract; the message lists why.

    An `AssertionError`, so that pytest shows it as a failed check rather than a crash.
    """

    def __init__(self, report: ContractReport):
        self.report = report
        super().__init__(report.describe())


def check_plugin(
    distribution_name: str, *, raise_on_problems: bool = True, check_imports: bool = True
) -> ContractReport:
    """Check the installed distribution `distribution_name` against the plugin contract.

    Checked: it declares entry points in our groups; it requires the core with a range that
    includes the running core and has an upper bound; each entry point imports and its hook
    implementations match the hook specifications; its keys are unique within it and among all
    installed plugins; transform config classes derive from `TransformConfig` and their schemas
    render; its mode entries validate against the transforms' config classes; and (with
    `check_imports`, in a fresh interpreter) its entry-point modules import neither torch nor
    transformers. Raises `PluginContractError` listing every problem, or returns the report
    (also when `raise_on_problems` is false).
    """
    report = ContractReport(distribution=distribution_name)
    try:
        dist = distribution(distribution_name)
    except PackageNotFoundError:
        report.problems.append(f"distribution {distribution_name!r} is not installed")
        return _finish(report, raise_on_problems)
    report.distribution = dist.metadata["Name"] or distribution_name
    report.version = dist.version
    entry_points = [ep for ep in dist.entry_points if ep.group in ENTRY_POINT_GROUPS]
    report.entry_points = [f"{ep.group}: {ep.name} = {ep.value}" for ep in entry_points]
    if not entry_points:
        report.problems.append(f"declares no entry point in the groups {', '.join(ENTRY_POINT_GROUPS)}")
        return _finish(report, raise_on_problems)

    report.problems += _core_requirement_problems(dist)
    own_host = _host_of_only(report.distribution)
    report.problems += own_host.problems()
    _note_provided(report, own_host)
    report.problems += _group_problems(report.distribution, own_host)
    everyone = PluginHost(PluginControls())
    everyone.load_entry_points()
    report.problems += _conflict_problems(report.distribution, everyone)
    report.problems += _mode_entry_problems(report.distribution, own_host, everyone)
    report.problems += _documentation_problems(own_host)
    if check_imports:
        loaded = {(record.group, record.name) for record in own_host.plugins if record.is_usable}
        report.problems += _heavy_import_problems([ep.value for ep in entry_points if (ep.group, ep.name) in loaded])
    return _finish(report, raise_on_problems)


def _finish(report: ContractReport, raise_on_problems: bool) -> ContractReport:
    report.problems = list(dict.fromkeys(report.problems))  # the same line from two checks once
    if raise_on_problems and report.problems:
        raise PluginContractError(report)
    return report


def _is_ours(distribution_name: Optional[str], ours: str) -> bool:
    return distribution_name is not None and canonicalize_name(distribution_name) == canonicalize_name(ours)


def _core_requirement_problems(dist: Distribution) -> list[str]:
    requirements = core_requirements(dist)
    if not requirements:
        return [
            f"does not require {CORE_DISTRIBUTION}; declare the core versions it works with, "
            f'e.g. "{CORE_DISTRIBUTION}>=0.1,<0.2"'
        ]
    problems = []  # a range excluding this core is reported by the host's record of the plugin
    for requirement in requirements:
        if not any(spec.operator in ("<", "<=", "==", "~=", "===") for spec in requirement.specifier):
            problems.append(
                f"requires {requirement} with no upper bound; a new core release may break it: "
                f'declare a range such as "{CORE_DISTRIBUTION}>=0.1,<0.2"'
            )
    return problems


def _host_of_only(distribution_name: str) -> PluginHost:
    """A host that loads this distribution's entry points and nothing else installed."""
    host = PluginHost(PluginControls(allow=frozenset({distribution_name})))
    host.load_entry_points()
    return host


def _note_provided(report: ContractReport, host: PluginHost) -> None:
    report.transforms = sorted(
        key for key, p in host.transforms().items() if _is_ours(p.plugin.distribution, report.distribution)
    )
    report.factories = sorted(
        key for key, p in host.factories().items() if _is_ours(p.plugin.distribution, report.distribution)
    )
    report.modes = sorted(host.modes())


def _group_problems(ours: str, host: PluginHost) -> list[str]:
    """An entry point in the transforms group should register transforms (others belong in
    ``autodeploy.plugins``): listings and error messages rely on that convention."""
    problems = []
    for record in host.plugins:
        if not _is_ours(record.distribution, ours) or not record.is_usable or record.group != TRANSFORMS_GROUP:
            continue
        if not any(item.startswith(f"{TRANSFORM} ") for item in record.provides):
            problems.append(
                f"entry point {record.name!r} is in the group {TRANSFORMS_GROUP!r} but registers no transform; "
                "plugins that add factories, modes or observers belong in 'autodeploy.plugins'"
            )
    return problems


def _conflict_problems(ours: str, everyone: PluginHost) -> list[str]:
    return [
        conflict.describe()
        for conflict in everyone.conflicts()
        if any(_is_ours(provider.plugin.distribution, ours) for provider in conflict.providers)
    ]


def _mode_entry_problems(ours: str, own_host: PluginHost, everyone: PluginHost) -> list[str]:
    """Each mode entry this distribution contributes must validate against its transform's
    config class (found among all installed plugins), with no unknown fields."""
    import pydantic

    problems = []
    available = everyone.transforms()
    ambiguous = {conflict.key for conflict in everyone.conflicts() if conflict.kind == TRANSFORM}
    for mode, entries in own_host.modes().items():
        for key, entry in entries.items():
            provider = available.get(key)
            if provider is None and key in ambiguous:
                continue  # reported as a conflict
            if provider is None:
                problems.append(f"mode {mode!r} configures {key!r}, which no installed plugin provides")
                continue
            config_class = provider.obj.get_config_class()
            try:
                config = config_class(**entry)
            except pydantic.ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                problems.append(f"mode {mode!r} entry {key!r}: {where}: {first['msg']} (got {first.get('input')!r})")
                continue
            unknown = config.unknown_fields()
            if unknown:
                problems.append(
                    f"mode {mode!r} entry {key!r}: {', '.join(unknown)} is not a field of {config_class.__name__}"
                )
    return problems


def _documentation_problems(host: PluginHost) -> list[str]:
    """Every transform must render in the generated reference (docstring, schema, fields)."""
    from ..docs.collect import model_doc

    problems = []
    for key, provider in host.transforms().items():
        cls = provider.obj
        if not (cls.__dict__.get("__doc__") or "").strip():
            problems.append(
                f"transform {key!r}: {cls.__qualname__} has no docstring (the reference page would be empty)"
            )
        try:
            model_doc(cls.get_config_class())
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            problems.append(f"transform {key!r}: {exc}")
    return problems


def _heavy_import_problems(entry_point_values: list[str]) -> list[str]:
    """Import the entry-point modules in a fresh interpreter and see what came along."""
    modules = sorted({value.split(":", 1)[0].strip() for value in entry_point_values})
    if not modules:
        return []
    script = (
        "import importlib, json, sys\n"
        f"sys.path[:] = {sys.path!r}\n"  # see what this process sees (e.g. a test's extra site dir)
        f"heavy = {HEAVY_MODULES!r}\n"
        "found = {}\n"
        f"for name in {modules!r}:\n"
        "    before = {m for m in heavy if m in sys.modules}\n"
        "    importlib.import_module(name)\n"
        "    found[name] = sorted(m for m in heavy if m in sys.modules and m not in before)\n"
        "print(json.dumps(found))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=_IMPORT_CHECK_TIMEOUT_S
    )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return [f"importing the entry-point modules {', '.join(modules)} failed: {tail[0]}"]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        f"importing {module} imports {', '.join(heavy)} at module level; import it inside functions "
        "(listing transforms must not pay for it)"
        for module, heavy in found.items()
        if heavy
    ]
