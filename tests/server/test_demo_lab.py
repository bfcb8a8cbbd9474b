"""`mlvc demo` names `mlvc demo --lab`; `mlvc demo --lab` serves the sidebar and stops on Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mlvc_jupyter.demo import run_demo

pytestmark = [pytest.mark.server, pytest.mark.slow]
PROJECT = Path(__file__).resolve().parents[2]


def test_demo_output_ends_by_naming_the_lab_demo() -> None:
    out = io.StringIO()
    assert run_demo(None, out=out) == 0
    assert out.getvalue().rstrip().endswith("mlvc demo --lab")


def test_demo_lab_serves_the_api_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
    }
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlvc_jupyter", "demo", "--lab", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "token=" in line:
                break
        url = re.search(
            r"(http://127\.0\.0\.1:\d+)/lab/tree/notebooks/explore\.ipynb\?token=(\w+)&mlvc",
            "".join(lines),
        )
        assert url, "".join(lines)
        base, token = url.groups()
        version = _wait_for_json(f"{base}/mlvc/api/version", token)
        assert version["root"] == str((tmp_path / "demo").resolve())
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "JupyterLab stopped; the demo repository stays in" in rest


def _wait_for_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    for _ in range(300):
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  # local
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer")
