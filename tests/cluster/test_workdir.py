"""A worker's folder: locked while its worker lives, adopted with its map outputs once dead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from minimr.cluster.workdir import WorkDir

DIE_HOLDING_AN_OUTPUT = textwrap.dedent(
    """
    import json, os, sys
    from minimr.cluster.workdir import WorkDir
    work = WorkDir(sys.argv[1])
    work.record_identity(b"w-dead-1234")
    job = os.path.join(work.path, "job-1")
    os.makedirs(job)
    out = os.path.join(job, "map-s0-m00003-s0-m00003-a2.out")
    open(out, "wb").write(b"0123456789")
    json.dump({"path": out, "partitions": [[0, 4], [4, 6]]}, open(out + ".index", "w"))
    open(os.path.join(job, "map-s0-m00004-s0-m00004-a1.out"), "wb").write(b"half")
    print(work.path)
    os._exit(0)  # like SIGKILL: no clean-up, the kernel drops the lock
    """
)


def test_a_live_workers_folder_is_never_adopted(tmp_path):
    """Two workers on one base: neither takes the other's folder."""
    first, second = WorkDir(str(tmp_path)), WorkDir(str(tmp_path))
    assert second.adopt_orphans() == [] and os.path.isdir(first.path)
    assert first.adopt_orphans() == [] and os.path.isdir(second.path)
    first.close()
    second.close()
    assert os.listdir(tmp_path) == []


def test_a_dead_workers_finished_outputs_are_adopted_and_its_folder_removed(tmp_path):
    """Finished outputs move to the adopter with their index rewritten; the rest goes."""
    done = subprocess.run([sys.executable, "-c", DIE_HOLDING_AN_OUTPUT, str(tmp_path)],
                          capture_output=True, text=True, check=True)
    dead = done.stdout.strip()
    work = WorkDir(str(tmp_path))
    assert work.adopt_orphans() == ["w-dead-1234"]
    assert not os.path.exists(dead)
    ((job, attempt, output),) = work.map_outputs()
    assert (job, attempt) == ("job-1", "s0-m00003-a2")
    assert output == {"path": os.path.join(work.path, "job-1", "map-s0-m00003-s0-m00003-a2.out"),
                      "partitions": [[0, 4], [4, 6]]}
    with open(output["path"], "rb") as file:
        assert file.read() == b"0123456789"
    with open(output["path"] + ".index") as file:
        assert json.load(file) == output
    assert work.adopt_orphans() == []
    work.close()
