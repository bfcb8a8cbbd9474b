"""Who may call /mlvc/api/ and with what: tokens, XSRF, paths out of the root, hostile ids."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from tornado.httpclient import HTTPClientError

from mlvc_jupyter.server.handlers import ROUTES, MlvcHandler
from tests.conftest import GitRepo
from tests.server.conftest import Fetch, call, post

pytestmark = pytest.mark.server

NO_TOKEN = {"Authorization": ""}
GETS = [("version",), ("status",), ("experiments",), ("experiments", "exp-1"), ("jobs", "0" * 32)]
POSTS = ["tag", "branch", "reproduce", "commit"]
VERBS = ("get", "post", "put", "patch", "delete", "head", "options")


@pytest.mark.parametrize("parts", GETS, ids=["/".join(p) for p in GETS])
async def test_a_get_without_a_token_is_refused(
    jp_fetch: Fetch, project: GitRepo, parts: tuple[str, ...]
) -> None:
    code, body = await call(jp_fetch, *parts, headers=dict(NO_TOKEN))
    assert code == 403
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("verb", POSTS)
async def test_a_post_without_a_token_is_refused(
    jp_fetch: Fetch, project: GitRepo, verb: str
) -> None:
    code, _ = await post(jp_fetch, "experiments", "exp-run", verb, body={}, headers=dict(NO_TOKEN))
    assert code == 403
    assert project.git("for-each-ref", "refs/heads/mlvc", "refs/mlvc/worktrees") == ""


def _cookies(response: Any) -> dict[str, str]:
    jar = {}
    for header in response.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        jar[name] = rest.split(";", 1)[0]
    return jar


async def _browser_session(jp_fetch: Fetch, token: str) -> dict[str, str]:
    """Log in with the token as a browser does: the login and XSRF cookies."""
    page = await jp_fetch("login", headers=dict(NO_TOKEN))
    jar = _cookies(page)
    form = f"password={token}&_xsrf={jar['_xsrf']}"
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    response = await jp_fetch(
        "login", method="POST", body=form, follow_redirects=False, raise_error=False,
        headers={**NO_TOKEN, "Cookie": cookie},
    )  # fmt: skip
    assert response.code == 302, response.body
    return {**jar, **_cookies(response)}


async def test_a_cookie_session_post_needs_xsrf(
    jp_fetch: Fetch, jp_serverapp: Any, project: GitRepo
) -> None:
    jar = await _browser_session(jp_fetch, jp_serverapp.identity_provider.token)
    cookie = {**NO_TOKEN, "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    code, body = await post(
        jp_fetch, "experiments", "exp-1", "tag", body={"tag": "t"}, headers=cookie
    )
    assert code == 403
    assert body["error"]["message"] == "'_xsrf' argument missing from POST"
    assert project.git("tag", "--list") == ""
    code, _ = await call(jp_fetch, "experiments", headers=dict(cookie))  # reads need no XSRF
    assert code == 200
    with_xsrf = {**cookie, "X-XSRFToken": jar["_xsrf"]}
    code, _ = await post(
        jp_fetch, "experiments", "exp-1", "tag", body={"tag": "t"}, headers=with_xsrf
    )
    assert code == 201
    assert project.git("tag", "--list").split() == ["t"]


@pytest.fixture
def outside(project: GitRepo, tmp_path: Path) -> Path:
    """A repository outside the server root, and a symlink ``out`` to it inside the root."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.ipynb").write_text("{}")
    (project.path / "out").symlink_to(folder)
    (project.path / "nb-link.ipynb").symlink_to(folder / "secret.ipynb")
    return folder


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("..", 400), ("../outside", 400), ("data/../..", 400), ("/etc", 400), ("data\\..\\..", 400),
        ("out", 403), ("out/secret.ipynb", 403), ("nb-link.ipynb", 403),
        ("missing.ipynb", 404),
    ],
    ids=["dotdot", "dotdot-sibling", "dotdot-inner", "absolute", "backslash", "symlink-dir",
         "symlink-file-in-dir", "symlink-file", "missing"],
)  # fmt: skip
@pytest.mark.parametrize("route", ["status", "experiments"])
async def test_paths_outside_the_root_are_refused(
    jp_fetch: Fetch, outside: Path, path: str, code: int, route: str
) -> None:
    status, body = await call(jp_fetch, route, params={"path": path})
    assert status == code
    assert body["error"]["type"] == "BadRequestError"
    assert str(outside) not in json.dumps(body)


async def test_a_post_with_a_path_outside_is_refused(jp_fetch: Fetch, outside: Path) -> None:
    code, _ = await post(
        jp_fetch, "experiments", "exp-1", "tag", body={"tag": "x"}, params={"path": "out"}
    )
    assert code == 403


@pytest.mark.parametrize(
    "experiment_id",
    ["..", ".git", "-rf", "a b", "<img src=x onerror=alert(1)>", "x" * 101, "HEAD", "a..b", "é"],
    ids=["dotdot", "dotgit", "option", "space", "html", "long", "head", "double-dot", "accent"],
)
async def test_hostile_ids_are_refused_as_json(
    jp_fetch: Fetch, project: GitRepo, experiment_id: str
) -> None:
    code, body = await call(jp_fetch, "experiments", experiment_id)
    assert code == 400
    assert body["error"]["type"] == "InvalidNameError"
    code, body = await post(jp_fetch, "experiments", experiment_id, "tag", body={"tag": "x"})
    assert code == 400
    assert project.git("tag", "--list") == ""


def test_every_handler_method_is_authenticated() -> None:
    """Introspection: each HTTP verb a route's handler defines is wrapped by ``authenticated``,
    and the verbs defined are exactly the ones ROUTES lists."""
    assert ROUTES
    wrapper = tornado.web.authenticated(lambda self: None).__code__
    for method, pattern, handler in ROUTES:
        assert issubclass(handler, MlvcHandler)
        defined = {v for v in VERBS if v in vars(handler)}
        assert defined == {method.lower()}, (pattern, defined)
        for verb in defined:
            function = vars(handler)[verb]
            assert function.__code__ is wrapper, (pattern, verb)
            assert inspect.iscoroutinefunction(inspect.unwrap(function)), (pattern, verb)


async def test_a_wrong_method_answers_json(jp_fetch: Fetch, project: GitRepo) -> None:
    with pytest.raises(HTTPClientError, match="405"):
        await jp_fetch("mlvc", "api", "experiments", method="POST", body="{}")
