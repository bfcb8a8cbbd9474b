"""The secret guard: before a checkpoint's ref moves, scan what changed for credentials.

What is scanned is what the checkpoint stores that the user's index does not already hold: the
working files ``git add`` stages into the private index, and notebooks freshly stripped (their
cell sources, scanned as one text; outputs are stripped anyway). A file found clean is remembered
by its stat, a stripped notebook by its content's digest, so a later checkpoint in the same
process scans only what changed since. Binary files (a NUL byte in
the first 8 kB) and text files over 1 MiB (data, not credentials) are not scanned; files over
the size limit are not stored at all. detect-secrets is imported on the first scan, so a process
whose checkpoints never have changed files never loads it.

A hit refuses the checkpoint with :class:`SecretFoundError` naming ``file:line`` and the kind of
credential, the value masked; nothing is written to any ref. A file is allowed on purpose by a
glob in the ``allow-secrets`` setting (``.mlvc.toml`` or ``[tool.mlvc]``), a line by an inline
``mlvc: allow-secret`` comment.
"""

from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mlvc_jupyter.core.recording.workfiles import IsSymlinkError, WorkingFiles, display_path
from mlvc_jupyter.errors import SecretFoundError

if TYPE_CHECKING:
    from mlvc_jupyter.core.repo.repository import Repository
    from mlvc_jupyter.core.secrets.scan import Finding

__all__ = ["MAX_SCANNED_BYTES", "SecretGuard", "is_allowed"]

MAX_SCANNED_BYTES = 1 << 20
_BINARY_PROBE = 8192
_SHOWN = 10

_StatKey = tuple[int, int, int, int]


def is_allowed(path: str, globs: Sequence[str]) -> bool:
    """Return True when ``path`` (repo-relative, POSIX) matches an ``allow-secrets`` glob.

    A glob without ``/`` also matches the file's name in any folder (as in ``.gitignore``).
    """
    name = path.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(path, glob) or ("/" not in glob and fnmatch.fnmatchcase(name, glob))
        for glob in globs
    )


class SecretGuard:
    """Scan one repository's checkpoints; remember the files found clean, by their stat."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._clean: dict[str, _StatKey] = {}
        self._clean_notebooks: set[bytes] = set()  # digests of stripped notebooks found clean

    def check(
        self, files: WorkingFiles, paths: Sequence[str], notebooks: Mapping[str, bytes]
    ) -> None:
        """Scan the staged working ``paths`` and the stripped ``notebooks`` ({path: bytes}).

        Raises:
            SecretFoundError: something that looks like a credential, not allowed.
        """
        allowed = self.repo.settings.allow_secrets
        texts = [t for p in paths if not is_allowed(p, allowed) and (t := self._text(files, p))]
        digests = {p: _digest(c) for p, c in notebooks.items() if not is_allowed(p, allowed)}
        cells = {p: notebooks[p] for p, d in digests.items() if d not in self._clean_notebooks}
        if not texts and not cells:
            return
        from mlvc_jupyter.core.secrets.scan import scan_text

        findings: list[Finding] = []
        for path, text, key in texts:
            found = scan_text(display_path(path), text)
            findings += found
            if not found:
                self._clean[path] = key
        for path, content in cells.items():
            found = _scan_notebook(display_path(path), content)
            findings += found
            if not found:
                self._clean_notebooks.add(digests[path])
        if findings:
            raise _refusal(findings)

    def _text(self, files: WorkingFiles, path: str) -> tuple[str, str, _StatKey] | None:
        """Return (path, text, stat key) of a file to scan, or None (clean before, binary,
        too large, gone or not a regular file)."""
        st = files.lstat(path)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SCANNED_BYTES:
            return None
        if self._clean.get(path) == _key(st):
            return None
        try:
            read = files.read(path)
        except IsSymlinkError:
            return None
        if read is None or b"\0" in read.data[:_BINARY_PROBE]:
            return None
        return path, read.data.decode("utf-8", "replace"), _key(read.stat)


def _digest(content: bytes) -> bytes:
    """Identify a stripped notebook's content (restripped but unchanged: scanned once)."""
    return hashlib.blake2b(content, digest_size=16).digest()


def _key(st: os.stat_result) -> _StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def _scan_notebook(path: str, content: bytes) -> list[Finding]:
    """Scan a stripped notebook's cell sources; lines read ``cell N:line``.

    The sources are scanned as one text (one pass of each pattern, not one per cell), each
    cell starting on a line of its own; a finding's line is mapped back to its cell.
    """
    from mlvc_jupyter.core.secrets.scan import scan_text

    try:
        cells = json.loads(content).get("cells") or []
    except (ValueError, AttributeError):  # stored as is (unreadable): scan its text
        return scan_text(path, content.decode("utf-8", "replace"))
    starts, texts, line = [], [], 1
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        text = "".join(source) if isinstance(source, list) else str(source)
        starts.append(line)
        texts.append(text)
        line += text.count("\n") + 1
    findings = []
    for found in scan_text(path, "\n".join(texts)):
        number = bisect.bisect_right(starts, int(found.line))
        within = int(found.line) - starts[number - 1] + 1
        findings.append(dataclasses.replace(found, line=f"cell {number}:{within}"))
    return findings


def _refusal(findings: list[Finding]) -> SecretFoundError:
    shown = [f.describe() for f in findings[:_SHOWN]]
    more = len(findings) - len(shown)
    lines = "\n".join(f"  {line}" for line in shown) + (f"\n  ... and {more} more" if more else "")
    return SecretFoundError(
        f"Checkpoint refused: {len(findings)} possible secret(s) in the changed files; nothing "
        f"was recorded.\n{lines}",
        findings=[f.describe() for f in findings],
        hint="Read credentials from the environment or a file git ignores instead. If a hit is "
        "not a secret, allow it on purpose: add the comment `# mlvc: allow-secret` to its line, "
        'or list the file in `allow-secrets = ["path/or/glob"]` in .mlvc.toml (or [tool.mlvc] '
        "in pyproject.toml).",
    )
