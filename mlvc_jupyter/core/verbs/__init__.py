"""The verbs of :class:`~mlvc_jupyter.core.manager.ExperimentManager` beyond recording and
reading, one mixin per area: :mod:`~.sharing` (labels, remotes, retention) and
:mod:`~.reproduction` (reproduce, restore in place, undo, export). Each method validates its
input, runs inside :func:`~mlvc_jupyter.core.boundary.file_errors` and calls one module of the
core; the manager composes them, so every face still calls one object."""
