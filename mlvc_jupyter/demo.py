"""``mlvc demo``: mlvc at work in a scratch repository, one small step at a time.

The demo writes a tiny project (a dependency-free training script, a config and a notebook with
outputs), records two experiments through :class:`~mlvc_jupyter.core.manager.ExperimentManager`
while the "model" trains, lists and diffs them, reproduces the first in a worktree, and proves
that the repository's HEAD, index and ``git status`` never changed: every mlvc call runs between
two fingerprints of them. Each step is a small function in :data:`STEPS`, so later steps (opening
JupyterLab on a quickstart notebook) slot in without touching the others. The project's files
live in :mod:`mlvc_jupyter.demo_project`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import runpy
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from mlvc_jupyter.demo_project import (
    PARAMS,
    TRAIN_PY,
    digest,
    explore_notebook,
    file_digests,
)
from mlvc_jupyter.errors import MlvcError

__all__ = ["STEPS", "Demo", "Step", "run_demo"]

FIRST = "exp_lr0.1"
SECOND = "exp_lr0.01"
TAG = "exp_lr0.1-best"
EPOCHS_PER_CHECKPOINT = 10
_T = TypeVar("_T")


@dataclass
class Demo:
    """What the steps share: the scratch repository, the output, and what was measured."""

    root: Path
    out: IO[str]
    manager: Any = None  # ExperimentManager, created by the first step
    baseline: tuple[str, str] | None = None  # (status --porcelain=v2 --branch, index sha256)
    calls: int = 0
    checkpoints: int = 0
    weights: tuple[float, float] = (0.0, 0.0)
    loss: float = 0.0
    expected_files: dict[str, str] = field(default_factory=dict)

    def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> tuple[_T, float]:
        """Run one mlvc call between two fingerprints; return (result, milliseconds).

        Raises:
            MlvcError: the call changed the repository's HEAD, index or status.
        """
        before = self.fingerprint()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = (time.perf_counter() - start) * 1000
        after = self.fingerprint()
        if after != before:
            raise MlvcError(
                f"The demo's call to {fn.__name__} changed the repository's HEAD, index or status.",
                hint="This is a bug in mlvc: please report it with the output above.",
            )
        self.calls += 1
        return result, elapsed

    def fingerprint(self) -> tuple[str, str]:
        """Return the user's HEAD, branch and status, and the sha256 of ``.git/index``."""
        index = hashlib.sha256((self.root / ".git" / "index").read_bytes()).hexdigest()
        return self.git("status", "--porcelain=v2", "--branch", "--untracked-files=all"), index

    def git(self, *args: str) -> str:
        """Run git in the scratch repository as its user would (status never takes a lock)."""
        from mlvc_jupyter.core.repo.runner import Git

        # GIT_OPTIONAL_LOCKS=0: a plain `git status` may rewrite the index it is checking.
        out = Git(self.root).run(*args, env={"GIT_OPTIONAL_LOCKS": "0"})
        return out.decode("utf-8", "replace")

    def write(self, rel: str, content: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    def train(self, params: dict[str, Any], epochs: int) -> None:
        """Run the project's train.py (re-read, so edits apply) from the current weights."""
        train = runpy.run_path(str(self.root / "train.py"))["train"]
        self.weights, self.loss = train(params, weights=self.weights, epochs=epochs)
        w, b = self.weights
        self.write("artifacts/weights.json", json.dumps({"w": w, "b": b}, indent=1) + "\n")


@dataclass(frozen=True)
class Step:
    """One step: a title printed before it runs and a function returning what happened.

    The first line of the returned text ends the step's line; further lines are printed
    indented beneath it.
    """

    title: str
    run: Callable[[Demo], str]


# -- the steps ------------------------------------------------------------------------------------


def create_project(demo: Demo) -> str:
    from mlvc_jupyter.core.manager import ExperimentManager

    demo.write("train.py", TRAIN_PY)
    demo.write("configs/params.json", json.dumps(PARAMS, indent=2) + "\n")
    demo.write("README.md", "# demo\n\nA linear model trained by `python train.py`.\n")
    (demo.root / "notebooks").mkdir()
    (demo.root / "notebooks" / "explore.ipynb").write_text(explore_notebook(), encoding="utf-8")
    demo.manager = ExperimentManager(demo.root, init=True)  # git init -b main, ML .gitignore
    identity = ("-c", "user.name=mlvc demo", "-c", "user.email=demo@mlvc.invalid")
    demo.git("add", "-A")
    demo.git(*identity, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "Start the project")
    # Leave work in progress, as a user would: a staged edit and an untracked file.
    demo.write("README.md", "# demo\n\nA linear model. Train it with `python train.py`.\n")
    demo.git("add", "README.md")
    demo.write("notes.md", "- try a smaller learning rate\n")
    demo.baseline = demo.fingerprint()
    head = demo.git("rev-parse", "--short=8", "HEAD").strip()
    return (
        f"{demo.root}\n"
        f"train.py, configs/params.json and notebooks/explore.ipynb (with outputs) committed\n"
        f"on main @ {head}; a staged edit of README.md and an untracked notes.md are left\n"
        "in place, as work in progress."
    )


def start_first(demo: Demo) -> str:
    checkpoint, ms = demo.call(demo.manager.start, FIRST, configs=PARAMS, message="baseline")
    demo.checkpoints += 1
    return f"commit {checkpoint.commit[:8]} ({ms:.0f} ms)"


def _checkpoint_step(number: int) -> Step:
    edits = number == 2  # the user tweaks the script mid-run; the checkpoint records it

    def run(demo: Demo) -> str:
        if edits:
            source = (demo.root / "train.py").read_text(encoding="utf-8")
            demo.write("train.py", source.replace("LR_DECAY = 1.0", "LR_DECAY = 0.98"))
        demo.train(PARAMS, EPOCHS_PER_CHECKPOINT)  # rewrites artifacts/weights.json
        epoch = number * EPOCHS_PER_CHECKPOINT
        metrics = {"epoch": epoch, "loss": demo.loss}
        checkpoint, ms = demo.call(
            demo.manager.commit, FIRST, message=f"epoch {epoch}", metrics=metrics
        )
        demo.checkpoints += 1
        return f"commit {checkpoint.commit[:8]} ({ms:.0f} ms), loss={demo.loss:.4f}"

    run.__name__ = f"checkpoint_{number}"
    edit = "edit train.py, " if edits else ""
    title = f"{edit}train {EPOCHS_PER_CHECKPOINT} epochs, checkpoint {number}/3"
    return Step(title, run)


def end_first(demo: Demo) -> str:
    w, b = demo.weights
    metrics = {"loss": demo.loss, "w": w, "b": b}
    checkpoint, ms = demo.call(demo.manager.end, FIRST, metrics=metrics, tag=TAG)
    demo.checkpoints += 1
    demo.expected_files = _project_files(demo)
    return f"commit {checkpoint.commit[:8]} ({ms:.0f} ms), tag {TAG}, loss={demo.loss:.4f}"


def run_second(demo: Demo) -> str:
    params = {**PARAMS, "lr": 0.01}
    demo.write("configs/params.json", json.dumps(params, indent=2) + "\n")
    started, ms_start = demo.call(demo.manager.start, SECOND, configs=params)
    demo.weights = (0.0, 0.0)
    demo.train(params, params["epochs"])
    w, b = demo.weights
    ended, ms_end = demo.call(demo.manager.end, SECOND, metrics={"loss": demo.loss, "w": w, "b": b})
    demo.checkpoints += 2
    return (
        f"commits {started.commit[:8]} ({ms_start:.0f} ms), {ended.commit[:8]} "
        f"({ms_end:.0f} ms), loss={demo.loss:.4f}"
    )


def list_experiments(demo: Demo) -> str:
    from mlvc_jupyter.blocks import log_blocks
    from mlvc_jupyter.render import as_text

    summaries, ms = demo.call(demo.manager.log)
    table = as_text(log_blocks(summaries))
    return f"{len(summaries)} experiments ({ms:.0f} ms), as `mlvc log` shows them:\n{table}"


def diff_experiments(demo: Demo) -> str:
    from mlvc_jupyter.blocks import diff_blocks
    from mlvc_jupyter.render import as_text

    diff, ms = demo.call(demo.manager.diff, FIRST, SECOND)
    return f"({ms:.0f} ms), as `mlvc diff {FIRST} {SECOND}` shows it:\n{as_text(diff_blocks(diff))}"


def reproduce_first(demo: Demo) -> str:
    path, ms = demo.call(demo.manager.reproduce, FIRST)
    reproduced = file_digests(path)
    if reproduced != demo.expected_files:
        differ = sorted(set(reproduced.items()) ^ set(demo.expected_files.items()))
        raise MlvcError(
            f"The reproduction of {FIRST} differs from its working tree: {differ}.",
            hint="This is a bug in mlvc: please report it with the output above.",
        )
    shown = path.relative_to(demo.root) if path.is_relative_to(demo.root) else path
    return (
        f"{shown} ({ms:.0f} ms)\n"
        f"its {len(reproduced)} files match the working tree at the end of {FIRST} (train.py\n"
        "with LR_DECAY = 0.98, lr 0.1); the notebook is stored without its outputs, which\n"
        "stay in your copy."
    )


def check_untouched(demo: Demo) -> str:
    status, index = demo.fingerprint()
    base_status, base_index = demo.baseline or ("", "")
    head_line = next(line for line in status.splitlines() if line.startswith("# branch.oid"))
    if index != base_index or head_line not in base_status.splitlines():
        raise MlvcError(
            "The repository's HEAD or index changed during the demo.",
            hint="This is a bug in mlvc: please report it with the output above.",
        )
    return (
        f"unchanged: main @ {head_line.split()[-1][:8]}, .git/index sha256 {index[:12]}\n"
        "git status (the staged edit and the untracked file) was also the same before and\n"
        f"after each of the {demo.calls} mlvc calls."
    )


STEPS: list[Step] = [
    Step("create a project", create_project),
    Step(f"start {FIRST}", start_first),
    *(_checkpoint_step(n) for n in (1, 2, 3)),
    Step(f"end {FIRST} with a tag", end_first),
    Step(f"start and end {SECOND} (lr 0.01)", run_second),
    Step("list experiments", list_experiments),
    Step(f"diff {FIRST} {SECOND}", diff_experiments),
    Step(f"reproduce {FIRST} in a worktree", reproduce_first),
    Step("check your HEAD, index and status", check_untouched),
]


# -- running -----------------------------------------------------------------------------------


def run_demo(
    path: Path | None = None,
    *,
    keep: bool = False,
    lab: bool = False,
    out: IO[str],
    steps: Sequence[Step] = STEPS,
) -> int:
    """Run the demo's steps in ``path`` (a new temporary folder by default); return 0.

    With ``lab``, JupyterLab then starts on the demo repository with the sidebar open (the
    repository is kept) and runs until Ctrl-C.

    Raises:
        MlvcError: ``path`` is a non-empty folder, or a step found mlvc misbehaving.
    """
    keep = keep or lab
    root = _prepare(path)
    demo = Demo(root=root, out=out)
    started = time.perf_counter()
    try:
        for number, step in enumerate(steps, 1):
            print(f"{number:>2}. {step.title} ... ", end="", file=out, flush=True)
            first, _, rest = step.run(demo).partition("\n")
            print(first, file=out)
            if rest:
                print(textwrap.indent(rest, "      "), file=out)
        elapsed = time.perf_counter() - started
        print(
            f"\nDone in {elapsed:.1f} s: 2 experiments, {demo.checkpoints} checkpoints, "
            f"{demo.calls} mlvc calls, your HEAD, index and status untouched.",
            file=out,
        )
        _print_next(root, keep=keep, out=out)
        if lab:
            return run_lab(root, out=out)
        print("\nSee it in JupyterLab, sidebar open: mlvc demo --lab", file=out)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def run_lab(root: Path, *, out: IO[str]) -> int:
    """Start JupyterLab on ``root`` (127.0.0.1, a fresh token), print its URL, stop on Ctrl-C.

    Raises:
        MlvcError: JupyterLab is not installed.
    """
    if importlib.util.find_spec("jupyterlab") is None:
        raise MlvcError(
            "JupyterLab is not installed, so `mlvc demo --lab` cannot start it.",
            hint="pip install 'mlvc-jupyter[jupyter]'",
        )
    token, port = secrets.token_hex(24), _free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--ServerApp.jpserver_extensions={'mlvc_jupyter': True}",
    ]  # fmt: skip
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--ServerApp.allow_root=True")
    url = f"http://127.0.0.1:{port}/lab/tree/notebooks/explore.ipynb?token={token}&mlvc"
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    print(
        f"\nJupyterLab with the mlvc sidebar, on {root}:\n  {url}\nStop it with Ctrl-C.", file=out
    )
    out.flush()
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)  # jupyter asks to confirm a single Ctrl-C
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(f"JupyterLab stopped; the demo repository stays in {root}.", file=out)
        return 0
    error = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
    raise MlvcError(f"JupyterLab exited ({proc.returncode}):\n{error}", hint="See the error above.")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(path: Path | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="mlvc-demo-")).resolve()
    root = path.expanduser().absolute()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise MlvcError(
            f"Cannot run the demo in '{root}': it exists and is not an empty folder.",
            hint="Pass a new or empty folder with --dir, or leave --dir out to use a "
            "temporary one.",
        )
    root.mkdir(parents=True, exist_ok=True)
    return root


def _print_next(root: Path, *, keep: bool, out: IO[str]) -> None:
    if not keep:
        print("The scratch repository was removed; keep it with --keep or --dir.", file=out)
        return
    print(f"\nExplore it:\n  cd {root}", file=out)
    for command in (
        "mlvc log",
        f"mlvc show {FIRST}",
        f"git log --oneline refs/mlvc/experiments/{FIRST}",
        "git status   # your work in progress, as you left it",
    ):
        print(f"  {command}", file=out)


# -- helpers ------------------------------------------------------------------------------------


def _project_files(demo: Demo) -> dict[str, str]:
    """Return {path: sha256} of the files a snapshot holds now (notebooks as stored: stripped)."""
    out = demo.git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return {rel: digest(demo.root / rel) for rel in sorted(filter(None, out.split("\0")))}
