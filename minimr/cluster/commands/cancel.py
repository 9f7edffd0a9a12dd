"""``minimr cancel``: cancel a job on a cluster."""

from __future__ import annotations

import click

from minimr.cluster.client.operations import Asker, client_curve, coordinator_options, who_am_i
from minimr.cluster.wire import protocol as p


@click.command()
@click.argument("job_id", metavar="JOB_ID")
@coordinator_options
def cancel(job_id, address, keys_dir, identity, insecure) -> None:
    """Cancel a job on a cluster, whether or not its client is still there.

    JOB_ID is what `minimr submit` printed first (`minimr status` lists them). Its running
    attempts are stopped and it ends as cancelled; what it wrote under OUTPUT/_temporary is
    removed by its client if that is still waiting, else left for `--overwrite`.
    """
    with Asker(address, client_curve(address, keys_dir, identity, insecure)) as asker:
        before = asker.ask(p.StatusRequest(job_id), (p.StatusReply,)).status  # type: ignore[attr-defined]
        state = before["job"]["state"]
        if before.get("from_history") or state not in ("running", "queued"):
            raise click.ClickException(f"job {job_id} had already ended: {state}")
        answer = asker.ask(p.CancelJob(job_id, who_am_i("minimr cancel")), (p.JobResult,))
    if answer.state != "cancelled":  # type: ignore[attr-defined]
        raise click.ClickException(f"job {job_id} ended before the cancel: {answer.state}")  # type: ignore[attr-defined]
    click.echo(f"job {job_id} cancelled")
