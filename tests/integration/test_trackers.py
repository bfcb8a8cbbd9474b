"""Remote trackers next to the local store: W&B offline, MLflow, TensorBoard, and failures.

Every backend runs for real (W&B in offline mode, MLflow on a SQLite store or a real server,
TensorBoard event files); the runs are read back with each tool's own reader. Only the failing
and the slow backend are stand-ins: no real service fails on demand.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlvc_jupyter import IntegratedVersionControl
from mlvc_jupyter.cli import main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.session import ExperimentSession
from mlvc_jupyter.core.tracking import BACKENDS, create_tracker, parse_backends
from mlvc_jupyter.core.tracking.fanout import FanOutTracker, Point, RunInfo
from mlvc_jupyter.core.tracking.local import read_records
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo, git
from tests.integration.wandb_files import offline_runs

CONFIGS = {"model": {"name": "bert", "layers": 2}, "db": {"password": "hunter2"}, "lr": 0.1}
FLAT = {"model.name": "bert", "model.layers": "2", "db.password": "[redacted]", "lr": "0.1"}


@pytest.fixture(autouse=True)
def no_remote_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    """No W&B key, no MLflow server from the environment: everything stays on this machine."""
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT", "MLFLOW_TRACKING_URI",
                 "MLFLOW_EXPERIMENT_NAME"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def _run(repo: GitRepo, backend: str, points: int = 30) -> tuple[IntegratedVersionControl, str]:
    """Start, log ``points`` losses, checkpoint, end with an extra final metric; return the end
    commit."""
    vc = IntegratedVersionControl(repo.path)
    _, tracker = vc.start_integrated_experiment("exp-1", "t", CONFIGS, tracking_backend=backend)
    for step in range(points):
        tracker.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    vc.commit_experiment_changes("exp-1", "t", CONFIGS, "halfway")
    end = vc.end_integrated_experiment("exp-1", "t", CONFIGS, {"loss": 0.5, "acc": 0.9})
    return vc, end


def _runtime(repo: GitRepo) -> Path:
    return repo.path / ".git" / "mlvc"


def test_mlflow_local_store_holds_the_run(git_repo: GitRepo) -> None:
    from mlflow.tracking import MlflowClient

    _, end = _run(git_repo, "local,mlflow")

    client = MlflowClient(f"sqlite:///{_runtime(git_repo) / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(git_repo.path.name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert (run.info.run_name, run.info.status) == ("exp-1", "FINISHED")
    assert run.data.tags["mlvc.experiment"] == "exp-1"
    assert (
        run.data.tags["mlvc.commit"]
        == end
        == git(git_repo.path, "rev-parse", "refs/mlvc/experiments/exp-1").strip()
    )
    assert run.data.params == FLAT
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history][:30] == list(range(30))
    assert run.data.metrics == {"loss": 0.5, "acc": 0.9}  # end's final metrics arrive too
    assert not (git_repo.path / "mlruns").exists()  # nothing lands in the working tree
    local = read_records(_runtime(git_repo) / "metrics" / "exp-1.jsonl")
    assert len(local) == 30


def test_tensorboard_event_files(git_repo: GitRepo) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    vc, end = _run(git_repo, "tensorboard")

    (folder,) = (_runtime(git_repo) / "tensorboard" / "exp-1").iterdir()
    events = EventAccumulator(str(folder))
    events.Reload()
    losses = events.Scalars("loss")
    assert [e.step for e in losses][:30] == list(range(30))
    assert losses[0].value == pytest.approx(1.0)
    assert [e.value for e in events.Scalars("acc")] == [pytest.approx(0.9)]
    assert "mlvc/commit/text_summary" in events.Tags()["tensors"]
    commits = [
        e.tensor_proto.string_val[0].decode() for e in events.Tensors("mlvc/commit/text_summary")
    ]
    assert commits[-1] == end
    assert vc.vc_manager.manager.summary("exp-1").metrics == {"loss": 0.5, "acc": 0.9}


def test_wandb_offline_without_a_key(git_repo: GitRepo) -> None:
    _, end = _run(git_repo, "local,wandb")

    run = offline_runs(_runtime(git_repo))["exp-1"]
    assert run.group == "exp-1"
    assert {k: run.config[k] for k in ("model.name", "model.layers", "db.password", "lr")} == {
        "model.name": "bert", "model.layers": 2, "db.password": "[redacted]", "lr": 0.1,
    }  # fmt: skip
    assert (run.config["mlvc.experiment"], run.config["mlvc.commit"]) == ("exp-1", end)
    assert [row["mlvc/step"] for row in run.history[:30]] == list(range(30))
    assert run.history[30]["acc"] == 0.9  # end's final metrics: one more row
    assert len(run.history) == 31
    assert (run.summary["acc"], run.summary["loss"], run.summary["mlvc/commit"]) == (0.9, 0.5, end)
    assert run.exit_code == 0


class RaisingBridge:
    """A remote tracker that fails at every call (a service that is down)."""

    name = "raising"
    requires = ("json",)
    calls = 0

    def __getattr__(self, method: str) -> Any:
        def fail(*_args: object) -> None:
            RaisingBridge.calls += 1
            raise ConnectionError("service unavailable")

        return fail


def test_a_failing_backend_loses_nothing_and_warns_once(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(BACKENDS, "raising", f"{__name__}:RaisingBridge")
    manager = ExperimentManager(git_repo.path)
    session, _ = ExperimentSession.start(manager, "exp-1", backend="local,raising")
    assert session.tracker is not None
    with caplog.at_level(logging.WARNING, logger="mlvc_jupyter.tracking"):
        for step in range(10_000):
            session.tracker.log_metrics({"loss": float(step)}, step=step)
        end = session.end()

    lines = git(git_repo.path, "show", f"{end.commit}:.mlvc/metrics.jsonl").splitlines()
    assert len(lines) == 10_000
    assert end.metrics == {"loss": 9999.0}
    (failure,) = caplog.records  # reported once, as it happened
    assert "failed (ConnectionError: service unavailable)" in failure.message
    assert all(record.exc_info is None for record in caplog.records)  # no traceback
    (undelivered,) = end.warnings
    assert "did not receive" in undelivered
    assert "local store" in undelivered
    assert RaisingBridge.calls == 1  # dropped after its first error


class BlockedBridge:
    """A remote tracker whose sends hang until released (a server that stopped answering)."""

    name = "blocked"
    requires = ("json",)
    release = threading.Event()
    received: list[Point] = []

    def open(self, run: RunInfo) -> None:
        pass

    def log_points(self, points: Sequence[Point]) -> None:
        self.release.wait()
        self.received.extend(points)

    def log_params(self, params: Mapping[str, object]) -> None:
        pass

    def set_commit(self, commit: str) -> None:
        pass

    def close(self, final_metrics: Mapping[str, float], status: str) -> None:
        pass


def test_a_hanging_backend_never_blocks_and_end_says_what_it_lacks(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BACKENDS, "blocked", f"{__name__}:BlockedBridge")
    tracker = create_tracker(
        "local,blocked", path=git_repo.path / "m.jsonl", experiment_id="exp-1",
        runtime=git_repo.path,
    )  # fmt: skip
    assert isinstance(tracker, FanOutTracker)
    try:
        for step in range(1000):  # the bridge is stuck in its first send: these all queue up
            tracker.log_metrics({"loss": 1.0}, step=step)
        messages = tracker.finish(timeout=0.2)
    finally:
        BlockedBridge.release.set()
        tracker.close()
    assert len(messages) == 1
    assert "did not take" in messages[0]
    assert "within 0.2 s" in messages[0]
    assert len(read_records(git_repo.path / "m.jsonl")) == 1000


def test_missing_extra_names_it(git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # not importable, as if not installed
    vc = IntegratedVersionControl(git_repo.path)
    with pytest.raises(MlvcError, match="'mlflow' needs mlflow, which is not installed") as caught:
        vc.start_integrated_experiment("exp-1", "t", {}, tracking_backend="local,mlflow")
    assert "pip install mlvc-jupyter[mlflow]" in str(caught.value.hint)
    assert git(git_repo.path, "for-each-ref", "refs/mlvc") == ""


@pytest.mark.parametrize(
    ("backend", "names"),
    [
        pytest.param("local", ["local"], id="local"),
        pytest.param("wandb", ["local", "wandb"], id="local-implied"),
        pytest.param(
            " mlflow, local ,MLflow,tensorboard", ["local", "mlflow", "tensorboard"], id="many"
        ),
    ],
)
def test_backend_lists(backend: str, names: list[str]) -> None:
    assert parse_backends(backend) == names


def test_unknown_backend_in_a_list() -> None:
    with pytest.raises(
        MlvcError,
        match=r"Unknown tracking backend 'nope'\. "
        r"Known backends: local, mlflow, tensorboard, wandb\.",
    ):
        parse_backends("local,nope")


def test_cli_start_track_records_the_runs_that_end_opens_and_ends(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mlvc start --track` exits at once: `mlvc end` opens the remote runs and ends them."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # The secret guard would refuse the file: it is allowed here to see the tracker's redaction.
    git_repo.write({"params.json": '{"lr": 0.1, "api_key": "sk-123"}',
                    ".mlvc.toml": 'allow-secrets = ["params.json"]\n'})  # fmt: skip
    code = main(["-C", str(git_repo.path), "start", "exp-1", "--config", "params.json",
                 "--track", "local,mlflow,tensorboard"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert not (_runtime(git_repo) / "tensorboard").exists()  # nothing opened yet
    assert main(["-C", str(git_repo.path), "end", "exp-1", "--metrics", "acc=0.9"]) == 0
    end = git(git_repo.path, "rev-parse", "refs/mlvc/experiments/exp-1").strip()

    client = MlflowClient(f"sqlite:///{_runtime(git_repo) / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(git_repo.path.name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert (run.info.run_name, run.info.status) == ("exp-1", "FINISHED")
    assert run.data.params == {"lr": "0.1", "api_key": "[redacted]"}
    assert (run.data.metrics, run.data.tags["mlvc.commit"]) == ({"acc": 0.9}, end)

    (folder,) = (_runtime(git_repo) / "tensorboard" / "exp-1").iterdir()
    events = EventAccumulator(str(folder))
    events.Reload()
    (configs,) = events.Tensors("mlvc/configs/text_summary")
    text = configs.tensor_proto.string_val[0].decode()
    assert "| lr | 0.1 |" in text
    assert '| api_key | "[redacted]" |' in text
    assert "sk-123" not in text
    assert [e.value for e in events.Scalars("acc")] == [pytest.approx(0.9)]


def test_cli_start_track_refuses_an_unknown_backend_before_recording(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(git_repo.path), "start", "exp-1", "--track", "local,nope"]) == 1
    assert "Unknown tracking backend 'nope'" in capsys.readouterr().err
    assert git(git_repo.path, "for-each-ref", "refs/mlvc") == ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 (a free port), killed at the end."""
    port = _free_port()
    store = tmp_path / "server"
    store.mkdir()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
        "--default-artifact-root", (store / "artifacts").as_uri(),
    ]  # fmt: skip
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=store)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):  # up to about 2 minutes on a loaded machine
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("mlflow server did not answer /health")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.slow
def test_mlflow_server_by_uri(
    git_repo: GitRepo, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "shared-team")
    _, end = _run(git_repo, "mlflow")

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("shared-team")
    (run,) = client.search_runs([experiment.experiment_id])
    assert (run.info.run_name, run.info.status) == ("exp-1", "FINISHED")
    assert (run.data.tags["mlvc.experiment"], run.data.tags["mlvc.commit"]) == ("exp-1", end)
    assert run.data.params == FLAT
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")][:30] == list(
        range(30)
    )
    assert not (_runtime(git_repo) / "mlflow").exists()  # the server's store, not a local one


@pytest.mark.parametrize(
    ("name", "redacted"),
    [
        pytest.param("db.password", True, id="password"),
        pytest.param("hf_token", True, id="token"),
        pytest.param("apiKey", True, id="camel-api-key"),
        pytest.param("aws.secret_access_key", True, id="access-key"),
        pytest.param("client-secret", True, id="secret"),
        pytest.param("num_tokens", False, id="num-tokens"),
        pytest.param("tokenizer", False, id="tokenizer"),
        pytest.param("secret_sauce_lr", False, id="secret-sauce-lr"),
        pytest.param("model.key_dim", False, id="key-dim"),
    ],
)
def test_secret_config_names_are_redacted_for_trackers(name: str, redacted: bool) -> None:
    from mlvc_jupyter.core.configs.redact import REDACTED, redact_secrets

    assert (redact_secrets({name: "value"})[name] == REDACTED) is redacted
