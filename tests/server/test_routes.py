"""Every route of /mlvc/api/ through a real jupyter_server, against a real repository."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mlvc_jupyter import __version__
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.session import clear_kernel_state, write_kernel_state
from tests.conftest import GitRepo
from tests.server.conftest import Fetch, call, post

pytestmark = pytest.mark.server


async def test_version_names_the_package_api_and_root(jp_fetch: Fetch, jp_root_dir: Path) -> None:
    reply = {"version": __version__, "api": 1, "root": str(jp_root_dir.resolve())}
    assert await call(jp_fetch, "version") == (200, reply)


async def test_status_names_the_notebooks_active_experiment(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    manager = ExperimentManager(project.path)
    write_kernel_state(manager, notebook="nb.ipynb", experiment_id="exp-run")
    try:
        code, status = await call(jp_fetch, "status", params={"path": "nb.ipynb"})
    finally:
        clear_kernel_state(manager)
    assert code == 200
    assert (status["branch"], status["notebook"], status["active"]) == (
        "main",
        "nb.ipynb",
        "exp-run",
    )
    assert status["head"] == project.git("rev-parse", "HEAD").strip()
    code, status = await call(jp_fetch, "status", params={"path": "nb.ipynb"})
    assert (code, status["active"]) == (200, None)


async def test_status_of_a_folder_has_no_notebook(jp_fetch: Fetch, project: GitRepo) -> None:
    code, status = await call(jp_fetch, "status", params={"path": "data"})
    assert (code, status["notebook"], status["active"]) == (200, None, None)
    assert status["root"] == str(project.path)


async def test_experiments_lists_pages_and_filters(jp_fetch: Fetch, project: GitRepo) -> None:
    code, page = await call(jp_fetch, "experiments")
    assert (code, page["total"]) == (200, 3)
    assert [item["id"] for item in page["items"]] == ["exp-run", "exp-2", "exp-1"]
    _, page = await call(
        jp_fetch, "experiments", params={"status": "success", "sort": "-metrics.acc"}
    )
    assert [item["id"] for item in page["items"]] == ["exp-2", "exp-1"]
    _, page = await call(jp_fetch, "experiments", params={"search": "EXP-2"})
    assert [item["id"] for item in page["items"]] == ["exp-2"]
    _, page = await call(jp_fetch, "experiments", params={"1796570153514": ""})  # cache buster
    assert page["total"] == 3
    _, page = await call(jp_fetch, "experiments", params={"offset": "1", "limit": "1"})
    assert (page["total"], [item["id"] for item in page["items"]]) == (3, ["exp-2"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "done"}, "Unknown status 'done'"),
        ({"limit": "0"}, "'limit=0' is not a whole number from 1 to 1000"),
        ({"offset": "-1"}, "'offset=-1' is not a whole number 0 or more"),
        ({"limit": "ten"}, "'limit=ten'"),
        ({"serach": "x"}, "Unknown query argument 'serach'"),
    ],
    ids=["status", "limit-zero", "offset-negative", "limit-text", "unknown-argument"],
)
async def test_experiments_refuses_bad_arguments(
    jp_fetch: Fetch, project: GitRepo, params: dict[str, str], message: str
) -> None:
    code, body = await call(jp_fetch, "experiments", params=params)
    assert code == 400
    assert message in body["error"]["message"]
    assert body["error"]["hint"]


async def test_show_returns_the_record(jp_fetch: Fetch, project: GitRepo) -> None:
    code, record = await call(jp_fetch, "experiments", "exp-1")
    assert code == 200
    assert (record["summary"]["id"], record["summary"]["metrics"]) == ("exp-1", {"acc": 0.8})
    assert record["configs"]["lr"] == 0.1


async def test_show_of_a_missing_experiment_is_a_404_with_a_hint(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    code, body = await call(jp_fetch, "experiments", "nope")
    assert code == 404
    assert body == {
        "error": {
            "type": "ExperimentNotFoundError",
            "message": "Experiment 'nope' does not exist.",
            "hint": "Run `mlvc log` (or `%vc_log`) to list the experiments.",
        }
    }


async def test_diff_compares_each_experiment_with_the_first(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    code, reply = await call(jp_fetch, "diff", params={"a": "exp-1", "b": "exp-2,exp-run"})
    assert (code, reply["a"]) == (200, "exp-1")
    assert [(d["a"], d["b"]) for d in reply["diffs"]] == [("exp-1", "exp-2"), ("exp-1", "exp-run")]
    assert reply["diffs"][0]["params_changed"] == {"lr": [0.1, 0.2]}
    assert reply["diffs"][0]["metrics"]["acc"]["a"] == 0.8


async def test_diff_without_b_is_refused(jp_fetch: Fetch, project: GitRepo) -> None:
    code, body = await call(jp_fetch, "diff", params={"a": "exp-1"})
    assert (code, body["error"]["type"]) == (400, "BadRequestError")


async def test_tag_creates_the_tag(jp_fetch: Fetch, project: GitRepo) -> None:
    code, reply = await post(jp_fetch, "experiments", "exp-2", "tag", body={"tag": "best"})
    assert (code, reply) == (201, {"experiment": "exp-2", "tag": "best"})
    assert project.git("tag", "--list").split() == ["best"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"tag": "best", "colour": "red"}, "Unknown key 'colour' in the body of 'tag'"),
        ({}, "The body of 'tag' lacks 'tag'"),
        ({"tag": 1}, "'tag' in the body of 'tag' must be a str, got int"),
        ({"tag": "best", "force": "yes"}, "'force' in the body of 'tag' must be a bool"),
        ("{not json", "The body of 'tag' is not valid JSON"),
        ("[1]", "must be a JSON object, not list"),
        ({"tag": "bad..name"}, "bad..name"),
    ],
    ids=["unknown-key", "missing", "int", "force-text", "not-json", "list", "bad-name"],
)
async def test_tag_refuses_bad_bodies(
    jp_fetch: Fetch, project: GitRepo, body: object, message: str
) -> None:
    code, reply = await post(jp_fetch, "experiments", "exp-2", "tag", body=body)
    assert code == 400
    assert message in reply["error"]["message"]
    assert project.git("tag", "--list") == ""


async def test_branch_creates_mlvc_branch(jp_fetch: Fetch, project: GitRepo) -> None:
    code, reply = await post(jp_fetch, "experiments", "exp-1", "branch")
    assert (code, reply) == (201, {"experiment": "exp-1", "branch": "mlvc/exp-1"})
    tip = project.git("rev-parse", "refs/mlvc/experiments/exp-1").strip()
    assert project.git("rev-parse", "refs/heads/mlvc/exp-1").strip() == tip
    code, reply = await post(jp_fetch, "experiments", "exp-1", "branch", body={"name": "x"})
    assert (code, reply["error"]["message"]) == (400, "Unknown key 'name' in the body of 'branch'.")


async def test_reproduce_runs_as_a_job(jp_fetch: Fetch, project: GitRepo) -> None:
    code, job = await post(jp_fetch, "experiments", "exp-1", "reproduce")
    assert (code, job["kind"], job["experiment"]) == (202, "reproduce", "exp-1")
    for _ in range(600):
        code, job = await call(jp_fetch, "jobs", job["id"])
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert (code, job["state"], job["error"]) == (200, "done", None)
    assert job["result"]["worktree"] == "reproductions/exp-1"  # inside the root: Lab opens it
    assert job["result"]["drift"]["environment"] == []
    worktree = project.path / job["result"]["worktree"]
    assert (worktree / "train.py").read_text() == "print('train 0.1')\n"
    assert (project.path / "train.py").read_text() == "print('train 0.2')\n"


async def test_reproduce_of_a_missing_experiment_is_a_404(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    code, body = await post(jp_fetch, "experiments", "nope", "reproduce")
    assert (code, body["error"]["type"]) == (404, "ExperimentNotFoundError")


@pytest.mark.parametrize("job_id", ["0" * 32, "0.0", "x" * 40], ids=["unknown", "dots", "long"])
async def test_unknown_jobs_are_404(jp_fetch: Fetch, job_id: str) -> None:
    code, body = await call(jp_fetch, "jobs", job_id)
    assert code == 404
    assert body["error"]["hint"]


async def test_commit_records_a_checkpoint_of_the_running_experiment(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    project.write({"train.py": "print('edited during training')\n"})
    code, checkpoint = await post(
        jp_fetch, "experiments", "exp-run", "commit", body={"message": "from the sidebar"}
    )
    assert code == 201
    assert (checkpoint["seq"], checkpoint["status"], checkpoint["message"]) == (
        2, "running", "from the sidebar",
    )  # fmt: skip
    tip = "refs/mlvc/experiments/exp-run"
    assert project.git("show", f"{tip}:train.py") == "print('edited during training')\n"
    assert "train.py" in project.git("status", "--porcelain")  # the user's tree is untouched


async def test_commit_of_an_ended_experiment_is_a_409(jp_fetch: Fetch, project: GitRepo) -> None:
    code, body = await post(jp_fetch, "experiments", "exp-1", "commit", body={})
    assert code == 409
    assert body["error"]["message"].startswith("Experiment 'exp-1' has ended (success)")


async def test_a_kernel_state_of_a_dead_process_is_ignored(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    manager = ExperimentManager(project.path)
    write_kernel_state(manager, notebook="nb.ipynb", experiment_id="exp-run")
    state = manager.repo.runtime_dir / "kernels" / f"{os.getpid()}.json"
    dead = state.with_name("999999999.json")
    dead.write_text(state.read_text().replace(str(os.getpid()), "999999999"))
    state.unlink()
    code, status = await call(jp_fetch, "status", params={"path": "nb.ipynb"})
    assert (code, status["active"]) == (200, None)
