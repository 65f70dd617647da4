"""The `nasforge` command. User mistakes print one line and exit with status 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nasforge.errors import NasforgeError


def build_parser() -> argparse.ArgumentParser:
    from nasforge.cli import bench_cmd, export_cmd, inspect_cmds, pareto_cmds, predict_cmd, report_cmds, run

    parser = argparse.ArgumentParser(prog="nasforge", description="Neural Architecture Search on PyTorch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    run.add_parser(sub)
    inspect_cmds.add_parsers(sub)
    pareto_cmds.add_parsers(sub)
    export_cmd.add_parser(sub)
    predict_cmd.add_parsers(sub)
    report_cmds.add_parsers(sub)
    bench_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NasforgeError as exc:
        print(f"nasforge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnasforge: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
