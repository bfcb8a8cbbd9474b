"""Time ``GET /mlvc/api/experiments`` (the sidebar's first page) through a real jupyter_server.

    python benchmarks/bench_server.py             # 10,000 experiments, 30 rounds per query
    python benchmarks/bench_server.py --size 1000 --rounds 10

Target (issue 10): the first page of 10,000 experiments answers in at most 100 ms warm,
measured at the client: a ``jupyter server`` subprocess with the extension enabled, on the
cached repository of ``gen_experiments.py`` (loose and packed refs), queried over one
keep-alive HTTP connection with the token in a header, as the sidebar's requests arrive. The
first request after start (cold: the server reads every summary once) is reported apart.
The table goes to stdout and ``results/server.md``, raw samples to ``results/server.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gen_experiments
from common import RESULTS, Row, Task, markdown_table, round_robin, scaled

ROOT = Path(__file__).resolve().parent.parent
QUERIES = {
    "first page (limit 50)": "experiments?limit=50",
    "search 'exp-09', by -metrics.acc": "experiments?search=exp-09&sort=-metrics.acc&limit=50",
    "status=success, page 100": "experiments?status=success&offset=5000&limit=50",
}
LIMIT_MS = 100.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(root: Path) -> Iterator[tuple[http.client.HTTPConnection, str]]:
    """Start ``jupyter server`` on ``root``; yield a keep-alive connection and the token."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={root}",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
        "--ServerApp.jpserver_extensions={'mlvc_jupyter': True}", "--ServerApp.log_level=WARN",
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        connection = _wait(port, token, proc)
        yield connection, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait(port: int, token: str, proc: subprocess.Popen[bytes]) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            get(connection, token, "version")
        except (OSError, RuntimeError):
            time.sleep(0.2)
        else:
            return connection
    raise RuntimeError("jupyter server did not answer /mlvc/api/version within 60 s")


def get(connection: http.client.HTTPConnection, token: str, route: str) -> dict:
    """GET ``/mlvc/api/<route>`` and return its JSON (raise on an error status)."""
    connection.request("GET", f"/mlvc/api/{route}", headers={"Authorization": f"token {token}"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {route}: {response.status} {body[:300]!r}")
    return json.loads(body)


def bench_layout(n: int, layout: str, root: Path, rounds: int) -> tuple[list[Row], dict]:
    with server(root) as (connection, token):
        started = time.perf_counter()
        page = get(connection, token, QUERIES["first page (limit 50)"])
        cold = time.perf_counter() - started
        if page["total"] != n or len(page["items"]) != 50:
            raise RuntimeError(
                f"{root}: the server found {page['total']} experiments, expected {n}"
            )
        tasks = [
            Task(name, lambda r=route: get(connection, token, r)) for name, route in QUERIES.items()
        ]
        samples = round_robin(tasks, rounds=rounds, warmup=2, label=f"server {layout}")
    rows = [
        Row(
            f"GET experiments, {n:,} ({layout})",
            "cold: first request after start",
            scaled([cold], "ms"),
        )
    ]
    for name, values in samples.items():
        rows.append(
            Row(f"GET experiments, {n:,} ({layout})", f"warm: {name}", scaled(values, "ms"),
                target=f"≤ {LIMIT_MS:.0f} ms" if name.startswith("first") else "",
                limit=LIMIT_MS if name.startswith("first") else None)
        )  # fmt: skip
    return rows, {"cold": cold, **samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    gen_experiments.build(args.size)
    rows, raw = [], {}
    for layout, root in gen_experiments.layouts(args.size).items():
        if layout == "gc":
            continue
        layout_rows, raw[layout] = bench_layout(args.size, layout, root, args.rounds)
        rows += layout_rows
    table = markdown_table(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "server.md").write_text(table + "\n")
    (RESULTS / "server.json").write_text(json.dumps(raw, indent=1))
    return 0 if all(row.verdict != "MISS" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
