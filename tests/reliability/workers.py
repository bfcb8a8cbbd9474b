"""Child processes for the reliability suite: ``python -m tests.reliability.workers CMD ...``.

They use only mlvc's public API, so that they run against whatever core looks like:

- ``commit-loop REPO EXP COUNT ACKS FILE``: write ``FILE``, record a checkpoint of ``EXP``
  (starting it if needed), and append one JSON line per acknowledged checkpoint to ``ACKS``;
  ``COUNT`` 0 loops until killed. Prints ``ready`` once the manager is open.
- ``commit-once REPO EXP``: record one checkpoint; print ``{"commit": ...}`` or
  ``{"error": type, "message", "hint"}`` as JSON.
- ``save-notebook PATH MODE STOP A B``: save notebook ``A`` then ``B`` over ``PATH`` until the
  file ``STOP`` exists, the way Jupyter does (``MODE`` ``jupyter``: copy to ``.~name``, write
  in place, remove the copy) or by atomic rename (``MODE`` ``atomic``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from mlvc_jupyter import ExperimentManager, MlvcError


def commit_loop(repo: str, experiment_id: str, count: str, acks: str, file: str) -> None:
    manager = ExperimentManager(repo, init=False)
    target = Path(repo, file)
    print("ready", flush=True)
    with open(acks, "a", encoding="utf-8") as out:
        i = 0
        while int(count) == 0 or i < int(count):
            content = f"{file} {os.getpid()} {i}\n"
            target.write_text(content)
            start = time.perf_counter()
            checkpoint = manager.start(experiment_id, resume=True, message=f"{file} {i}")
            latency = time.perf_counter() - start
            line = {
                "commit": checkpoint.commit,
                "file": file,
                "content": content,
                "latency": latency,
            }
            out.write(json.dumps(line) + "\n")
            out.flush()
            i += 1


def commit_once(repo: str, experiment_id: str) -> None:
    try:
        checkpoint = ExperimentManager(repo, init=False).start(experiment_id, resume=True)
    except MlvcError as exc:
        result = {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    else:
        result = {"commit": checkpoint.commit}
    print(json.dumps(result), flush=True)


def save_notebook(path: str, mode: str, stop: str, a: str, b: str) -> None:
    contents = [Path(a).read_bytes(), Path(b).read_bytes()]
    target = Path(path)
    saves = 0
    while not os.path.exists(stop):
        data = contents[saves % 2]
        if mode == "jupyter":
            _jupyter_save(target, data)
        else:
            _atomic_save(target, data)
        saves += 1
    print(saves, flush=True)


def _jupyter_save(target: Path, data: bytes) -> None:
    """jupyter_server's atomic_writing: back up to ``.~name``, write in place, drop the copy."""
    backup = target.with_name(f".~{target.name}")
    shutil.copy2(target, backup)
    with open(target, "wb", buffering=0) as f:
        for at in range(0, len(data), 65536):  # a buffered writer flushes in chunks
            f.write(data[at : at + 65536])
        os.fsync(f.fileno())
    backup.unlink()


def _atomic_save(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)


COMMANDS = {"commit-loop": commit_loop, "commit-once": commit_once, "save-notebook": save_notebook}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
