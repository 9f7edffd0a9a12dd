"""The cluster's click commands, one module each: ``coordinator.py``, ``worker.py``,
``status.py``, ``logs.py``, ``cancel.py``, ``keygen.py``; ``daemon.py`` holds what the two
long-running ones share. The commands that ask a coordinator do it through
``cluster/operations.py``.

``minimr.cli`` registers :data:`COMMANDS` on the ``minimr`` group.
"""

from __future__ import annotations

from minimr.cluster.commands import cancel, coordinator, keygen, logs, status, worker
from minimr.cluster.commands.status import fetch_status, format_status

__all__ = ["COMMANDS", "fetch_status", "format_status"]

COMMANDS = [coordinator.coordinator, worker.worker, status.status, logs.logs, cancel.cancel,
            keygen.keygen]
