"""``python -m mlvc_jupyter``: the ``mlvc`` command, for environments without the console script."""

from mlvc_jupyter.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
