"""The end-to-end suite's own helpers (support.py), where they could race a real system."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.e2e.support import child_processes


def fake_proc(tmp_path):
    """A procfs of process 10: thread 10 lists children 20 and 21 (21 since reaped), thread
    11 has exited (its folder listed, its ``children`` gone), thread 12 lists child 22."""
    proc = tmp_path / "proc"
    for task, children in (("10", "20 21"), ("11", None), ("12", "22")):
        folder = proc / "10" / "task" / task
        folder.mkdir(parents=True)
        if children is not None:
            (folder / "children").write_text(children + " ")
    for child, cmdline in (("20", b"python\0-m\0worker\0"), ("22", b"sleep\x0030\0")):
        (proc / child).mkdir()
        (proc / child / "cmdline").write_bytes(cmdline)
    return proc


def test_what_exits_while_children_are_listed_is_skipped(tmp_path):
    """A thread that exited, a child reaped between being listed and read, a parent gone:
    skipped (the test that lists them raced one once), the live children still found."""
    proc = fake_proc(tmp_path)
    assert child_processes(10, proc) == {20: "python -m worker ", 22: "sleep 30 "}
    assert child_processes(99, proc) == {}


def test_the_children_of_a_real_process_are_found():
    """On this machine's procfs: a process's child, with its command line."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(['sleep', '30'])"]
    )
    try:
        for _ in range(200):
            if found := child_processes(parent.pid):
                break
            time.sleep(0.05)
        assert list(found.values()) == ["sleep 30 "]
    finally:
        for child in child_processes(parent.pid):
            os.kill(child, 9)
        parent.kill()
        parent.wait()
