"""Entry point `reliability_observer` (group autodeploy.plugins): writes what the lifecycle hooks
see as JSON lines to the file named by ``RELIABILITY_OBSERVER_LOG`` (nothing when it is unset), and
raises in its before-stage hook when ``RELIABILITY_OBSERVER_RAISE=before_stage`` (an observer with
a bug)."""

from __future__ import annotations

import json
import os

from autodeploy import hookimpl

LOG_VARIABLE = "RELIABILITY_OBSERVER_LOG"
RAISE_VARIABLE = "RELIABILITY_OBSERVER_RAISE"


def _log(event: dict) -> None:
    path = os.environ.get(LOG_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as handle:  # a test's own log, not an autodeploy output
            handle.write(json.dumps(event) + "\n")


@hookimpl
def autodeploy_transform_error(key, stage, error, record, will_continue):
    _log(
        {
            "hook": "transform_error",
            "key": key,
            "stage": str(stage),
            "error": f"{type(error).__name__}: {error}",
            "record_status": record.status.value,
            "will_continue": will_continue,
        }
    )


@hookimpl
def autodeploy_before_stage(stage, mod, report):
    if os.environ.get(RAISE_VARIABLE) == "before_stage":
        raise RuntimeError(f"observer bug before stage {stage}")


@hookimpl
def autodeploy_after_stage(stage, mod, report):
    _log({"hook": "after_stage", "stage": str(stage), "failed": [record.key for record in report.failed]})
