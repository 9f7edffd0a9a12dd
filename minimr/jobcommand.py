"""The click command of ``minimr submit`` and ``minimr replay``: JOB's options join its own.

A job's options are unknown until its file is loaded, and the file is the command's first
argument. So :class:`JobCommand` loads the job before it parses the rest of the command
line: ``parse_args`` finds the JOB word (the first word that is neither one of the
command's options nor the value of one), loads it (a missing or broken file fails there,
with the loader's message), and makes a click option of each ``minimr.Option`` the job
declares. ``get_params`` returns those beside the command's own, so click parses them,
refuses a bad value ("Invalid value for '--threshold': 'x' is not an int", exit 2) or an
unknown option ("No such option: --treshold Did you mean --threshold?") and lists them in
``--help``, in a section of their own. Without a JOB (``minimr submit --help``) the
command is click's own.

The values go to ``ctx.meta``, never to the command function's keyword arguments, and the
command reads them with :func:`job_options`.
"""

from __future__ import annotations

from typing import Any

import click

from minimr.errors import MinimrError
from minimr.job import Job, declared_options, job_name
from minimr.joboptions import click_option
from minimr.loader import resolve_job

_JOB = "minimr.job"
_PARAMS = "minimr.job_params"
_VALUES = "minimr.job_values"


class JobCommand(click.Command):
    """A click command whose first argument names a job, and whose options grow by the job's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Load the job named by the JOB word, add its options, then parse as click does."""
        reference = self._job_word(args)
        if reference is not None:
            try:
                job = resolve_job(reference)
                params = [click_option(option, ctx.meta.setdefault(_VALUES, {}))
                          for option in declared_options(job)]
            except MinimrError:
                if not ctx.resilient_parsing:  # shell completion goes on without the job
                    raise
            else:
                ctx.meta[_JOB], ctx.meta[_PARAMS] = job, params
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The command's own parameters, then the job's options."""
        return [*super().get_params(ctx), *ctx.meta.get(_PARAMS, ())]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command's options, then the job's under a heading naming the job."""
        own = [p for p in super().get_params(ctx) if isinstance(p, click.Option)]
        for title, params in (("Options", own),
                              (f"Options of {_name(ctx)}", ctx.meta.get(_PARAMS, ()))):
            records = [r for r in (p.get_help_record(ctx) for p in params) if r is not None]
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)

    def _job_word(self, args: list[str]) -> str | None:
        """The first word of ``args`` that is not an option of this command or its value."""
        takes_value = {
            name for p in self.params
            if isinstance(p, click.Option) and not p.is_flag and not p.count
            for name in (*p.opts, *p.secondary_opts)
        }
        words = iter(args)
        for word in words:
            if word == "--":
                return next(words, None)
            if word.startswith("-") and word != "-":
                if word in takes_value:
                    next(words, None)
                continue
            return word
        return None


def _name(ctx: click.Context) -> str:
    job = ctx.meta.get(_JOB)
    return job_name(job) if job is not None else "the job"


def job_options(ctx: click.Context) -> tuple[Job, dict[str, Any]]:
    """The job the command loaded, and the values of its options given on the command line
    (by ``dest``; defaults and required options are checked when the job is planned)."""
    return ctx.meta[_JOB], dict(ctx.meta.get(_VALUES, {}))
