"""`nasforge dashboard`: a local, read-only web page of a storage's experiments that follows running searches.

The server binds 127.0.0.1 unless told otherwise, answers GET (and HEAD) on its own routes only, and
reads the storage without writing to it. Pages are the report's HTML (every stored string escaped) plus
one script served from the same origin, under a Content-Security-Policy that forbids anything else:

    /                               experiments, their status and best value (refreshed every 2 s)
    /experiments/NAME               the experiment's report, redrawn when a trial finishes
    /experiments/NAME/body          the report's body alone (what the page fetches)
    /api/experiments                JSON: one summary per experiment
    /api/experiments/NAME           JSON: that experiment's summary
    /static/dashboard.js            the page script
"""

from __future__ import annotations

import json
import threading
import time
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from nasforge.errors import ConfigError, NasforgeError
from nasforge.report.data import experiment_summaries, load_view
from nasforge.report.html import STYLE, render_body
from nasforge.storage import BaseStorage, get_storage

__all__ = ["Dashboard"]

REFRESH_MS = 2000
POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SCRIPT = """
"use strict";
const root = document.getElementById("live");
const refresh = Number(root.dataset.refresh);
let seen = root.dataset.stamp;

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

async function listTick() {
  const rows = await (await fetch("/api/experiments", {cache: "no-store"})).json();
  const body = document.getElementById("experiments");
  body.replaceChildren(...rows.map(r => {
    const tr = document.createElement("tr");
    const link = document.createElement("a");
    link.href = "/experiments/" + encodeURIComponent(r.name);
    link.textContent = r.name;
    const name = document.createElement("td");
    name.append(link);
    tr.append(name, cell(r.status), cell(r.trials), cell(r.COMPLETE), cell(r.RUNNING), cell(r.FAILED),
              cell(r.objective), cell(r.best === null ? "" : Number(r.best).toPrecision(4)));
    return tr;
  }));
  document.getElementById("stamp").textContent = new Date().toLocaleTimeString();
}

async function pageTick() {
  const name = root.dataset.experiment;
  const path = "/api/experiments/" + encodeURIComponent(name);
  const summary = await (await fetch(path, {cache: "no-store"})).json();
  const stamp = [summary.trials, summary.COMPLETE, summary.FAILED, summary.RUNNING, summary.status].join("/");
  if (stamp !== seen) {
    const html = await (await fetch("/experiments/" + encodeURIComponent(name) + "/body", {cache: "no-store"})).text();
    document.getElementById("report").innerHTML = html;  // server-rendered, every stored string escaped
    seen = stamp;
  }
  document.getElementById("stamp").textContent = new Date().toLocaleTimeString();
}

async function loop() {
  try { await (root.dataset.experiment ? pageTick() : listTick()); }
  catch (err) { document.getElementById("stamp").textContent = "disconnected, retrying"; }
  setTimeout(loop, refresh);
}
setTimeout(loop, refresh);
"""


class Dashboard:
    """The dashboard server over `storage`; `start()` serves in a thread, `serve_forever()` in this one.

    >>> board = Dashboard("nasforge.db", port=0).start()     # doctest: +SKIP
    >>> board.url                                             # doctest: +SKIP
    'http://127.0.0.1:40321/'
    """

    def __init__(self, storage: str | BaseStorage, host: str = "127.0.0.1", port: int = 8765) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"The dashboard port must be an int in 0..65535 (0: any free port), but got {port!r}.")
        self.storage = get_storage(storage)
        self.host = host
        self._lock = threading.Lock()  # one storage read at a time: SQLite connections are not shared safely
        handler = type("Handler", (_Handler,), {"dashboard": self})
        try:
            self.server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(
                f"The dashboard cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
                "(0 for any free one) or --host."
            ) from exc
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> Dashboard:
        self._thread = threading.Thread(target=self.server.serve_forever, name="nasforge-dashboard", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- pages ---------------------------------------------------------------------------------------------------
    def route(self, path: str) -> tuple[int, str, str | bytes]:
        """(status, content type, body) for a GET of `path`."""
        parts = [unquote(p) for p in urlsplit(path).path.split("/")[1:]]
        with self._lock:
            try:
                if parts in ([""], []):
                    return _html(self._index())
                if parts == ["static", "dashboard.js"]:
                    return HTTPStatus.OK, "text/javascript; charset=utf-8", SCRIPT
                if parts == ["api", "experiments"]:
                    return _json(experiment_summaries(self.storage))
                if len(parts) == 3 and parts[:2] == ["api", "experiments"]:
                    return _json(load_view(parts[2], self.storage).summary())
                if len(parts) == 2 and parts[0] == "experiments":
                    return _html(self._experiment(parts[1]))
                if len(parts) == 3 and parts[0] == "experiments" and parts[2] == "body":
                    return HTTPStatus.OK, "text/html; charset=utf-8", render_body(load_view(parts[1], self.storage))
            except NasforgeError as exc:  # e.g. no such experiment
                return HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", str(exc)
        return HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", "Not found: the dashboard serves only its own pages."

    def _index(self) -> str:
        rows = []
        for s in experiment_summaries(self.storage):
            link = f'<a href="/experiments/{quote(s["name"], safe="")}">{escape(s["name"])}</a>'
            best = "" if s["best"] is None else f"{s['best']:.4g}"
            cells = [s["status"], s["trials"], s["COMPLETE"], s["RUNNING"], s["FAILED"], s["objective"], best]
            rows.append(f"<tr><td>{link}</td>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th>{h}</th>"
            for h in ("experiment", "status", "trials", "complete", "running", "failed", "objective", "best")
        )
        return _page(
            "nasforge dashboard",
            f"<h1>nasforge dashboard</h1><p class='muted'>{escape(str(self.storage))}: updated "
            f"<span id='stamp'>{time.strftime('%H:%M:%S')}</span></p><table><thead><tr>{head}</tr></thead>"
            f"<tbody id='experiments'>{''.join(rows)}</tbody></table>",
            "",
            "",
        )

    def _experiment(self, name: str) -> str:
        view = load_view(name, self.storage)
        s = view.summary()
        stamp = "/".join(str(s[k]) for k in ("trials", "COMPLETE", "FAILED", "RUNNING", "status"))
        nav = (
            "<p class='muted'><a href='/'>all experiments</a> &middot; live, updated "
            f"<span id='stamp'>{time.strftime('%H:%M:%S')}</span></p>"
        )
        return _page(f"{name} - nasforge dashboard", f"{nav}<div id='report'>{render_body(view)}</div>", name, stamp)


def _page(title: str, body: str, experiment: str, stamp: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<div id="live" data-refresh="{REFRESH_MS}" data-experiment="{escape(experiment)}" '
        f'data-stamp="{escape(stamp)}"></div>{body}<script src="/static/dashboard.js"></script></body></html>\n'
    )


def _html(body: str) -> tuple[int, str, str]:
    return HTTPStatus.OK, "text/html; charset=utf-8", body


def _json(data: Any) -> tuple[int, str, str]:
    return HTTPStatus.OK, "application/json", json.dumps(data, default=str)


class _Handler(BaseHTTPRequestHandler):
    dashboard: Dashboard
    server_version = "nasforge-dashboard"

    def do_GET(self) -> None:
        self._answer(head_only=False)

    def do_HEAD(self) -> None:
        self._answer(head_only=True)

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", b"The dashboard is read-only.", False)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _answer(self, head_only: bool) -> None:
        try:
            status, kind, body = self.dashboard.route(self.path)
        except Exception as exc:  # a storage error must not kill the server thread
            status, kind, body = HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", f"error: {exc}"
        self._send(status, kind, body.encode() if isinstance(body, str) else body, head_only)

    def _send(self, status: int, kind: str, data: bytes, head_only: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: a page polls every 2 s
        return
