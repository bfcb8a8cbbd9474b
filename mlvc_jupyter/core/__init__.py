"""The engine of mlvc-jupyter: experiments on hidden git refs, with no Jupyter imports.

Nothing in this package imports IPython, ipywidgets, ipykernel, jupyter_server or tornado; a test
checks that in a fresh interpreter. The faces (magics, CLI, REST server, widgets) call into here.
"""
