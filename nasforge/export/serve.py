"""Serve an exported model over HTTP with the standard library: `POST /predict`, `GET /health`, `GET /schema`.

A request is JSON `{"inputs": [...]}` (its JSON Schema, for this model's kind of input, at `GET /schema`): a
batch of raw inputs as JSON holds them (texts as strings, table rows as objects from column name to value,
images, waveforms and feature arrays as nested lists of numbers). A classifier answers `{"predictions": [...],
"probabilities": [[...], ...], "classes": [...]}`, a translation model `{"predictions": [...]}` (the
translations, placeholders as they went in). A bad request gets status 400 and `{"error": "..."}`, one line
that says what was expected. The server listens on loopback unless given another host: it has no
authentication, so put a proxy in front to expose it.

>>> server = make_server(load("nasforge-out/digits"), port=0)  # doctest: +SKIP
>>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nasforge.errors import ConfigError, NasforgeError
from nasforge.export.predictor import Predictor

__all__ = ["MAX_BODY", "make_server"]

#: the largest request body read, in bytes (a batch of a few thousand images or texts)
MAX_BODY = 64 * 1024 * 1024


def make_server(predictor: Predictor, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server (not yet serving: call `serve_forever()`) answering for `predictor` on `host`:`port`
    (0: a free port, read back from `server.server_address`)."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"The port must be an int in 0..65535 (0: any free port), but got {port!r}; e.g. 8000.")

    class Handler(_Handler):
        model = predictor

    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port.") from exc


class _Handler(BaseHTTPRequestHandler):
    model: Predictor
    server_version = "nasforge"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request on stderr would drown the command's own output

    def do_GET(self) -> None:
        route = self.path.rstrip("/")
        if route == "/health":
            inputs = self.model.inputs
            self._send(HTTPStatus.OK, {"status": "ok", "classes": self.model.classes, "accepts": inputs.accepts})
        elif route == "/schema":
            self._send(HTTPStatus.OK, self.model.inputs.request_schema())
        else:
            self._send(
                HTTPStatus.NOT_FOUND,
                {"error": f"No route GET {self.path}; use GET /health, GET /schema or POST /predict."},
            )

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/predict":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"No route POST {self.path}; use POST /predict."})
            return
        try:
            request = self._read_json()
            raw = self.model.inputs.from_json(request["inputs"])
            answer = self.model.answer(raw)
        except NasforgeError as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc).splitlines()[0]})
            return
        except Exception as exc:  # the model failed on inputs that passed the checks: still one line back
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
            return
        self._send(HTTPStatus.OK, answer)

    def _read_json(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise _BadRequest("A POST /predict needs a Content-Length header and a JSON body.") from None
        if not 0 < length <= MAX_BODY:
            raise _BadRequest(f"The request body must hold 1 to {MAX_BODY} bytes of JSON, but holds {length}.")
        try:
            request = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _BadRequest(f'The request body is not JSON ({exc}); send {{"inputs": [...]}}.') from None
        if (
            not isinstance(request, dict)
            or not isinstance(request.get("inputs"), list)
            or not request["inputs"]
            or set(request) != {"inputs"}
        ):
            raise _BadRequest(
                f'The request must be a JSON object {{"inputs": [...]}} with a non-empty list of {self.model.inputs.accepts}, '
                f"but got {json.dumps(request)[:80]} (GET /schema gives its JSON Schema)."
            )
        return request

    def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _BadRequest(NasforgeError):
    """A request the server cannot read."""
