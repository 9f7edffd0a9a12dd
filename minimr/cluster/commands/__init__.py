"""The cluster's click commands, one module each: ``coordinator.py``, ``worker.py``,
``status.py``, ``logs.py``, ``cancel.py``, ``keygen.py``; ``daemon.py`` holds what the two
long-running ones share. The commands that ask a coordinator do it through
``cluster/client/operations.py``.

``minimr.cli`` lists :data:`COMMANDS` on the ``minimr`` group and imports a command's module
(:func:`load`) only when that command runs or ``minimr --help`` lists it: ``minimr submit``
then never imports the coordinator's command, the dashboard's HTTP server or the modules that
only ask a coordinator (issue 20: they were a fifth of a second of every job's start).
"""

from __future__ import annotations

import importlib

import click

#: each is the click command of the same name in the module of the same name
COMMANDS = ("cancel", "coordinator", "keygen", "logs", "status", "worker")


def load(name: str) -> click.Command:
    """The command ``name`` of :data:`COMMANDS`, its module imported now."""
    return getattr(importlib.import_module(f"{__name__}.{name}"), name)
