"""The operator's commands: their options, and the text of `minimr status JOB_ID`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from minimr.cli import main
from minimr.cluster.commands.logs import header
from minimr.cluster.commands.status import format_job
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.scheduling import views
from tests.cluster.test_scheduler import Script, assigns


@pytest.mark.parametrize("command", ["coordinator", "worker"])
def test_log_level_lists_its_choices_and_refuses_others(command):
    """--log-level is a choice: --help lists the levels, and an unknown one is refused
    naming them."""
    runner = CliRunner()
    assert "[debug|info|warning|error]" in runner.invoke(main, [command, "--help"]).output
    refused = runner.invoke(main, [command, "--log-level", "loud"])
    assert refused.exit_code == 2 and "'loud' is not one of 'debug'" in refused.output


@pytest.mark.parametrize("command", ["status", "logs", "cancel", "submit", "worker"])
def test_every_command_that_reaches_a_coordinator_takes_c(command):
    """-c is --coordinator for submit, status, logs, cancel and worker alike."""
    assert "-c, --coordinator" in CliRunner().invoke(main, [command, "--help"]).output


def detail(script: Script, job: str = "j") -> dict:
    return views.job_detail(script.sched.jobs[job], script.sched.workers, script.now)


def test_status_of_a_failed_job_names_its_phases_failures_and_last_attempts_log():
    """The text of status JOB_ID: the state, each phase with its tasks done and failed
    attempts, the failed attempts with the user's exception, why the job failed and the
    command that shows the last attempt's log."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(max_attempts=2))
    (m,) = assigns(script.prepare(prep, maps=1, reduces=1))
    (m,) = assigns(script(s.AttemptFailed("w0", "j", m.attempt, "Traceback\nKeyError: 'k'")))
    script(s.AttemptFailed("w0", "j", m.attempt, "Traceback\nKeyError: 'k'"), advance=2.0)
    text = format_job(detail(script))
    assert text.startswith("job j (test): failed, 2.0 s")
    assert "  step 1 map      0/1 done  (2 failed attempts)" in text
    assert "attempts: 3 (2 failed, 1 succeeded)" in text
    assert "  s0-m00000-a2     on w0: failed: KeyError: 'k'" in text
    assert "failure: task s0-m00000 (map of step 0) failed 2 times" in text
    assert "its last attempt's log: minimr logs j s0-m00000-a2" in text


def test_status_of_a_queued_job_says_it_waits_for_a_slot():
    """A job behind another with every slot taken reads as queued, not as map 0/0."""
    script = Script()
    script.join("w0")
    script.submit("first")
    script.submit("second")
    text = format_job(detail(script, "second"))
    assert "job second (test): queued" in text
    assert "it starts when a slot is free" in text and "map 0/0" not in text


def test_a_logs_header_names_the_attempt_its_worker_and_how_it_ended():
    """Several attempts' logs are printed each under a header, as tail heads files."""
    attempt = {"attempt": "s0-m00001-a2", "worker": "vm:7", "state": "failed",
               "why": "ValueError: x"}
    assert header(attempt) == "==> s0-m00001-a2 on worker vm:7, failed: ValueError: x <=="
