"""Every table of figures in README.md and docs/*.md, written from the records behind it.

A figure on a page stands between two markers, and a generator function here (or in the `figures_*.py`
modules beside it) writes what goes between them from its record(s) under `records/`:

    <!-- figure:nb201_strategies:begin -->
    | strategy | CIFAR-10 | ...
    <!-- figure:nb201_strategies:end -->

A figure inside a sentence has its markers on the same line. The README's main-job table keeps the markers of
`benchmarks/mainjob_peers.py`, whose `readme_block()` writes it.

    python benchmarks/figures.py            # rewrite every figure on every page from its records
    python benchmarks/figures.py --check    # exit 1, naming each figure whose text differs from its records
    python benchmarks/figures.py --show NAME   # print what one generator writes
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECORDS = ROOT / "records"
MARKER = re.compile(r"<!-- figure:(?P<name>[\w.-]+):begin -->(?P<body>.*?)<!-- figure:(?P=name):end -->", re.DOTALL)
GENERATORS: dict[str, Callable[[], str]] = {}
#: the modules that register generators (imported by `generators()`)
MODULES = (
    "figures_nb201",
    "figures_estimation",
    "figures_other",
    "figures_text",
    "figures_scale",
    "figures_translation",
    "figures_federated",
    "figures_headlines",
    "figures_supernet",
)


def figure(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register a generator: `name` is the marker's name, the function returns the text between the markers."""

    def register(fn: Callable[[], str]) -> Callable[[], str]:
        if name in GENERATORS:
            raise ValueError(f"figure {name!r} is registered twice")
        GENERATORS[name] = fn
        return fn

    return register


def record(path: str) -> Any:
    """The body of one record file, by its path under records/ (a legacy file: whatever it holds)."""
    return json.loads((RECORDS / path).read_text())


def latest(area: str, benchmark: str, where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """The newest finished record (one with a summary) of `benchmark` under records/<area>/, of those `where`
    accepts when given (e.g. by its config); `_file` is its file's name, `_area` its folder under records/."""
    paths = sorted((RECORDS / area).glob(f"{benchmark}-*.json"))
    done = [
        {**r, "_file": p.name, "_area": area}
        for p in paths
        if (r := record(str(p.relative_to(RECORDS)))) and "summary" in r
    ]
    done = [r for r in done if where is None or where(r)]
    if not done:
        raise SystemExit(f"no finished record of {benchmark} in records/{area}/ fits: run its script in benchmarks/")
    return max(done, key=lambda r: r["started"])


def _cores(rec: dict[str, Any]) -> str:
    n = len(rec["machine"].get("usable_cpus") or [])
    return f"{n} core{'s' * (n != 1)}"


def provenance(rec: dict[str, Any]) -> str:
    """One line naming a record that `latest` read: its file, commit, machine, wall time and command."""
    dirty = ", uncommitted changes" if rec["dirty"] else ""
    wall = rec["summary"].get("wall_seconds")
    took = f", {wall / 60:.0f} min" if wall is not None else ""
    return (
        f"Record `records/{rec['_area']}/{rec['_file']}` (commit {rec['commit'][:7]}{dirty}, "
        f"{rec['machine'].get('cpu', '?')}, {_cores(rec)}{took}): `{rec['command']}`."
    )


def cite(rec: dict[str, Any]) -> str:
    """The same record named inside a sentence: file, commit, the cores it had and its command."""
    return f"`records/{rec['_area']}/{rec['_file']}` (commit {rec['commit'][:7]}, {_cores(rec)}: `{rec['command']}`)"


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pm(mean: float, std: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def generators() -> dict[str, Callable[[], str]]:
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    for module in MODULES:
        importlib.import_module(module)
    return GENERATORS


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def mainjob() -> tuple[str, str, str]:
    """The README's main-job table: mainjob_peers.py's markers and its block without them."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    peers = importlib.import_module("mainjob_peers")
    block = peers.readme_block()
    return peers.BEGIN, peers.END, block[len(peers.BEGIN) : len(block) - len(peers.END)]


def render(text: str, made: dict[str, str]) -> str:
    """`text` with every figure rewritten from `made` (name -> generated text)."""

    def one(match: re.Match[str]) -> str:
        name, body = match["name"], match["body"]
        inner = made[name]
        sep = "\n" if "\n" in inner or body.startswith("\n") else ""
        return f"<!-- figure:{name}:begin -->{sep}{inner}{sep}<!-- figure:{name}:end -->"

    text = MARKER.sub(one, text)
    begin, end, inner = mainjob()
    if begin in text:
        start, stop = text.index(begin) + len(begin), text.index(end)
        text = text[:start] + inner + text[stop:]
    return text


def check(root: Path = ROOT) -> list[str]:
    """What differs from the records: one line per figure (an empty list when every page agrees)."""
    gens = generators()
    problems, seen = [], set()
    made: dict[str, str] = {}
    for page in [root / p.relative_to(ROOT) for p in pages()]:
        if not page.is_file():
            continue
        text = page.read_text()
        for match in MARKER.finditer(text):
            name = match["name"]
            seen.add(name)
            if name not in gens:
                problems.append(f"{page.name}: figure {name!r} has no generator in benchmarks/figures*.py")
                continue
            if name not in made:
                try:
                    made[name] = gens[name]().strip("\n")
                except (SystemExit, Exception) as error:  # a record missing or unreadable: name it, go on
                    problems.append(f"{page.name}: figure {name!r} cannot be made from its records: {error}")
                    made[name] = match["body"].strip("\n")
                    continue
            if match["body"].strip("\n") != made[name]:
                problems.append(f"{page.name}: figure {name!r} differs from what its records say")
        begin, end, inner = mainjob()
        if begin in text and text[text.index(begin) + len(begin) : text.index(end)] != inner:
            problems.append(f"{page.name}: figure 'mainjob' differs from what its records say")
    problems += [f"figure {name!r} is on no page" for name in sorted(set(gens) - seen)]
    return problems


def write(root: Path = ROOT, only: set[str] | None = None) -> list[Path]:
    """Rewrite every figure (or those named in `only`) on every page; return the pages that changed."""
    gens = generators()
    changed = []
    for page in [root / p.relative_to(ROOT) for p in pages()]:
        if not page.is_file():
            continue
        text = page.read_text()
        names = {m["name"] for m in MARKER.finditer(text)}
        unknown = sorted(names - set(gens))
        if unknown:
            raise SystemExit(f"{page}: figures {unknown} have no generator in benchmarks/figures*.py")
        made = {m["name"]: m["body"].strip("\n") for m in MARKER.finditer(text)}  # what is there stays
        made.update({name: gens[name]().strip("\n") for name in names if only is None or name in only})
        new = render(text, made)
        if new != text:
            page.write_text(new)
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare the pages with their records; change nothing")
    parser.add_argument("--show", metavar="NAME", help="print one generated figure")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="rewrite only these figures")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository whose pages to check or write")
    args = parser.parse_args(argv)
    if args.show:
        print(generators()[args.show]())
        return 0
    if args.check:
        problems = check(args.root)
        for line in problems:
            print(line)
        return 1 if problems else 0
    for page in write(args.root, set(args.only) if args.only else None):
        print(f"rewrote {page.relative_to(args.root)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    import figures  # the generators register with the module `figures`, not with `__main__`

    sys.exit(figures.main())
