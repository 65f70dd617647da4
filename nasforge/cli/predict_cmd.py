"""`nasforge predict` (an exported model on files of raw inputs) and `nasforge serve` (the same over HTTP)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError, DataError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict with an exported model on files of raw inputs")
    p.add_argument("folder", metavar="EXPORT_DIR", help="a folder written by `nasforge run` or `nasforge export`")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="files of raw inputs, or folders of them: a CSV of table rows, text lines (or a CSV's text column; "
        "source column for translation), .npy arrays, image files, WAV files, by the model's kind; for a text or "
        "translation model also texts themselves (an INPUT that is no file, unless it is named like one)",
    )
    p.add_argument(
        "--out",
        metavar="CSV",
        help="write the predictions to this CSV file (default: print them): per input its name, the prediction and "
        "each class's probability; for translation the source and its translation",
    )
    p.add_argument("--batch-size", type=int, default=256, help="inputs per forward pass (default: 256)")
    p.set_defaults(func=predict_main)

    s = sub.add_parser("serve", help="serve an exported model over HTTP (POST /predict, GET /health)")
    s.add_argument("folder", metavar="EXPORT_DIR", help="a folder written by `nasforge run` or `nasforge export`")
    s.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0: any free port)")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; the server has no authentication)",
    )
    s.set_defaults(func=serve_main)


def predict_main(args: argparse.Namespace) -> int:
    from nasforge.export import load

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, but got {args.batch_size}.")
    model = load(args.folder)
    names: list[str] = []
    raw: list[Any] = []
    for given in args.inputs:
        if Path(given).exists() or not _is_text(given, model.inputs.takes_strings):
            for file in _files([given], model.inputs.takes_strings):
                found = model.read(file)
                raw += found
                names += [str(file)] if len(found) == 1 else [f"{file}:{i + 1}" for i in range(len(found))]
        else:  # the input is a text itself
            raw.append(given)
            names.append(given)
    if not raw:
        raise DataError(f"{', '.join(args.inputs)} hold no inputs; give files of {model.inputs.accepts}.")
    answer = model.answer(raw, args.batch_size)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(model.outputs.table(names, raw, answer))
    if args.out:
        try:
            Path(args.out).write_text(buffer.getvalue())
        except OSError as exc:
            raise ConfigError(
                f"Cannot write --out {args.out!r}: {exc.strerror or exc}; choose a writable path."
            ) from exc
        print(f"{len(names)} predictions written to {args.out}")
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _is_text(given: str, takes_strings: bool) -> bool:
    """Whether the command-line input `given`, no file or folder, is a text to predict on: for a model that takes
    strings, unless it is named like a file (a suffix, no space), so that a mistyped path is an error."""
    return takes_strings and (any(c.isspace() for c in given) or not Path(given).suffix)


def _files(paths: list[str], takes_strings: bool = False) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            texts = " or texts (one named like a file, with a suffix and no space, is taken for a path)"
            raise DataError(
                f"The input {given!r} is neither a file nor a folder; give files of inputs{texts if takes_strings else ''}."
            )
    return files


def serve_main(args: argparse.Namespace) -> int:
    from nasforge.export import load
    from nasforge.export.serve import make_server

    server = make_server(load(args.folder), args.host, args.port)
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host
    print(f"serving {args.folder} on http://{host}:{port} (POST /predict, GET /health); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
