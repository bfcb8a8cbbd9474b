"""Reproduce an experiment recorded by mlvc-jupyter from this folder alone.

``mlvc export`` copies this file into its archive as ``reproduce.py``, next to
``experiment.bundle`` (a git bundle of the experiment's commits and all their history),
``experiment.json`` (its record: configs, environment, final metrics), ``metrics.jsonl`` and
``requirements.txt`` (the packages it ran with, pinned). It needs Python, git and those packages:

    python reproduce.py                       # unbundle, materialise, run, print the verdict
    python reproduce.py --install             # first pip-install requirements.txt here
    python reproduce.py --install --dry-run   # show the pip command, install nothing
    python reproduce.py --no-run              # unbundle and materialise only
    python reproduce.py --print-requirements

The repository is unbundled into ``./repository`` (``--dir`` elsewhere), checked out at the
commit the experiment started from; the experiment itself stays on its hidden ref, and
``python -m mlvc_jupyter reproduce <id> --run`` materialises it beside, runs it and compares its
metrics with the recorded ones. Exit status as for ``mlvc reproduce --run``: 0 reproduced,
1 not reproduced, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from importlib import invalidate_caches
from importlib.util import find_spec
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COULD_NOT_RUN = 2
_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_REF = re.compile(r"refs/mlvc/experiments/[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def main(argv: list[str] | None = None) -> int:
    """Run the steps the options ask for; return the exit status."""
    args = _parse(argv)
    try:
        document = json.loads((HERE / "experiment.json").read_text(encoding="utf-8"))
        experiment_id, ref, base = _facts(document)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"cannot read experiment.json next to this script ({exc}).")
    if args.print_requirements:
        print((HERE / "requirements.txt").read_text(encoding="utf-8"), end="")
        return 0
    if args.install:
        if args.dry_run:
            _install_command()
            return 0
        if subprocess.call(_install_command()) != 0:
            return _fail("installing the recorded packages failed (pip's output is above).")
        invalidate_caches()  # so the check below sees what pip just installed
    if shutil.which("git") is None:
        return _fail("git is not installed or not on PATH; install git and retry.")
    if find_spec("mlvc_jupyter") is None:
        return _fail(
            f"mlvc_jupyter is not importable in this Python ({sys.executable}). Run "
            "`python reproduce.py --install` to install the recorded packages, or "
            "`python -m pip install mlvc-jupyter`."
        )
    _warn_python(document)
    repo = Path(args.dir).resolve() if args.dir else HERE / "repository"
    if not _unbundle(repo, ref, base):
        return COULD_NOT_RUN
    command = [sys.executable, "-m", "mlvc_jupyter", "-C", str(repo), "reproduce", experiment_id]
    status = subprocess.call([*command, "--run"] if not args.no_run else command)
    return COULD_NOT_RUN if args.no_run and status != 0 else status


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="pip-install requirements.txt")
    parser.add_argument(
        "--dry-run", action="store_true", help="with --install: print pip's command, run nothing"
    )
    parser.add_argument("--no-run", action="store_true", help="unbundle and materialise only")
    parser.add_argument("--dir", metavar="PATH", help="where to unbundle (default ./repository)")
    parser.add_argument(
        "--print-requirements", action="store_true", help="print the pinned packages and exit"
    )
    return parser.parse_args(argv)


def _facts(document: dict[str, Any]) -> tuple[str, str, str | None]:
    """Return the experiment's id, ref and starting commit, checked before git sees them."""
    git = document["git"]
    experiment_id, ref, base = document["summary"]["id"], git["ref"], git.get("head")
    if not _REF.fullmatch(ref) or ref.rpartition("/")[2] != experiment_id:
        raise ValueError(f"unexpected experiment ref {ref!r}")
    if base is not None and not _OID.fullmatch(base):
        raise ValueError(f"unexpected commit {base!r}")
    return experiment_id, ref, base


def _install_command() -> list[str]:
    """Print and return the pip command that installs requirements.txt here."""
    command = [sys.executable, "-m", "pip", "install", "-r", str(HERE / "requirements.txt")]
    print("$", " ".join(command))
    return command


def _warn_python(document: dict[str, Any]) -> None:
    recorded = str(document.get("environment", {}).get("python_version", ""))
    current = ".".join(map(str, sys.version_info[:3]))
    if recorded and recorded.split(".")[:2] != current.split(".")[:2]:
        print(f"note: the experiment ran on Python {recorded}; this is {current}.")


def _git(*args: str) -> bool:
    proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"error: git {' '.join(args)} failed: {proc.stderr.strip()}", file=sys.stderr)
    return proc.returncode == 0


def _unbundle(repo: Path, ref: str, base: str | None) -> bool:
    """Create (or update) the repository at ``repo`` holding the experiment's ref."""
    fresh = not (repo / ".git").exists()
    if fresh and repo.exists() and any(repo.iterdir()):
        print(f"error: '{repo}' exists and is not empty; pass --dir.", file=sys.stderr)
        return False
    bundle = str(HERE / "experiment.bundle")
    ok = (not fresh or _git("init", "-q", str(repo))) and _git(
        "-C", str(repo), "fetch", "-q", "--end-of-options", bundle, f"+{ref}:{ref}"
    )
    if ok and fresh and base is not None:
        ok = _git("-C", str(repo), "-c", "advice.detachedHead=false", "checkout", "-q", base)
    if ok:
        print(f"Unbundled {ref} into {repo}")
    return ok


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return COULD_NOT_RUN


if __name__ == "__main__":
    sys.exit(main())
