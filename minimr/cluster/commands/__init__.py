"""The cluster's click commands, one module each: ``coordinator.py``, ``worker.py``,
``status.py``, ``keygen.py``; ``daemon.py`` holds what the two long-running ones share.
``minimr cancel`` and ``minimr logs`` live in ``cluster/operations.py``, with the
one-request exchange they share with ``status``.

``minimr.cli`` registers :data:`COMMANDS` on the ``minimr`` group.
"""

from __future__ import annotations

from minimr.cluster.commands import coordinator, keygen, status, worker
from minimr.cluster.commands.status import fetch_status, format_status
from minimr.cluster.operations import cancel, logs

__all__ = ["COMMANDS", "fetch_status", "format_status"]

COMMANDS = [coordinator.coordinator, worker.worker, status.status, logs, cancel, keygen.keygen]
