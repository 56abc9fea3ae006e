"""Wall time of `python -m autodeploy list-transforms` against `import torch` and `pass`.

Target (issue 2): list-transforms at most 0.25x the time of `python -c "import torch"`.
Medians of several fresh processes, measured in the same run.
"""

from __future__ import annotations

import sys

from _common import parse_args, print_table, time_command, write_json


def main() -> None:
    args = parse_args(__doc__)
    python = sys.executable
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import torch'": [python, "-c", "import torch"],
        "python -m autodeploy list-transforms": [python, "-m", "autodeploy", "list-transforms"],
    }
    time_command(commands["python -c 'import torch'"], 1)  # warm the page cache for everyone
    medians = {name: time_command(argv, args.repeat) for name, argv in commands.items()}
    torch_time = medians["python -c 'import torch'"]
    rows = [
        {"command": name, "median_s": f"{t:.3f}", "vs_import_torch": f"{t / torch_time:.2f}x"}
        for name, t in medians.items()
    ]
    print_table(rows, ["command", "median_s", "vs_import_torch"])
    ratio = medians["python -m autodeploy list-transforms"] / torch_time
    print(f"list-transforms / import torch = {ratio:.2f}x (target <= 0.25x)")
    write_json(args.json, {"medians_s": medians, "list_transforms_vs_import_torch": ratio, "target": 0.25})


if __name__ == "__main__":
    main()
