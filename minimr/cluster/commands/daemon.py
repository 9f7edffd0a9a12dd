"""What the long-running commands (``minimr coordinator``, ``minimr worker``) share: the
choices of ``--log-level``, and the process set-up (:func:`configure`) they both start with."""

from __future__ import annotations

import logging
import resource

import click

#: the choices of --log-level
LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)


def configure(level: str) -> None:
    """Log at ``level`` and above to stderr, and lift the open-files limit."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    _raise_open_files_limit()


def _raise_open_files_limit() -> None:
    """Lift the soft open-files limit to the hard one.

    A coordinator holds a connection per worker and client, and a worker one per fetch in
    flight: the common default of 1024 made a coordinator die at about a thousand workers.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            logging.getLogger(__name__).warning("could not raise the open-files limit")
