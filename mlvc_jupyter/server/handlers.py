"""The REST API under ``/mlvc/api/``: one small handler per route, listed once in ROUTES.

Every method is ``@tornado.web.authenticated`` (a test checks it), every write is a POST that
jupyter_server's XSRF check guards, reads are GETs that change nothing. A handler parses its
arguments, runs one core call on the workspace's thread pool (git never blocks the event loop)
and answers the record's ``to_dict()``. Errors answer ``{"error": {"type", "message", "hint"}}``
with a 4xx code, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler

from mlvc_jupyter import __version__
from mlvc_jupyter.core.reading.options import MAX_LIMIT, STATUSES
from mlvc_jupyter.core.session import ExperimentSession, active_experiment
from mlvc_jupyter.errors import (
    DirtyWorkingTreeError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    GitOperationError,
    InvalidNameError,
    MlvcError,
    NotARepositoryError,
)
from mlvc_jupyter.server.payloads import API_VERSION, BadRequestError, VersionReply, read_body
from mlvc_jupyter.server.workspace import Job, Workspace

__all__ = ["ROUTES", "MlvcHandler", "status_of"]

_STATUS_CODES: tuple[tuple[type[MlvcError], int], ...] = (
    (ExperimentNotFoundError, 404),
    (NotARepositoryError, 404),
    (InvalidNameError, 400),
    (ExperimentExistsError, 409),
    (DirtyWorkingTreeError, 409),
    (GitOperationError, 500),
)
_COMMON_ARGUMENTS = frozenset({"token", "_xsrf"})
_JOB_ID = re.compile(r"[0-9a-f]{32}")
MAX_COMPARED = 10


def status_of(error: MlvcError) -> int:
    """Return the HTTP status answering ``error``: 4xx for what the request got wrong."""
    if isinstance(error, BadRequestError):
        return error.status
    return next((code for kind, code in _STATUS_CODES if isinstance(error, kind)), 400)


class MlvcHandler(APIHandler):
    """Base of every route: the workspace, argument parsing, off-loop calls, JSON errors."""

    arguments: frozenset[str] = frozenset({"path"})
    """Query arguments the route takes; any other is refused (a typo must not pass)."""

    @property
    def workspace(self) -> Workspace:
        workspace: Workspace = self.settings["mlvc_workspace"]
        return workspace

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return query argument ``name`` (its last value), or ``default``."""
        return self.get_query_argument(name, default)

    def number(self, name: str, default: int, low: int, high: int | None) -> int:
        """Return query argument ``name`` as a whole number from ``low`` to ``high``."""
        raw = self.text(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
            limits = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise BadRequestError(
                f"'{name}={raw}' is not a whole number {limits}.",
                hint=f"Pass e.g. {name}={default}.",
            )
        return int(raw)

    def check_arguments(self) -> None:
        """Refuse query arguments the route does not take."""
        given = {key for key in self.request.query_arguments if not key.isdigit()}
        # A bare number is the cache buster JupyterLab's ServerConnection adds to every GET.
        unknown = sorted(given - self.arguments - _COMMON_ARGUMENTS)
        if unknown:
            raise BadRequestError(
                f"Unknown query argument '{unknown[0]}'.",
                hint=f"This route takes: {', '.join(sorted(self.arguments)) or 'none'}.",
            )

    async def respond(self, work: Callable[[], Any], *, status: int = 200) -> None:
        """Run ``work`` on the pool and answer its JSON, or the error it raised."""
        try:
            self.check_arguments()
            payload = await asyncio.wrap_future(self.workspace.pool.submit(work))
        except MlvcError as exc:
            self.set_status(status_of(exc))
            self.finish(json.dumps({"error": exc.to_dict()}))
            return
        self.set_status(status)
        self.finish(json.dumps(payload))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer any other failure (auth, XSRF, a bug) as JSON, without a traceback."""
        self.set_header("Content-Type", "application/json")
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, tornado.web.HTTPError):
            message = error.log_message or self._reason
            kind = "HTTPError"
        else:
            message, kind = "The mlvc server extension failed; see the server's log.", "ServerError"
        hint = (
            "Reload the page (a new login or XSRF cookie may be needed)."
            if status_code == 403
            else None
        )
        self.finish(json.dumps({"error": {"type": kind, "message": message, "hint": hint}}))

    def manager_for_path(self) -> Any:
        return self.workspace.manager(self.text("path", "") or "")


class VersionHandler(MlvcHandler):
    """``GET version``: answers when the server extension is loaded (the sidebar checks it)."""

    arguments = frozenset()

    @tornado.web.authenticated
    async def get(self) -> None:
        root = str(self.workspace.root)
        reply: VersionReply = {"version": __version__, "api": API_VERSION, "root": root}
        await self.respond(lambda: reply)


class StatusHandler(MlvcHandler):
    """``GET status?path=``: branch, HEAD, dirty files, and the notebook's active experiment."""

    @tornado.web.authenticated
    async def get(self) -> None:
        kernels, elsewhere = await self._kernels()
        await self.respond(lambda: self._status(kernels, elsewhere))

    async def _kernels(self) -> tuple[set[str], set[str]]:
        """Return the ids of the kernels the server's sessions run for ``path``, and for others.

        The session manager follows renames (JupyterLab patches the session's path), while the
        kernel's state file keeps the path the notebook had at ``%vc_start``.
        """
        path = PurePosixPath(self.text("path", "") or "")
        here: set[str] = set()
        elsewhere: set[str] = set()
        for session in await self.session_manager.list_sessions():
            if session.get("kernel"):
                same = PurePosixPath(session.get("path") or "") == path
                (here if same else elsewhere).add(session["kernel"]["id"])
        return here, elsewhere - here

    def _status(self, kernels: set[str], elsewhere: set[str]) -> dict[str, Any]:
        path = self.text("path", "") or ""
        manager = self.workspace.manager(path)
        target = self.workspace.locate(path)
        notebook = (
            target.relative_to(manager.root.resolve()).as_posix() if target.is_file() else None
        )
        reply: dict[str, Any] = manager.status().to_dict()
        reply["notebook"] = notebook
        active = notebook and active_experiment(manager, notebook, kernels, elsewhere)
        reply["active"] = active or None
        reply["head_commit"] = (commit := manager.current_commit()) and commit.to_dict()
        return reply


class ExperimentsHandler(MlvcHandler):
    """``GET experiments?path=&search=&status=&sort=&offset=&limit=``: one page, and the total."""

    arguments = frozenset({"path", "search", "status", "sort", "offset", "limit"})

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self._page)

    def _page(self) -> dict[str, Any]:
        status = self.text("status") or None
        if status is not None and status not in STATUSES:
            raise BadRequestError(
                f"Unknown status '{status}'.", hint=f"Use one of: {', '.join(STATUSES)}."
            )
        page = self.manager_for_path().query(
            self.text("search") or None,
            status=status,
            sort=self.text("sort") or "-created",
            offset=self.number("offset", 0, 0, None),
            limit=self.number("limit", 50, 1, MAX_LIMIT),
        )
        result: dict[str, Any] = page.to_dict()
        return result


class ExperimentHandler(MlvcHandler):
    """``GET experiments/{id}?path=``: the full record of the experiment's last checkpoint."""

    @tornado.web.authenticated
    async def get(self, experiment_id: str) -> None:
        await self.respond(lambda: self.manager_for_path().show(experiment_id).to_dict())


class DiffHandler(MlvcHandler):
    """``GET diff?path=&a=&b=[&b=...]``: each ``b`` compared with ``a`` (b may list ids, comma
    separated, for a compare view of several experiments)."""

    arguments = frozenset({"path", "a", "b"})

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self._compare)

    def _compare(self) -> dict[str, Any]:
        a = self.text("a")
        others = [b for raw in self.get_query_arguments("b") for b in raw.split(",") if b]
        if not a or not others or len(others) > MAX_COMPARED:
            raise BadRequestError(
                "Compare needs 'a' and from 1 to 10 experiments in 'b'.",
                hint="Pass e.g. diff?a=exp-1&b=exp-2,exp-3.",
            )
        manager = self.manager_for_path()
        return {"a": a, "diffs": [manager.diff(a, b).to_dict() for b in others]}


class TagHandler(MlvcHandler):
    """``POST experiments/{id}/tag`` ``{"tag": NAME, "force"?: bool}``."""

    @tornado.web.authenticated
    async def post(self, experiment_id: str) -> None:
        await self.respond(lambda: self._tag(experiment_id), status=201)

    def _tag(self, experiment_id: str) -> dict[str, Any]:
        body = read_body("tag", self.request.body)
        tag = self.manager_for_path().tag(
            experiment_id, body["tag"], force=body.get("force", False)
        )
        return {"experiment": experiment_id, "tag": tag}


class BranchHandler(MlvcHandler):
    """``POST experiments/{id}/branch`` ``{}``: branch ``mlvc/<id>`` at the last checkpoint."""

    @tornado.web.authenticated
    async def post(self, experiment_id: str) -> None:
        await self.respond(lambda: self._branch(experiment_id), status=201)

    def _branch(self, experiment_id: str) -> dict[str, Any]:
        read_body("branch", self.request.body)
        return {
            "experiment": experiment_id,
            "branch": self.manager_for_path().branch(experiment_id),
        }


class ReproduceHandler(MlvcHandler):
    """``POST experiments/{id}/reproduce`` ``{}``: starts a job; ``GET jobs/{id}`` follows it."""

    @tornado.web.authenticated
    async def post(self, experiment_id: str) -> None:
        await self.respond(lambda: self._start(experiment_id), status=202)

    def _start(self, experiment_id: str) -> dict[str, Any]:
        read_body("reproduce", self.request.body)
        manager = self.manager_for_path()
        manager.summary(experiment_id)  # a missing experiment is a 404 now, not a failed job

        def work() -> dict[str, Any]:
            result = manager.reproduction(experiment_id)  # reproductions/<id>: JupyterLab opens it
            return {
                "worktree": self.workspace.relative(Path(result.worktree)),
                "drift": result.drift.to_dict(),
            }

        job = self.workspace.submit(Job("reproduce", experiment_id), work)
        return dict(job.to_dict())


class CommitHandler(MlvcHandler):
    """``POST experiments/{id}/commit`` ``{"message"?: TEXT}``: a checkpoint recorded by the
    server (files and metrics flushed so far), so a kernel busy training need not answer."""

    @tornado.web.authenticated
    async def post(self, experiment_id: str) -> None:
        await self.respond(lambda: self._commit(experiment_id), status=201)

    def _commit(self, experiment_id: str) -> dict[str, Any]:
        body = read_body("commit", self.request.body)
        manager = self.manager_for_path()
        summary = manager.summary(experiment_id)
        if summary.status != "running":
            raise BadRequestError(
                f"Experiment '{experiment_id}' has ended ({summary.status}): no checkpoint added.",
                hint=f"Resume it first with `%vc_start {experiment_id} --resume`.",
                status=409,
            )
        session = ExperimentSession(manager, experiment_id)
        checkpoint = session.commit(message=body.get("message") or "checkpoint from JupyterLab")
        assert checkpoint is not None  # noqa: S101  # a foreground commit returns its checkpoint
        return checkpoint.to_dict()


class JobHandler(MlvcHandler):
    """``GET jobs/{id}``: a job's state, elapsed time, result or error."""

    arguments = frozenset()

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        await self.respond(lambda: self._job(job_id))

    def _job(self, job_id: str) -> dict[str, Any]:
        if not _JOB_ID.fullmatch(job_id):
            raise BadRequestError(
                f"'{job_id}' is not a job id.", hint="Use the id a POST answered with.", status=404
            )
        return dict(self.workspace.job(job_id).to_dict())


_ID = r"(?P<experiment_id>[^/]+)"
ROUTES: tuple[tuple[str, str, type[MlvcHandler]], ...] = (
    ("GET", r"version", VersionHandler),
    ("GET", r"status", StatusHandler),
    ("GET", r"experiments", ExperimentsHandler),
    ("GET", rf"experiments/{_ID}", ExperimentHandler),
    ("GET", r"diff", DiffHandler),
    ("POST", rf"experiments/{_ID}/tag", TagHandler),
    ("POST", rf"experiments/{_ID}/branch", BranchHandler),
    ("POST", rf"experiments/{_ID}/reproduce", ReproduceHandler),
    ("POST", rf"experiments/{_ID}/commit", CommitHandler),
    ("GET", r"jobs/(?P<job_id>[^/]+)", JobHandler),
)
"""(method, pattern under /mlvc/api/, handler): the whole REST API."""
