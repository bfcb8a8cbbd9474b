"""The ``.gitignore`` mlvc writes into a folder it turns into a repository, and the ML entries an
existing repository lacks.

An existing ``.gitignore`` belongs to the user: :func:`missing_entries` only reports, and
:func:`add_missing_entries` (``mlvc init --gitignore``) only appends, under a comment saying who
added them. No line of the user's is ever changed or removed, and an entry the user negates
(``!data/``) counts as present: appending ``data/`` after it would undo their choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "ML_GITIGNORE",
    "GitignoreEntries",
    "add_missing_entries",
    "describe",
    "missing_entries",
]

_ADDED_HEADER = "# ML entries added by mlvc-jupyter (`mlvc init --gitignore`)"

ML_GITIGNORE = """\
# ML project .gitignore, written by mlvc-jupyter.
# The usual ML template also ignores *.json, models/, lib/ and lib64/; they are left out here
# because they would hide code and configs that an experiment needs to be reproduced.

# Python
__pycache__/
*.py[cod]
*$py.class
*.so
.Python
build/
develop-eggs/
dist/
downloads/
eggs/
.eggs/
parts/
sdist/
var/
wheels/
*.egg-info/
.installed.cfg
*.egg

# Virtual environments
venv/
env/
ENV/
.venv/
.env/

# Jupyter Notebook
.ipynb_checkpoints

# PyTorch
*.pth
*.pt
*.ckpt

# TensorFlow
*.h5
*.hdf5
*.pb
*.pkl

# Checkpoints and models
checkpoints/
saved_models/
*.model

# Data
data/
datasets/
*.csv
*.parquet

# Logs
logs/
*.log
tensorboard_logs/
wandb/
mlruns/

# IDE
.vscode/
.idea/
*.swp
*.swo
*~

# OS
.DS_Store
Thumbs.db

# Temporary files
tmp/
temp/
*.tmp

# Environment variables
.env
.env.local
.env.production

# Config files with secrets
config/secrets.yaml
config/local.yaml

# Large files
*.zip
*.tar.gz
*.rar

# Profiling outputs
profiles/
*.prof
"""


@dataclass(frozen=True, slots=True)
class GitignoreEntries:
    """The ML entries a repository's ``.gitignore`` lacks, and those just appended."""

    path: str
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Return ``{"path", "missing", "added"}``."""
        return {"path": self.path, "missing": self.missing, "added": self.added}


def ml_entries() -> list[str]:
    """Return the patterns of :data:`ML_GITIGNORE`, in order (comments and blanks left out)."""
    return [line for line in ML_GITIGNORE.splitlines() if line and not line.startswith("#")]


def missing_entries(root: Path) -> GitignoreEntries:
    """Return the ML entries ``root/.gitignore`` lacks (all of them when there is none).

    Raises:
        MlvcError: the file exists but cannot be read.
    """
    path = root / ".gitignore"
    present = {_normal(line.strip().lstrip("!")) for line in _read(path).splitlines()}
    missing = [entry for entry in ml_entries() if _normal(entry) not in present]
    return GitignoreEntries(path=str(path), missing=missing)


def add_missing_entries(root: Path) -> GitignoreEntries:
    """Append the missing ML entries to ``root/.gitignore`` (created if absent); keep every line.

    Raises:
        MlvcError: the file cannot be read or written.
    """
    report = missing_entries(root)
    if not report.missing:
        return report
    path = Path(report.path)
    text = _read(path)
    prefix = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    addition = "\n".join([_ADDED_HEADER, *report.missing]) + "\n"
    try:
        atomic_write(path, (text + prefix + addition).encode("utf-8", "surrogateescape"))
    except OSError as exc:
        raise MlvcError(
            f"Cannot write {path}: {exc.strerror or exc}.",
            hint="Check the file's permissions; nothing was changed.",
        ) from exc
    return GitignoreEntries(path=str(path), missing=[], added=report.missing)


def _normal(line: str) -> str:
    """Return a pattern as git compares it: trailing spaces off, a leading ``/`` dropped."""
    return line.strip().removeprefix("/")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise MlvcError(
            f"Cannot read {path}: {exc.strerror or exc}.",
            hint="Check the file's permissions.",
        ) from exc


def describe(entries: GitignoreEntries, *, shown: int = 8) -> str | None:
    """Return one sentence on what ``mlvc init`` found or did to ``.gitignore`` (None: nothing)."""
    names = entries.added or entries.missing
    if not names:
        return None
    more = len(names) - shown
    listed = ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
    if entries.added:
        return f"Added {len(names)} ML entries to {entries.path}: {listed}."
    return (
        f"{entries.path} lacks {len(names)} of the ML entries: {listed}. "
        "Append them with `mlvc init --gitignore` (`%vc_init --gitignore`); no line of yours "
        "changes."
    )
