"""`nasforge report` (one self-contained HTML file) and `nasforge dashboard` (a live local web page)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasforge.cli.common import add_storage


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write an experiment's HTML report (plots, best arch, trial table)")
    p.add_argument("name", help="experiment name")
    p.add_argument("--out", help="HTML file to write (default: NAME-report.html)")
    add_storage(p)
    p.set_defaults(func=report_main)

    p = sub.add_parser("dashboard", help="serve a live, read-only web page of a storage's experiments")
    add_storage(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 for any free one)")
    p.set_defaults(func=dashboard_main)


def report_main(args: argparse.Namespace) -> int:
    from nasforge.report import write_report

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.name)
    path = write_report(args.name, args.storage, args.out or f"{safe}-report.html")
    print(f"wrote {path}")
    return 0


def dashboard_main(args: argparse.Namespace) -> int:
    from nasforge.report.dashboard import Dashboard

    board = Dashboard(args.storage, host=args.host, port=args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"nasforge: warning: the dashboard listens on {args.host}: anyone who can reach this machine can read "
            "these experiments (it is read-only).",
            file=sys.stderr,
        )
    print(f"nasforge dashboard on {board.url} over {Path(args.storage) if '://' not in args.storage else args.storage}")
    print("stop with Ctrl-C", flush=True)
    try:
        board.serve_forever()
    finally:
        board.server.server_close()
    return 0
