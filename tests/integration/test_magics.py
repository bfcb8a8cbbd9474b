"""The %vc_* magics, run in a real IPython InteractiveShell (run_cell), as a notebook runs them."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from mlvc_jupyter.cli import main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.recording.worker import MESSAGE_SEPARATOR, worker_for
from mlvc_jupyter.display import (
    DiffView,
    ExperimentListView,
    RecordView,
    StatusView,
)
from mlvc_jupyter.magics import VCMagics
from tests.conftest import GitRepo

MAGICS = {
    "vc_init": "Record this kernel's experiments in the repository of a folder",
    "vc_status": "Show the branch, HEAD, dirty files, active experiment and its last checkpoint.",
    "vc_start": "Start an experiment: record its first checkpoint (code, notebooks, configs).",
    "vc_commit": "Record a checkpoint of the active experiment.",
    "vc_end": "End the active experiment: wait for queued checkpoints, record the final one.",
    "vc_log": "List experiments, newest first: id, status, metrics, tags.",
    "vc_show": "Show everything recorded about an experiment's last checkpoint.",
    "vc_diff": "Compare two experiments: params, metrics and changed files.",
    "vc_tag": "Tag an experiment's last checkpoint with an annotated git tag.",
    "vc_branch": "Create branch mlvc/EXP_ID at an experiment's last checkpoint.",
    "vc_snapshot": "Save the configs and the repository's config files to a config snapshot.",
    "vc_restore": "Restore config files from a snapshot file or an experiment, saving yours first.",
    "vc_reproduce": "Check an experiment out, report its drift, and with --run re-run it.",
    "vc_experiment": "Run the cell as an experiment: started before it, ended after it.",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="session")
def ipython(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    """The process's one InteractiveShell, with its profile and history kept off the real home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config)
        shell.run_line_magic("load_ext", "mlvc_jupyter")
        yield shell


@pytest.fixture
def shell(
    ipython: InteractiveShell, git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    """The shell, in ``git_repo``, with a fresh kernel session and no notebook hints."""
    monkeypatch.chdir(git_repo.path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ipython.reset(new_session=True)  # a fresh kernel: empty namespace, In[] from 1
    _magics(ipython).reset()
    yield ipython
    worker_for(_magics(ipython).manager).wait(timeout=60)
    _magics(ipython).reset()


def _magics(shell: InteractiveShell) -> VCMagics:
    magics = shell.magics_manager.registry["VCMagics"]
    assert isinstance(magics, VCMagics)
    return magics


def run(shell: InteractiveShell, source: str) -> Any:
    """Run a cell as a notebook would (history stored) and return its value; raise its error."""
    result = shell.run_cell(textwrap.dedent(source), store_history=True)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise error
    return result.result


def displayed(shell: InteractiveShell, source: str) -> tuple[list[str], str]:
    """Run a cell; return the text of each output it displayed (updates apart) and its stdout.

    The stdout holds what was printed and the cell's Out value, so a view shown by ``display()``
    and again as the cell's value would appear in both.
    """
    with capture_output(display=True) as captured:
        run(shell, source)
    texts = [o.data["text/plain"] for o in captured.outputs if not o.update]
    return texts, captured.stdout


def usage_error(shell: InteractiveShell, source: str) -> str:
    """Run a cell that must fail with IPython's own UsageError (not a subclass); return it."""
    result = shell.run_cell(textwrap.dedent(source), store_history=True)
    assert type(result.error_in_exec) is UsageError, result.error_in_exec
    return str(result.error_in_exec)


def mlvc_refs(repo: GitRepo) -> list[str]:
    return repo.git("for-each-ref", "--format=%(refname)", "refs/mlvc/").split()


def manager(shell: InteractiveShell) -> ExperimentManager:
    return _magics(shell).manager


# -- help and loading ---------------------------------------------------------------------------


@pytest.mark.parametrize(("magic", "summary"), MAGICS.items(), ids=MAGICS.keys())
def test_help_shows_usage_and_the_docstring_summary(
    shell: InteractiveShell, magic: str, summary: str
) -> None:
    prefix = "%%" if magic == "vc_experiment" else "%"
    text = ANSI.sub("", shell.object_inspect_text(prefix + magic))
    assert f"%{magic}" in text.split("\n\n")[1]  # the usage block argparse wrote
    assert summary in " ".join(text.split())


def test_vc_start_help_names_every_argument(shell: InteractiveShell) -> None:
    text = " ".join(ANSI.sub("", shell.object_inspect_text("%vc_start")).split())
    assert (
        "%vc_start [-n NAME] [--config VAR] [--branch] [--track BACKEND] [--seed N] [--resume] "
        "[--notebook PATH] [--entry CMD] [--live] EXP_ID"
    ) in text
    for expected in (
        "EXP_ID letters, digits, '.', '_' and '-'",
        "-n NAME, --name NAME a readable name (default: EXP_ID)",
        "--track BACKEND create a metric tracker (e.g. local) as the variable `tracker`",
        "--seed N seed random, numpy and torch; record N",
    ):
        assert expected in text


def test_load_ext_imports_nothing_heavy() -> None:
    script = textwrap.dedent(
        """
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        before = set(sys.modules)
        shell.run_line_magic("load_ext", "mlvc_jupyter")
        print(" ".join(sorted(set(sys.modules) - before)))
        """
    )
    new = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "mlvc_jupyter.magics" in new  # the extension did load, in this process
    heavy = ("git", "nbformat", "ipywidgets", "jupyter_server", "tornado", "numpy")
    assert [m for m in new if m.split(".")[0] in heavy] == []
    assert "mlvc_jupyter.core.manager" not in new


# -- the repository -----------------------------------------------------------------------------


def test_init_and_status(shell: InteractiveShell, git_repo: GitRepo, tmp_path: Path) -> None:
    assert displayed(shell, "%vc_init")[0] == [
        f"Recording experiments of {git_repo.path} under refs/mlvc/."
    ]
    assert manager(shell).root == git_repo.path

    status = run(shell, "%vc_status")
    assert isinstance(status, StatusView)
    assert (status.branch, status.active, status.is_dirty) == ("main", None, False)

    fresh = tmp_path / "plain folder"
    fresh.mkdir()
    assert displayed(shell, f'%vc_init "{fresh}"')[0] == [
        f"Created a git repository in {fresh} (branch main, ML .gitignore). "
        f"Recording experiments of {fresh} under refs/mlvc/."
    ]
    assert manager(shell).root == fresh
    assert (fresh / ".git").is_dir()
    assert (fresh / ".gitignore").is_file()


# -- recording ----------------------------------------------------------------------------------


def test_start_commit_end_records_and_leaves_head_and_index_alone(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    git_repo.write({"notes.txt": "staged\n"})
    git_repo.git("add", "notes.txt")
    before = git_repo.fingerprint()
    index_bytes = (git_repo.path / ".git" / "index").read_bytes()

    run(shell, "cfg = {'lr': 0.1, 'optimizer': {'name': 'sgd'}}")
    run(shell, '%vc_start lr-0.1 --config cfg --seed 0 --name "first run"')
    assert run(shell, "import random; random.random()") == random.Random(0).random()
    run(shell, "epoch = 3")
    run(shell, '%vc_commit -m "epoch {epoch}"')
    run(shell, "results = {'accuracy': 0.93}")
    run(shell, "%vc_end --metrics results --tag v1")

    history = manager(shell).history("lr-0.1")
    assert [c.message for c in history] == ["started", "epoch 3", "ended: success"]
    assert git_repo.git("tag", "--list") == "v1\n"
    record = manager(shell).show("lr-0.1")
    assert (record.summary.name, record.summary.status) == ("first run", "success")
    assert record.summary.metrics == {"accuracy": 0.93}
    assert record.summary.extra["seed"] == 0
    assert record.configs == {"lr": 0.1, "optimizer": {"name": "sgd"}}
    assert {"random", "numpy"} <= set(record.details["seeded"])
    counts = [e["count"] for e in record.details["execution"]]
    assert counts == sorted(counts)
    assert record.details["execution"][-1]["source"] == "%vc_end --metrics results --tag v1"
    assert git_repo.fingerprint() == before
    assert (git_repo.path / ".git" / "index").read_bytes() == index_bytes


@pytest.mark.parametrize(
    ("line", "expected"),
    [("%vc_start ../evil", "Invalid experiment id '../evil': it must start with a letter"),
     ("%vc_start ../evil --seed 1 --track local --config cfg",
      "Invalid experiment id '../evil': it must start with a letter"),
     ("%vc_start -", "Invalid experiment id '-': it must start with a letter"),
     ("%vc_start --seed 1", "the following arguments are required: EXP_ID")],
    ids=["plain", "with-options", "dash", "missing"],
)  # fmt: skip
def test_an_invalid_id_is_a_usage_error_and_records_nothing(
    shell: InteractiveShell, git_repo: GitRepo, line: str, expected: str
) -> None:
    run(shell, "cfg = {}")
    before = git_repo.fingerprint()
    message = usage_error(shell, line)
    assert message.startswith(expected)
    assert mlvc_refs(git_repo) == []
    assert git_repo.fingerprint() == before
    assert _magics(shell).session.active is None


@pytest.mark.parametrize("line", ["%vc_commit -m x", "%vc_end"], ids=["commit", "end"])
def test_recording_without_an_active_experiment_says_what_to_run(
    shell: InteractiveShell, line: str
) -> None:
    message = usage_error(shell, line)
    assert "No experiment is active" in message
    assert "Run `%vc_start EXP_ID` first" in message


@pytest.mark.parametrize(
    ("setup", "line", "name"),
    [
        ("", "%vc_start a --config nope", "nope"),
        ("", "%vc_start a --config cfg.missing", "cfg.missing"),
        ("%vc_start a", "%vc_commit --config nope", "nope"),
        ("%vc_start a", "%vc_end --metrics nope", "nope"),
        ("", "%vc_snapshot --config nope", "nope"),
    ],
    ids=["start-config", "dotted-attribute", "commit-config", "end-metrics", "snapshot-config"],
)
def test_a_missing_variable_is_a_clear_usage_error(
    shell: InteractiveShell, git_repo: GitRepo, setup: str, line: str, name: str
) -> None:
    run(shell, "cfg = {'lr': 0.1}")
    if setup:
        run(shell, setup)
    refs = mlvc_refs(git_repo)
    message = usage_error(shell, line)
    assert f"No variable '{name}' in the notebook" in message
    assert "Define it in a cell above" in message
    assert mlvc_refs(git_repo) == refs
    if setup:
        assert [c.seq for c in manager(shell).history("a")] == [1]


def test_end_metrics_must_be_a_dict(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    run(shell, "results = [0.9]")
    assert "--metrics results is a list, not a dict" in usage_error(
        shell, "%vc_end --metrics results"
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('"epoch {epoch}"', "epoch 7"),
        ("\"lr={cfg['lr']}\"", "lr=0.1"),
        ('"{epoch + 1} of $total"', "8 of 10"),
        ('"cost $$5"', "cost $5"),
        ('"{undefined} {epoch}"', "{undefined} {epoch}"),
        ('"{{literal}}"', "{literal}"),
        ("'single quotes'", "single quotes"),
        ('"loss {loss:.3f} at {epoch:03d}"', "loss 0.123 at 007"),
        ('"{round(loss, 4)}"', "0.1235"),
        ('"{name[1:3]} {name!r:>9}"', "bc  'abcdef'"),
        ('"{{loss:.3f}} costs $$5, {loss:.1%}"', "{loss:.3f} costs $5, 12.3%"),
        ('"{loss:.3q}"', "{loss:.3q}"),
    ],
    ids=["brace", "expression", "dollar", "double-dollar", "undefined", "escaped-braces", "quotes",
         "format-specs", "call", "slice-and-conversion", "escapes-with-specs", "bad-spec"],
)  # fmt: skip
def test_message_expansion(shell: InteractiveShell, message: str, expected: str) -> None:
    run(shell, "epoch = 7; total = 10; cfg = {'lr': 0.1}; loss = 0.123456; name = 'abcdef'")
    run(shell, "%vc_start a")
    run(shell, f"%vc_commit -m {message}")
    assert manager(shell).history("a")[-1].message == expected


def test_expansion_with_format_specs_reads_a_function_s_locals(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a\nloss = 9.0")
    run(shell, "def step(loss):\n    %vc_commit -m 'loss {loss:.2f}'\nstep(0.5)")
    assert manager(shell).history("a")[-1].message == "loss 0.50"


def test_expansion_inside_a_loop_and_unbalanced_quotes(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    run(shell, "for epoch in range(2):\n    %vc_commit -m 'epoch {epoch}'")
    assert [c.message for c in manager(shell).history("a")][1:] == ["epoch 0", "epoch 1"]
    assert "Close the quotes" in usage_error(shell, '%vc_commit -m "oops')


def test_starting_while_another_is_active_is_refused(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    assert "Experiment 'a' is still active" in usage_error(shell, "%vc_start b")
    assert "End it first with `%vc_end`" in usage_error(shell, "%vc_init")
    run(shell, "%vc_end")
    run(shell, "%vc_start b")


def test_an_existing_experiment_needs_resume(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    run(shell, "%vc_end")
    assert "%vc_start a --resume" in usage_error(shell, "%vc_start a")
    run(shell, "%vc_start a --resume")
    assert manager(shell).history("a")[-1].message == "resumed"


def test_track_puts_a_tracker_in_the_namespace_and_end_uses_its_metrics(
    shell: InteractiveShell,
) -> None:
    run(shell, "%vc_start t --track local")
    run(shell, "for i in range(3):\n    tracker.log_metrics({'loss': 1 / (i + 1)}, step=i)")
    run(shell, "%vc_commit -m flushed")
    run(shell, "%vc_end")
    ended = manager(shell).history("t")[-1]
    assert ended.metrics == {"loss": pytest.approx(1 / 3)}
    (blob,) = manager(shell).repo.read_blobs([f"{ended.commit}:.mlvc/metrics.jsonl"])
    assert blob is not None
    assert [json.loads(line)["step"] for line in blob.splitlines()] == [0, 1, 2]
    assert "Unknown tracking backend 'nosuch'" in usage_error(shell, "%vc_start u --track nosuch")
    assert manager(shell).log()[0].id == "t"  # nothing recorded for u


def test_branch_option_keeps_a_branch_at_the_newest_checkpoint(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    run(shell, "%vc_start b1 --branch")
    run(shell, "%vc_end")
    ended = manager(shell).summary("b1")
    assert git_repo.git("rev-parse", "mlvc/b1").strip() == ended.commit
    assert git_repo.git("branch", "--show-current").strip() == "main"


# -- background checkpoints ---------------------------------------------------------------------


def test_async_commits_coalesce_and_end_waits_for_them(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    queued = run(shell, "for i in range(30):\n    %vc_commit -m 'step {i}' --async\n'done'")
    assert queued == "done"
    assert displayed(shell, "%vc_commit -m last --async")[0] == ["Queued a checkpoint of a: last"]
    run(shell, "%vc_end")

    history = manager(shell).history("a")
    assert history[-1].message == "ended: success"
    absorbed = MESSAGE_SEPARATOR.join(c.message for c in history[1:-1]).split(MESSAGE_SEPARATOR)
    assert absorbed == [f"step {i}" for i in range(30)] + ["last"]
    assert len(history) < 31
    assert worker_for(manager(shell)).pending == 0


def test_a_background_failure_surfaces_at_end(shell: InteractiveShell, git_repo: GitRepo) -> None:
    run(shell, "%vc_start a")
    git_repo.git("update-ref", "-d", "refs/mlvc/experiments/a")  # deleted behind our back
    run(shell, "%vc_commit -m lost --async")
    assert "A background checkpoint of 'a' failed" in usage_error(shell, "%vc_end")


def test_unload_waits_for_the_queue(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    run(shell, "%vc_commit -m queued --async")
    worker = worker_for(manager(shell))
    shell.run_line_magic("unload_ext", "mlvc_jupyter")
    try:
        assert worker.pending == 0
        assert manager(shell).history("a")[-1].message == "queued"
    finally:
        shell.run_line_magic("load_ext", "mlvc_jupyter")


# -- the cell magic -----------------------------------------------------------------------------


def test_cell_magic_runs_the_cell_as_an_experiment(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    run(shell, "cfg = {'lr': 0.5}")
    shown, printed = displayed(
        shell,
        """\
        %%vc_experiment cell-1 --config cfg --metrics results --tag cell-v1 -n "in a cell"
        print("training with", cfg["lr"])
        results = {"accuracy": 0.8}
        """,
    )
    assert printed == "training with 0.5\n"
    assert shown[0].startswith("Recorded cell-1 #2 (success): ended: success")
    summary = manager(shell).summary("cell-1")
    assert (summary.status, summary.metrics) == ("success", {"accuracy": 0.8})
    assert (summary.name, summary.tags, summary.checkpoints) == ("in a cell", ["cell-v1"], 2)
    assert _magics(shell).session.active is None


def test_cell_magic_records_a_failure_and_stops(shell: InteractiveShell) -> None:
    message = usage_error(
        shell,
        """\
        %%vc_experiment boom
        x = 1
        raise ValueError("bad learning rate")
        """,
    )
    assert "Experiment 'boom' failed: ValueError: bad learning rate" in message
    record = manager(shell).show("boom")
    assert record.summary.status == "failed"
    assert record.details["error"]["type"] == "ValueError"
    assert record.details["error"]["message"] == "bad learning rate"
    assert any("bad learning rate" in line for line in record.details["error"]["traceback"])
    assert "No experiment is active" in usage_error(shell, "%vc_commit")


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "line", "shown"),
    [(0, "%vc_log", 0), (1, "%vc_log", 1), (22, "%vc_log", 20), (22, "%vc_log --limit 3", 3),
     (22, "%vc_log -n 3", 3), (22, "%vc_log --all", 22)],
    ids=["none", "one", "default-20", "limit", "n", "all"],
)  # fmt: skip
def test_log_lists_the_most_recent(
    shell: InteractiveShell, count: int, line: str, shown: int
) -> None:
    for i in range(count):
        manager(shell).start(f"e{i:02d}")
    view = run(shell, line)
    assert isinstance(view, ExperimentListView)
    assert (len(view), view.total) == (shown, count)
    assert [s.id for s in view] == [f"e{i:02d}" for i in reversed(range(count))][:shown]


def test_show_and_diff(shell: InteractiveShell) -> None:
    run(shell, "a = {'lr': 0.1}; b = {'lr': 0.01}")
    for exp, var, acc in (("lr-0.1", "a", 0.9), ("lr-0.01", "b", 0.8)):
        run(shell, f"%vc_start {exp} --config {var}")
        run(shell, f"m = {{'acc': {acc}}}")
        run(shell, "%vc_end --metrics m")

    shown = run(shell, "%vc_show lr-0.1")
    assert isinstance(shown, RecordView)
    assert (shown.summary.id, shown.configs) == ("lr-0.1", {"lr": 0.1})
    diff = run(shell, "%vc_diff lr-0.1 lr-0.01")
    assert isinstance(diff, DiffView)
    assert diff.params_changed == {"lr": (0.1, 0.01)}
    assert diff.metrics["acc"]["delta"] == pytest.approx(-0.1)
    assert "Experiment 'nope' does not exist" in usage_error(shell, "%vc_show nope")


@pytest.mark.parametrize(
    ("line", "argv"),
    [("%vc_log", ["log"]), ("%vc_log --limit 1", ["log", "--limit", "1"]),
     ("%vc_log -n 1", ["log", "-n", "1"]),
     ("%vc_show lr-0.1", ["show", "lr-0.1"]),
     ("%vc_diff lr-0.1 lr-0.01", ["diff", "lr-0.1", "lr-0.01"])],
    ids=["log", "log-limit", "log-n", "show", "diff"],
)  # fmt: skip
def test_plain_text_is_what_the_cli_prints(
    shell: InteractiveShell, line: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for exp, lr, acc in (("lr-0.1", 0.1, 0.9), ("lr-0.01", 0.01, 0.8)):
        manager(shell).start(exp, configs={"lr": lr, "model": {"depth": 2}})
        manager(shell).end(exp, metrics={"acc": acc})
    text = repr(run(shell, line))
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().out == text + "\n"


def test_notebook_order_is_recorded(shell: InteractiveShell, git_repo: GitRepo) -> None:
    cells = ["x = 1", "y = x + 1", "%vc_start nb", "%vc_end"]
    notebook = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                   "execution_count": None} for s in cells],
    }  # fmt: skip
    git_repo.write({"analysis.ipynb": notebook})
    shell.user_ns["__vsc_ipynb_file__"] = str(git_repo.path / "analysis.ipynb")
    for source in ["x = 1", "y = x + 1", "%vc_start nb"]:
        run(shell, source)
    first = manager(shell).show("nb").details
    run(shell, "x = 1")  # re-run an earlier cell: the state no longer matches the notebook
    run(shell, "%vc_end")
    last = manager(shell).show("nb")

    assert (first["notebook"], first["out_of_order"]) == ("analysis.ipynb", False)
    assert [e["cell"] for e in first["execution"][-3:]] == [0, 1, 2]
    assert last.details["out_of_order"] is True
    assert last.summary.extra["notebook"] == "analysis.ipynb"


def _save_notebook(repo: GitRepo, shell: InteractiveShell, cells: list[str]) -> None:
    notebook = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                   "execution_count": None} for s in cells],
    }  # fmt: skip
    repo.write({"analysis.ipynb": notebook})
    shell.user_ns["__vsc_ipynb_file__"] = str(repo.path / "analysis.ipynb")


def test_an_unsaved_notebook_is_recorded_without_a_warning(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    _save_notebook(git_repo, shell, ["x = 1", "%vc_start nb"])
    run(shell, "x = 1")
    run(shell, "y = 2  # a new cell, not saved yet")
    shown, _ = displayed(shell, "%vc_start nb")
    details = manager(shell).show("nb").details
    assert (details["unmatched_inputs"], details["out_of_order"]) == (1, False)
    assert len(shown) == 1  # the checkpoint, no warning
    assert "save the notebook" not in repr(run(shell, "%vc_show nb"))


def test_out_of_order_execution_is_warned_about_once(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    _save_notebook(git_repo, shell, ["x = 1", "%vc_start nb", "%vc_commit -m a"])
    run(shell, "x = 1")
    run(shell, "%vc_start nb")
    run(shell, "x = 1")  # re-run: Restart and Run All would not rebuild this state
    first, _ = displayed(shell, "%vc_commit -m a")
    second, _ = displayed(shell, "%vc_commit -m a")
    assert len(first) == 2
    assert first[1].startswith("Cells of analysis.ipynb ran out of order")
    assert len(second) == 1
    assert manager(shell).show("nb").details["out_of_order"] is True


def test_status_after_a_kernel_restart_names_what_is_still_running(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    _save_notebook(git_repo, shell, ["%vc_start lr-0.1 --track local"])
    manager(shell).start("other", details={"notebook": "other.ipynb"})
    run(shell, "%vc_start lr-0.1 --track local")
    run(shell, "tracker.log_metrics({'loss': 0.5}, step=0)\n%vc_commit -m before")
    _magics(shell).reset()  # a kernel restart: the session is gone, the notebook stays

    status = run(shell, "%vc_status")
    assert status.active is None
    assert [s.id for s in status.running] == ["lr-0.1"]
    text = " ".join(repr(status).split())
    assert "still running lr-0.1 (#2, from analysis.ipynb)" in text
    assert "`%vc_start lr-0.1 --resume` continues it here, then `%vc_end` ends it" in text
    assert "other" not in text

    run(shell, "%vc_start lr-0.1 --resume --track local")
    run(shell, "tracker.log_metrics({'loss': 0.25}, step=1)")
    run(shell, "%vc_end")
    summary = manager(shell).summary("lr-0.1")
    assert (summary.status, summary.metrics) == ("success", {"loss": 0.25})
    assert run(shell, "%vc_status").running == []


# -- labels, configs, reproduction --------------------------------------------------------------


def test_tag_and_branch(shell: InteractiveShell, git_repo: GitRepo) -> None:
    for exp in ("a", "b"):
        run(shell, f"%vc_start {exp}")
        run(shell, "%vc_end")
    run(shell, "%vc_tag a best")
    assert manager(shell).summary("a").tags == ["best"]
    assert "Tag 'best' already exists" in usage_error(shell, "%vc_tag b best")
    run(shell, "%vc_tag b best --force")
    assert manager(shell).summary("b").tags == ["best"]

    run(shell, "%vc_branch a")
    assert git_repo.git("rev-parse", "mlvc/a").strip() == manager(shell).summary("a").commit
    assert git_repo.git("branch", "--show-current").strip() == "main"


def test_every_action_magic_of_a_cell_shows_its_result_once(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    run(shell, "%vc_end")
    shown, printed = displayed(shell, "%vc_tag a best\n%vc_branch a")
    assert shown == ["Tagged a as best.", "Created branch mlvc/a at a."]
    assert printed == ""  # not shown a second time as the cell's Out


def test_restore_inside_a_cell_shows_its_safety_ref(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    git_repo.write({"configs/model.yaml": "lr: 0.1\n"})
    snapshot = manager(shell).save_configs({})
    git_repo.write({"configs/model.yaml": "lr: 99\n"})
    shown, _ = displayed(shell, f'x = 1\n%vc_restore "{snapshot}"\ny = 2')
    (text,) = shown
    (safety,) = set(re.findall(r"refs/mlvc/safety/[\w.]+", text))
    assert git_repo.git("show", f"{safety}:configs/model.yaml") == "lr: 99\n"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("%vc_start a", "Recorded a #1 (running): started"),
     ("%vc_start a\n%vc_commit -m one", "Recorded a #2 (running): one"),
     ("%vc_start a\nx = 1\n%vc_end", "Recorded a #2 (success): ended: success"),
     ("cfg = {}\n%vc_snapshot --config cfg", "Config snapshot saved to")],
    ids=["start", "commit", "end", "snapshot"],
)  # fmt: skip
def test_action_magics_display_and_return_nothing(
    shell: InteractiveShell, cell: str, expected: str
) -> None:
    shown, printed = displayed(shell, cell)
    assert shown[-1].startswith(expected)
    assert printed == ""  # no Out value


def test_commits_of_one_cell_share_one_output(shell: InteractiveShell) -> None:
    run(shell, "%vc_start a")
    for flag in ("", " --async"):
        with capture_output(display=True) as captured:
            run(shell, f"for i in range(3):\n    %vc_commit -m 'step {{i}}'{flag}")
        first, *updates = captured.outputs
        assert not first.update
        assert [o.update for o in updates] == [True, True]
        assert "step 2" in updates[-1].data["text/plain"]


def test_snapshot_and_restore_configs(shell: InteractiveShell, git_repo: GitRepo) -> None:
    git_repo.write({"configs/model.yaml": "lr: 0.1\n"})
    git_repo.commit("config")
    run(shell, "cfg = {'lr': 0.1}")
    (shown,), _ = displayed(shell, "%vc_snapshot --config cfg")
    snapshot = Path(shown.removeprefix("Config snapshot saved to ").removesuffix("."))
    assert json.loads(snapshot.read_text())["configs"] == {"lr": 0.1}

    (git_repo.path / "configs/model.yaml").write_text("lr: 99\n")
    (restored,), _ = displayed(shell, f'%vc_restore "{snapshot}"')
    assert (git_repo.path / "configs/model.yaml").read_text() == "lr: 0.1\n"
    (safety,) = set(re.findall(r"refs/mlvc/safety/[\w.]+", restored))
    assert git_repo.git("show", f"{safety}:configs/model.yaml") == "lr: 99\n"

    run(shell, "%vc_start cfg-run")
    run(shell, "%vc_end")
    (git_repo.path / "configs/model.yaml").write_text("lr: 7\n")
    run(shell, "%vc_restore cfg-run")
    assert (git_repo.path / "configs/model.yaml").read_text() == "lr: 0.1\n"


def test_restoring_configs_that_lived_in_a_variable_says_so_and_how_to_load_them(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    run(shell, "cfg = {'lr': 0.01}")
    run(shell, "%vc_start lr-0.01 --config cfg")
    run(shell, "%vc_end")
    run(shell, "del cfg")
    before = git_repo.fingerprint()

    (text,), _ = displayed(shell, "%vc_restore lr-0.01")

    assert text.startswith("Experiment lr-0.01 has no config files: nothing on disk changed.")
    assert "Restored" not in text
    assert git_repo.fingerprint() == before
    load, pick = re.findall(r"`([^`]+)`", text)
    run(shell, load)
    run(shell, pick)
    assert shell.user_ns["cfg"] == {"lr": 0.01}


def test_restore_names_every_file_it_wrote(shell: InteractiveShell, git_repo: GitRepo) -> None:
    git_repo.write({"configs/a.yaml": "a: 1\n", "model_config.json": "{}"})
    run(shell, "%vc_start two")
    run(shell, "%vc_end")
    (text,), _ = displayed(shell, "%vc_restore two")
    assert text.startswith(
        "Restored 2 config files of experiment two: configs/a.yaml, model_config.json. "
        "Your previous files are kept in refs/mlvc/safety/"
    )


def test_reproduce_checks_out_the_experiment_elsewhere(
    shell: InteractiveShell, git_repo: GitRepo, tmp_path: Path
) -> None:
    before = git_repo.fingerprint()
    run(shell, "%vc_start r")
    run(shell, "%vc_end")
    target = tmp_path / "reproduced"
    (shown,) = displayed(shell, f'%vc_reproduce r --dir "{target}"')[0]
    commit = manager(shell).summary("r").commit
    assert shown.startswith(f"Checked out r @ {commit[:8]} in {target}")
    assert "Drift: none" in shown
    assert (target / "train.py").read_text() == "print('train')\n"
    assert git_repo.fingerprint() == before
    outside_git = usage_error(shell, f'%vc_reproduce r --dir "{git_repo.path / ".git" / "x"}"')
    assert ".git" in outside_git


def test_log_takes_the_query_options_of_the_cli(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """%vc_log and `mlvc log` share one option table and print the same page."""
    for exp, acc in (("lr-a", 0.7), ("lr-b", 0.9), ("other", 0.8)):
        manager(shell).start(exp, message=f"tuning {exp}")
        manager(shell).end(exp, metrics={"acc": acc})
    view = run(shell, "%vc_log --search LR --status success --sort -metrics.acc -n 1")
    assert [s.id for s in view] == ["lr-b"]
    assert view.total == 2
    assert repr(view).endswith("showing 1–1 of 2 (--offset 1 for more)")
    assert [s.id for s in run(shell, "%vc_log --search lr --sort -metrics.acc --offset 1")] == [
        "lr-a"
    ]
    capsys.readouterr()  # the shell's own Out[] lines
    assert main(["-C", str(manager(shell).root), "log", "--search", "LR", "--status", "success",
                 "--sort", "-metrics.acc", "-n", "1"]) == 0  # fmt: skip
    assert capsys.readouterr().out.strip() == repr(view).strip()


def test_start_outside_a_repository_refuses_and_names_vc_init(
    shell: InteractiveShell, git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only %vc_init PATH creates a repository; %vc_start elsewhere says to use it."""
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    _magics(shell).reset()
    message = usage_error(shell, "%vc_start e1")
    assert "is not inside a git working tree" in message
    assert f"%vc_init {plain}" in message
    assert not (plain / ".git").exists()
    assert list(plain.iterdir()) == []
    monkeypatch.chdir(git_repo.path)  # the fixture's teardown opens the current folder


def test_a_rerun_records_the_linked_run_with_the_recorded_seed(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `reproduce --run` gives the child: its start of the original id is redirected."""
    run(shell, "%vc_start orig --entry 'python train.py'")
    run(shell, "%vc_end")
    monkeypatch.setenv("MLVC_REPRODUCES", "orig")
    monkeypatch.setenv("MLVC_REPRODUCTION_ID", "orig-repro1")
    monkeypatch.setenv("MLVC_SEED", "7")
    run(shell, "%vc_start orig")
    assert run(shell, "import random; random.random()") == random.Random(7).random()
    run(shell, "%vc_end")
    linked = manager(shell).summary("orig-repro1")
    assert (linked.extra["reproduces"], linked.extra["seed"]) == ("orig", 7)
    assert manager(shell).summary("orig").extra == {"entry": "python train.py"}
    assert displayed(shell, "%vc_reproduce orig")[0] == ["Skipped: this notebook is being "
                                                          "re-run to reproduce orig."]  # fmt: skip
