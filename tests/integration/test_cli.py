"""The `mlvc` command line: every verb over a real repository, errors, JSON, strip and the filter.

Most tests run `main([...])` in process with capsys; a few run `python -m mlvc_jupyter` in a
subprocess to check what a shell sees (exit status, stderr without a traceback, piped bytes).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlvc_jupyter.cli import build_parser, main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.notebooks.strip import strip_bytes
from tests.conftest import GitRepo, git

VERBS = [
    "init", "status", "start", "commit", "end", "log", "show", "diff", "tag", "branch",
    "reproduce", "restore", "strip", "filter", "demo",
]  # fmt: skip


def mlvc(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    """Run `mlvc -C repo args...` in process; return (exit status, stdout, stderr)."""
    code = main(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def notebook(*, outputs: bool = True, tags: list[str] | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": 3 if outputs else None,
        "id": "c1",
        "metadata": {"tags": tags} if tags else {},
        "outputs": [{"name": "stdout", "output_type": "stream", "text": "hi\n"}] if outputs else [],
        "source": "print('hi')",
    }
    return {
        "cells": [cell],
        "metadata": {"kernelspec": {"display_name": "Python 3", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def recorded(git_repo: GitRepo) -> GitRepo:
    """A repository with two ended experiments that differ in lr, metrics and one file."""
    manager = ExperimentManager(git_repo.path)
    manager.start("lr-0.1", configs={"lr": 0.1, "model": {"depth": 2}})
    manager.end("lr-0.1", metrics={"loss": 0.25, "acc": 0.9})
    git_repo.write({"train.py": "print('tuned')\n"})
    manager.start("lr-0.01", configs={"lr": 0.01, "model": {"depth": 2}, "seed": 1})
    manager.end("lr-0.01", metrics={"loss": 0.5, "acc": 0.8})
    return git_repo


# -- parser ------------------------------------------------------------------------------------


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"    {verb} " in out for verb in VERBS)
    assert "examples:" in out


@pytest.mark.parametrize("verb", VERBS, ids=VERBS)
def test_every_subcommand_has_help_with_examples(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([verb, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mlvc {verb}")
    assert "\nexamples:\n  mlvc " in out


def test_version_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mlvc ")
    assert main([]) == 2
    assert "usage: mlvc" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["bogus"], ["log", "--limit", "0"], ["end", "x", "--status", "meh"], ["tag", "x"],
     ["strip", "a.ipynb", "--stdin"], ["filter", "enable"]],
    ids=["unknown-verb", "limit-zero", "bad-status", "missing-tag", "files-and-stdin",
         "bad-filter-action"],
)  # fmt: skip
def test_invalid_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: mlvc" in capsys.readouterr().err


def test_verbose_is_accepted_after_the_subcommand() -> None:
    args = build_parser().parse_args(["log", "--verbose"])
    assert args.verbose is True
    assert build_parser().parse_args(["log"]).verbose is False


# -- init and status ---------------------------------------------------------------------------


def test_init_creates_a_repository_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = mlvc(capsys, tmp_path, "init", "project")
    assert code == 0
    assert "Initialised a git repository" in out
    assert (tmp_path / "project" / ".git").is_dir()
    assert "*.ckpt" in (tmp_path / "project" / ".gitignore").read_text()
    code, out, _ = mlvc(capsys, tmp_path, "init", "project")
    assert code == 0
    assert "Already in a git repository" in out


def test_status_shows_branch_and_changes(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write({"train.py": "print('edit')\n", "new.txt": "x\n"})
    code, out, _ = mlvc(capsys, git_repo.path, "status")
    assert code == 0
    assert "main @ " in out
    assert "modified    1: train.py" in out
    assert "untracked   1: new.txt" in out
    code, out, _ = mlvc(capsys, git_repo.path, "status", "--json")
    data = json.loads(out)
    assert (data["state"], data["modified"], data["untracked"]) == (
        "modified", ["train.py"], ["new.txt"],
    )  # fmt: skip


def test_status_timings_show_each_phase_of_recent_checkpoints(
    recorded: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mlvc(capsys, recorded.path, "status", "--timings", "--limit", "3")
    assert code == 0
    table = out.split("checkpoint timings (ms), newest first\n", 1)[1].split("\n\n")[0].splitlines()
    assert table[0].split()[:5] == ["WHEN", "EXPERIMENT", "SEQ", "STAGE", "STRIP"]
    assert len(table) == 4  # header + 3 checkpoints, newest first
    assert table[1].split()[2:4] == ["lr-0.01", "2"]
    code, out, _ = mlvc(capsys, recorded.path, "status", "--timings", "--json")
    timings = json.loads(out)["timings"]
    assert {"stage", "write_tree", "commit", "ref_update"} <= timings[-1].keys()


def test_status_timings_without_checkpoints(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mlvc(capsys, git_repo.path, "status", "--timings")
    assert code == 0
    assert "checkpoint timings (ms), newest first\n  (none recorded on this machine yet)" in out


# -- recording -----------------------------------------------------------------------------------


def _write_config(path: Path, kind: str) -> None:
    if kind == "json":
        path.write_text(json.dumps({"lr": 0.1, "model": {"depth": 2}}))
    elif kind == "toml":
        path.write_text("lr = 0.1\n[model]\ndepth = 2\n")
    else:
        pytest.importorskip("yaml", reason="PyYAML is optional; YAML configs need it")
        path.write_text("lr: 0.1\nmodel:\n  depth: 2\n")


@pytest.mark.parametrize("kind", ["json", "toml", "yaml"], ids=["json", "toml", "yaml"])
def test_start_commit_end_record_configs_metrics_and_tag(
    kind: str, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_config(git_repo.path / f"params.{kind}", kind)
    (git_repo.path / "final.json").write_text(json.dumps({"acc": 0.9}))
    before = git_repo.fingerprint()
    code, out, _ = mlvc(capsys, git_repo.path, "start", "e1", "--config", f"params.{kind}",
                        "-m", "baseline", "-n", "first")  # fmt: skip
    assert code == 0
    assert out.startswith("Started e1: checkpoint 1 ")
    code, out, _ = mlvc(capsys, git_repo.path, "commit", "e1", "-m", "epoch 1",
                        "--metrics", "loss=0.5", "acc=0.7")  # fmt: skip
    assert (code, out.startswith("Recorded checkpoint 2 of e1: ")) == (0, True)
    code, out, _ = mlvc(capsys, git_repo.path, "end", "e1", "--metrics", "final.json",
                        "loss=0.1", "--tag", "best")  # fmt: skip
    assert code == 0
    assert "Ended e1 (success): checkpoint 3 " in out
    assert "tagged best" in out
    assert "acc=0.9 loss=0.1" in out
    manager = ExperimentManager(git_repo.path)
    record = manager.show("e1")
    assert record.configs == {"lr": 0.1, "model": {"depth": 2}}
    assert (record.summary.name, record.summary.metrics) == ("first", {"acc": 0.9, "loss": 0.1})
    assert [c.metrics for c in manager.history("e1")][1] == {"loss": 0.5, "acc": 0.7}
    assert git_repo.git("rev-parse", "best^{commit}").strip() == record.summary.commit
    assert git_repo.fingerprint() == before


def test_start_with_branch_and_resume(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mlvc(capsys, git_repo.path, "start", "e1", "--branch")
    assert code == 0
    assert "Branch mlvc/e1 follows its checkpoints." in out
    code, out, _ = mlvc(capsys, git_repo.path, "start", "e1", "--resume")
    assert (code, out.startswith("Resumed e1: checkpoint 2 ")) == (0, True)
    tip = git_repo.git("rev-parse", "refs/mlvc/experiments/e1").strip()
    assert git_repo.git("rev-parse", "mlvc/e1").strip() == tip


@pytest.mark.parametrize(
    ("pair", "value"),
    [("x=0.9", 0.9), ("x=3", 3), ("x=true", True), ("x=abc", "abc"), ('x="1"', "1"),
     ("x=", "")],
    ids=["float", "int", "bool", "bare-text", "quoted-text", "empty"],
)  # fmt: skip
def test_metric_values_are_read_as_json_or_text(
    pair: str, value: object, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mlvc(capsys, git_repo.path, "start", "e1")[0] == 0
    assert mlvc(capsys, git_repo.path, "commit", "e1", "--metrics", pair)[0] == 0
    assert ExperimentManager(git_repo.path).summary("e1").metrics == {"x": value}


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (["--metrics", "bogus"], {}, "neither KEY=VALUE nor a file"),
        (["--metrics", "=1"], {}, "neither KEY=VALUE nor a file"),
        (["--config", "missing.json"], {}, "Cannot read the config file"),
        (["--config", "c.ini"], {"c.ini": "[a]\n"}, "unknown file type '.ini'"),
        (["--config", "c.json"], {"c.json": "[1, 2]"}, "holds a list, not a table"),
        (["--config", "c.json"], {"c.json": "{nope"}, "is not valid JSON"),
        (["--config", "c.toml"], {"c.toml": "a = "}, "is not valid TOML"),
        (["--metrics", "m.json"], {"m.json": "3"}, "holds a int, not a table"),
    ],
    ids=["not-a-pair", "empty-key", "missing-file", "unknown-type", "list", "bad-json",
         "bad-toml", "scalar-metrics"],
)  # fmt: skip
def test_bad_config_or_metrics_exit_1_before_recording(
    args: list[str],
    files: dict[str, str],
    message: str,
    git_repo: GitRepo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    git_repo.write(files)
    assert mlvc(capsys, git_repo.path, "start", "e1")[0] == 0
    code, out, err = mlvc(capsys, git_repo.path, "commit", "e1", *args)
    assert code == 1
    assert message in err
    assert "hint: " in err
    assert "Traceback" not in err
    assert ExperimentManager(git_repo.path).summary("e1").checkpoints == 1


# -- reading -----------------------------------------------------------------------------------


def test_log_table_limit_and_all(recorded: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = mlvc(capsys, recorded.path, "log")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "CKPT", "UPDATED", "METRICS", "TAGS"]
    assert lines[1].startswith("lr-0.01 ")
    assert "acc=0.8 loss=0.5" in lines[1]
    code, out, _ = mlvc(capsys, recorded.path, "log", "--limit", "1")
    assert out.splitlines()[-1] == "showing 1–1 of 2 (--offset 1 for more)"
    code, out, _ = mlvc(capsys, recorded.path, "log", "-n", "1", "--all")
    lines = out.splitlines()
    assert ([line.split()[0] for line in lines[1:3]], lines[-1]) == (
        ["lr-0.01", "lr-0.1"],
        "showing 1–2 of 2",
    )


@pytest.mark.parametrize("count", [0, 1, 3], ids=["none", "one", "many"])
def test_log_json_parses(count: int, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    manager = ExperimentManager(git_repo.path)
    for i in range(count):
        manager.start(f"e{i}")
    code, out, _ = mlvc(capsys, git_repo.path, "log", "--json")
    assert code == 0
    assert sorted(item["id"] for item in json.loads(out)) == [f"e{i}" for i in range(count)]


def test_log_without_experiments(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = mlvc(capsys, git_repo.path, "log")
    assert (code, out.startswith("No experiments yet.")) == (0, True)


def test_show_human_and_json(recorded: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = mlvc(capsys, recorded.path, "show", "lr-0.1")
    assert code == 0
    assert "experiment    lr-0.1" in out
    assert "status        success" in out
    assert "\nmetrics\n  acc   0.9\n  loss  0.25\n" in out
    assert "\nconfigs\n  lr           0.1\n  model.depth  2\n" in out
    code, out, _ = mlvc(capsys, recorded.path, "show", "lr-0.1", "--json")
    data = json.loads(out)
    assert data["summary"]["id"] == "lr-0.1"
    assert data["configs"] == {"lr": 0.1, "model": {"depth": 2}}


def test_diff_human_and_json(recorded: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = mlvc(capsys, recorded.path, "diff", "lr-0.1", "lr-0.01")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert ["lr", "0.1", "0.01"] in rows
    assert ["seed", "1"] in rows
    assert ["loss", "0.25", "0.5", "+0.25"] in rows
    assert ["acc", "0.9", "0.8", "-0.1"] in rows
    assert ["M", "train.py"] in rows
    code, out, _ = mlvc(capsys, recorded.path, "diff", "lr-0.1", "lr-0.01", "--json")
    data = json.loads(out)
    assert data["params_changed"] == {"lr": [0.1, 0.01]}
    assert data["params_added"] == {"seed": 1}
    assert data["files"] == [["M", "train.py"]]


def test_diff_of_an_experiment_with_itself(
    recorded: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mlvc(capsys, recorded.path, "diff", "lr-0.1", "lr-0.1")
    assert code == 0
    assert "params\n  (same)" in out
    assert "files\n  (same)" in out


# -- labels, reproduce, restore ----------------------------------------------------------------


def test_tag_collision_and_force(recorded: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert mlvc(capsys, recorded.path, "tag", "lr-0.1", "best")[0] == 0
    code, _, err = mlvc(capsys, recorded.path, "tag", "lr-0.01", "best")
    assert code == 1
    assert "error: Tag 'best' already exists" in err
    assert "--force" in err
    code, out, _ = mlvc(capsys, recorded.path, "tag", "lr-0.01", "best", "--force")
    assert (code, out) == (0, "Tagged the last checkpoint of lr-0.01 as 'best'.\n")
    tip = recorded.git("rev-parse", "refs/mlvc/experiments/lr-0.01").strip()
    assert recorded.git("rev-parse", "best^{commit}").strip() == tip


def test_end_with_a_taken_tag_records_nothing(
    recorded: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mlvc(capsys, recorded.path, "tag", "lr-0.1", "best")[0] == 0
    assert mlvc(capsys, recorded.path, "start", "e3")[0] == 0
    code, _, err = mlvc(capsys, recorded.path, "end", "e3", "--tag", "best")
    assert code == 1
    assert "nothing was recorded" in err
    assert ExperimentManager(recorded.path).summary("e3").status == "running"


def test_branch(recorded: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = mlvc(capsys, recorded.path, "branch", "lr-0.1")
    assert code == 0
    assert "Branch 'mlvc/lr-0.1'" in out
    tip = recorded.git("rev-parse", "refs/mlvc/experiments/lr-0.1").strip()
    assert recorded.git("rev-parse", "mlvc/lr-0.1").strip() == tip
    assert recorded.git("branch", "--show-current").strip() == "main"


@pytest.mark.parametrize("where", ["default", "dir"], ids=["default-worktree", "dir"])
def test_reproduce(
    where: str, recorded: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = recorded.fingerprint()
    args = ["--dir", str(tmp_path / "repro")] if where == "dir" else []
    code, out, _ = mlvc(capsys, recorded.path, "reproduce", "lr-0.1", *args)
    assert code == 0
    commit = recorded.git("rev-parse", "refs/mlvc/experiments/lr-0.1").strip()
    path = Path(out.splitlines()[0].removeprefix(f"Checked out lr-0.1 @ {commit[:8]} in "))
    assert path == (
        tmp_path / "repro" if where == "dir" else recorded.path / "reproductions/lr-0.1"
    )
    assert (path / "train.py").read_text() == "print('train')\n"
    after = recorded.fingerprint()
    assert {k: v for k, v in after.items() if not k.startswith("reproductions/")} == before


def test_restore_prints_the_safety_ref(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write({"configs/params.json": '{"lr": 0.1}'})
    snapshot = ExperimentManager(git_repo.path).save_configs({"lr": 0.1})
    git_repo.write({"configs/params.json": '{"lr": 0.5}'})
    code, out, _ = mlvc(capsys, git_repo.path, "restore", str(snapshot))
    assert code == 0
    assert (git_repo.path / "configs/params.json").read_text() == '{"lr": 0.1}'
    safety = out.split("saved in ", 1)[1].split()[0]
    assert safety.startswith("refs/mlvc/safety/")
    assert git_repo.git("show", f"{safety}:configs/params.json") == '{"lr": 0.5}'


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["show", "../x"], ["start", "../x"], ["commit", "../x"], ["end", "../x"],
     ["diff", "../x", "y"], ["tag", "../x", "t"]],
    ids=["show", "start", "commit", "end", "diff", "tag"],
)  # fmt: skip
def test_bad_id_exits_1_with_the_message_and_no_traceback(
    args: list[str], git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = mlvc(capsys, git_repo.path, *args)
    assert code == 1
    assert out == ""
    assert err.startswith("error: Invalid experiment id '../x'")
    assert "\nhint: " in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [["show", "nope"], ["commit", "nope"], ["end", "nope"], ["diff", "lr-0.1", "nope"],
     ["tag", "nope", "t"], ["branch", "nope"], ["reproduce", "nope"]],
    ids=["show", "commit", "end", "diff", "tag", "branch", "reproduce"],
)  # fmt: skip
def test_unknown_experiment_exits_1(
    args: list[str], recorded: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = mlvc(capsys, recorded.path, *args)
    assert code == 1
    assert "error: Experiment 'nope' does not exist." in err
    assert "Traceback" not in err


def test_outside_a_repository_exits_1_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = mlvc(capsys, plain, "log")
    assert code == 1
    assert "is not inside a git working tree" in err
    assert "mlvc init" in err
    assert not (plain / ".git").exists()
    code, _, err = mlvc(capsys, tmp_path / "missing", "status")
    assert code == 1
    assert "is not a folder" in err
    assert not (tmp_path / "missing").exists()


def test_verbose_adds_the_traceback_and_git_calls(
    recorded: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = mlvc(capsys, recorded.path, "--verbose", "show", "nope")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "debug: mlvc_jupyter.git: git for-each-ref" in err
    assert err.rstrip().endswith("hint: Run `mlvc log` (or `%vc_log`) to list the experiments.")


# -- strip and the git filter ------------------------------------------------------------------


def _nb_bytes(**kwargs: Any) -> bytes:
    return json.dumps(notebook(**kwargs), indent=1).encode()


@pytest.mark.parametrize("count", [1, 3], ids=["one-file", "many-files"])
def test_strip_files_in_place_only_rewriting_changed_ones(
    count: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirty = [tmp_path / f"n{i}.ipynb" for i in range(count)]
    for path in dirty:
        path.write_bytes(_nb_bytes())
    clean = tmp_path / "clean.ipynb"
    clean.write_bytes(strip_bytes(_nb_bytes(outputs=False)))
    clean_stat = clean.stat()
    code, out, _ = mlvc(capsys, tmp_path, "strip", *(p.name for p in dirty), "clean.ipynb")
    assert code == 0
    assert out.splitlines()[-1] == f"{count} stripped, 1 already clean"
    for path in dirty:
        stripped = json.loads(path.read_text())
        assert stripped["cells"][0]["outputs"] == []
        assert stripped["cells"][0]["execution_count"] is None
    assert clean.stat().st_mtime_ns == clean_stat.st_mtime_ns
    assert clean.stat().st_ino == clean_stat.st_ino
    first = [p.read_bytes() for p in dirty]
    code, out, _ = mlvc(capsys, tmp_path, "strip", *(p.name for p in dirty))
    assert (code, out) == (0, f"0 stripped, {count} already clean\n")
    assert [p.read_bytes() for p in dirty] == first


def test_strip_dry_run_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.ipynb"
    path.write_bytes(_nb_bytes())
    code, out, _ = mlvc(capsys, tmp_path, "strip", "--dry-run", "a.ipynb")
    assert (code, out) == (0, "would strip a.ipynb\n1 would be stripped, 0 already clean\n")
    assert path.read_bytes() == _nb_bytes()


def test_strip_reports_unreadable_files_and_strips_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    (tmp_path / "good.ipynb").write_bytes(_nb_bytes())
    code, out, err = mlvc(capsys, tmp_path, "strip", "bad.ipynb", "missing.ipynb", "good.ipynb")
    assert code == 1
    assert "error: bad.ipynb: The notebook is not valid JSON" in err
    assert "error: missing.ipynb: No such file or directory" in err
    assert out.splitlines()[-1] == "1 stripped, 0 already clean, 2 failed"
    assert (tmp_path / "bad.ipynb").read_text() == "{not json"


@pytest.mark.parametrize("explicit", [True, False], ids=["--stdin", "no-files"])
def test_strip_stdin_to_stdout_is_idempotent(
    explicit: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    def strip(data: bytes) -> bytes:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert main(["-C", str(tmp_path), "strip", *(["--stdin"] if explicit else [])]) == 0
        return capsysbinary.readouterr().out

    once = strip(_nb_bytes(tags=["keep_output"]) + b"\n")
    assert json.loads(once)["cells"][0]["outputs"][0]["text"] == ["hi\n"]  # keep_output kept
    assert json.loads(once)["cells"][0]["execution_count"] is None
    assert strip(once) == once
    assert json.loads(strip(_nb_bytes()))["cells"][0]["outputs"] == []


@pytest.mark.parametrize("inside", [True, False], ids=["repo-settings", "defaults-outside"])
def test_strip_reads_extra_keys_from_the_repository_settings(
    inside: bool, git_repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write({".mlvc.toml": 'strip-extra-keys = ["metadata.kernelspec"]\n'})
    folder = git_repo.path if inside else tmp_path / "outside"
    folder.mkdir(exist_ok=True)
    (folder / "a.ipynb").write_bytes(_nb_bytes())
    assert mlvc(capsys, folder, "strip", "a.ipynb")[0] == 0
    metadata = json.loads((folder / "a.ipynb").read_text())["metadata"]
    assert ("kernelspec" in metadata) is not inside


# -- through a real process ----------------------------------------------------------------------


def run_module(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", *args], input=stdin, capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_subprocess_version_and_json(recorded: GitRepo) -> None:
    proc = run_module("--version")
    assert (proc.returncode, proc.stdout.decode().split()[0]) == (0, "mlvc")
    proc = run_module("-C", str(recorded.path), "log", "--json")
    assert proc.returncode == 0
    assert [item["id"] for item in json.loads(proc.stdout)] == ["lr-0.01", "lr-0.1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["show", "../x"], "error: Invalid experiment id '../x'"),
     (["show", "nope"], "error: Experiment 'nope' does not exist."),
     (["tag", "lr-0.01", "taken"], "error: Tag 'taken' already exists")],
    ids=["bad-id", "unknown", "tag-collision"],
)  # fmt: skip
def test_subprocess_errors_exit_1_without_traceback(
    args: list[str], message: str, recorded: GitRepo
) -> None:
    git(recorded.path, "tag", "taken")
    proc = run_module("-C", str(recorded.path), *args)
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert err.startswith(message)
    assert "Traceback" not in err
    assert proc.stdout == b""


def test_subprocess_usage_error_exits_2() -> None:
    proc = run_module("log", "--limit", "x")
    assert proc.returncode == 2
    assert b"argument -n/--limit: 'x' is not a whole number" in proc.stderr


def test_subprocess_strip_stdin(tmp_path: Path) -> None:
    proc = run_module("-C", str(tmp_path), "strip", "--stdin", stdin=_nb_bytes())
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["cells"][0]["outputs"] == []
    bad = run_module("-C", str(tmp_path), "strip", stdin=b"<<<<<<< HEAD\n")
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("error: The notebook contains git merge conflict")
