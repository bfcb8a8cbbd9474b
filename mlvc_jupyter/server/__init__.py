"""The jupyter_server extension: the REST API the JupyterLab sidebar calls (``/mlvc/api/``).

Enabled on install by ``jupyter-config/jupyter_server_config.d/mlvc_jupyter.json``; loaded by
jupyter_server through :func:`mlvc_jupyter._jupyter_server_extension_points`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["API_PREFIX", "load_jupyter_server_extension"]

API_PREFIX = "mlvc/api"


def load_jupyter_server_extension(server_app: Any) -> None:
    """Register every route of :data:`~mlvc_jupyter.server.handlers.ROUTES` on the server."""
    from jupyter_server.utils import url_path_join

    from mlvc_jupyter.server.handlers import ROUTES
    from mlvc_jupyter.server.workspace import Workspace

    web_app = server_app.web_app
    workspace = Workspace(server_app.root_dir)
    web_app.settings["mlvc_workspace"] = workspace
    base = url_path_join(web_app.settings["base_url"], API_PREFIX)
    handlers = [(url_path_join(base, pattern), handler) for _, pattern, handler in ROUTES]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("mlvc_jupyter: REST API at %s/ over %s", base, workspace.root)


_load_jupyter_server_extension = load_jupyter_server_extension
