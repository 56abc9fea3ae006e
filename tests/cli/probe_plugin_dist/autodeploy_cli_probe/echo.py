"""The `probe-echo` command: prints its words and what the host passed to it knows."""

from __future__ import annotations


def echo(args, host):
    text = " ".join(args.words)
    print(text.upper() if args.upper else text)
    print("transforms:", ",".join(sorted(key for key in host.transforms() if key.startswith("probe_"))))
    return args.exit_status
