"""``%vc_reproduce --inplace`` and ``%vc_undo`` in a real IPython shell."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from tests.conftest import GitRepo
from tests.integration.test_magics import (  # noqa: F401  # fixtures
    displayed,
    ipython,
    run,
    shell,
    usage_error,
)


def test_inplace_and_undo_from_a_notebook(shell: InteractiveShell, git_repo: GitRepo) -> None:  # noqa: F811  # fixture
    run(shell, "%vc_start exp1")
    run(shell, "%vc_end")
    (git_repo.path / "train.py").write_bytes(b"print('my edit')\n\x00\xff")
    (git_repo.path / "scratch.txt").write_text("untracked\n")

    texts, _ = displayed(shell, "%vc_reproduce exp1 --inplace")

    assert "`%vc_undo`" in texts[-1]
    assert "refs/mlvc/safety/" in texts[-1]
    assert (git_repo.path / "train.py").read_text() == "print('train')\n"

    texts, _ = displayed(shell, "%vc_undo")

    assert "Undid the in-place restore of exp1: 1 file(s) written back" in texts[-1]
    assert (git_repo.path / "train.py").read_bytes() == b"print('my edit')\n\x00\xff"
    assert (git_repo.path / "scratch.txt").read_text() == "untracked\n"
    assert "Nothing to undo" in usage_error(shell, "%vc_undo")
