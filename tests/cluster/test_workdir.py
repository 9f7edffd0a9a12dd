"""A worker's folder: locked while its worker lives, adopted with its map outputs once dead,
and only when it is a private folder of ours holding files of ours."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap

import pytest

from minimr.cluster.worker import partindex
from minimr.cluster.worker.workdir import WorkDir, default_base
from minimr.errors import WorkDirError

DIE_HOLDING_AN_OUTPUT = textwrap.dedent(
    """
    import json, os, sys
    from minimr.cluster.worker.workdir import WorkDir
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
    assert work.map_outputs() == [["job-1", "s0-m00003-a2", {"partitions": 2, "size": 10}]]
    path = os.path.join(work.path, "job-1", "map-s0-m00003-s0-m00003-a2.out")
    with open(path, "rb") as file:
        assert file.read() == b"0123456789"
    with open(path + ".index") as file:
        assert json.load(file) == {"path": path, "partitions": [[0, 4], [4, 6]]}
    assert partindex.read_range(path, 1) == (4, 6)  # what its shuffle server reads
    assert work.adopt_orphans() == []
    work.close()


# --- planted folders: adoption trusts nothing it did not write -------------------------------

OTHER_UID = 12345  # any uid but ours (the tests run as root, which may chown)
JOB = "job-20240101-000000-abcdef"
OUTPUT = "map-s0-m00001-s0-m00001-a1.out"


def snapshot(root):
    """Every entry under ``root`` (links not followed): its kind and content or target."""
    tree = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                tree[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                tree[rel] = ("dir", stat.S_IMODE(os.lstat(path).st_mode))
            else:
                with open(path, "rb") as file:
                    tree[rel] = ("file", file.read())
    return tree


def plant(base, name="minimr-worker-99999-planted", mode=0o700):
    """A dead-looking worker folder: an unlocked lock file and an empty job folder."""
    folder = base / name
    folder.mkdir(mode=mode)
    os.chmod(folder, mode)
    (folder / ".lock").write_text("")
    (folder / ".identity").write_bytes(b"w-planted")
    (folder / JOB).mkdir()
    return folder


def index(path, target):
    """Write a map output index at ``path + '.index'`` naming ``target``."""
    with open(f"{path}.index", "w") as file:
        json.dump({"path": str(target), "partitions": [[0, 3]]}, file)


@pytest.fixture
def layout(tmp_path):
    """``(base, outside)``: a private base for workers, and files a planter wants."""
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir(mode=0o700)
    outside.mkdir()
    (outside / "precious.txt").write_bytes(b"abc")
    (outside / "sub").mkdir()
    (outside / "sub" / OUTPUT).write_bytes(b"xyz")
    index(outside / "sub" / OUTPUT, outside / "sub" / OUTPUT)
    return base, outside


def _index_points_outside(base, outside):
    index(plant(base) / JOB / OUTPUT, outside / "precious.txt")


def _output_is_a_symlink_out(base, outside):
    link = plant(base) / JOB / OUTPUT
    link.symlink_to(outside / "precious.txt")
    index(link, link)


def _job_folder_is_a_symlink_out(base, outside):
    folder = plant(base)
    (folder / JOB).rmdir()
    (folder / JOB).symlink_to(outside / "sub")


def _output_is_a_hard_link_out(base, outside):
    output = plant(base) / JOB / OUTPUT
    os.link(outside / "precious.txt", output)
    index(output, output)


def _index_is_a_symlink_out(base, outside):
    output = plant(base) / JOB / OUTPUT
    output.write_bytes(b"own")
    (plant(base, "minimr-worker-99999-second") / JOB / (OUTPUT + ".index")).symlink_to(
        outside / "sub" / (OUTPUT + ".index"))


def _folder_is_world_writable(base, outside):
    folder = plant(base, mode=0o777)
    index(folder / JOB / OUTPUT, outside / "precious.txt")


def _folder_of_another_uid(base, outside):
    folder = plant(base)
    index(folder / JOB / OUTPUT, outside / "precious.txt")
    os.chown(folder, OTHER_UID, OTHER_UID)


def _file_of_another_uid(base, outside):
    output = plant(base) / JOB / OUTPUT
    output.write_bytes(b"not ours")
    index(output, output)
    os.chown(output, OTHER_UID, OTHER_UID)


def _worker_folder_is_a_symlink_out(base, outside):
    (outside / ".lock").write_text("")
    (base / "minimr-worker-99999-planted").symlink_to(outside)


def _lock_is_a_symlink_out(base, outside):
    folder = plant(base)
    (folder / ".lock").unlink()
    (folder / ".lock").symlink_to(outside / "precious.txt")
    index(folder / JOB / OUTPUT, outside / "precious.txt")


PLANTS = [_index_points_outside, _output_is_a_symlink_out, _job_folder_is_a_symlink_out,
          _output_is_a_hard_link_out, _index_is_a_symlink_out, _folder_is_world_writable,
          _folder_of_another_uid, _file_of_another_uid, _worker_folder_is_a_symlink_out,
          _lock_is_a_symlink_out]


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another uid needs root")
@pytest.mark.parametrize("plant_it", PLANTS, ids=lambda f: f.__name__.strip("_"))
def test_a_planted_folder_never_moves_or_deletes_outside_files(layout, plant_it):
    """Whatever a planted folder holds, no file outside it is moved, registered or deleted,
    and a folder that is not ours (mode, owner, link) is left where it is."""
    base, outside = layout
    plant_it(base, outside)
    before = snapshot(outside)
    foreign = {name for name in os.listdir(base)
               if os.path.islink(base / name) or os.lstat(base / name).st_uid != os.getuid()
               or stat.S_IMODE(os.lstat(base / name).st_mode) != 0o700}
    work = WorkDir(str(base))
    work.adopt_orphans()
    assert work.map_outputs() == []
    work.close()
    assert snapshot(outside) == before
    assert foreign <= set(os.listdir(base))


def test_a_dead_workers_own_folder_still_is_adopted_next_to_planted_ones(layout):
    """The checks keep real adoption working: an honest dead folder is adopted as before."""
    base, outside = layout
    _index_points_outside(base, outside)
    done = subprocess.run([sys.executable, "-c", DIE_HOLDING_AN_OUTPUT, str(base)],
                          capture_output=True, text=True, check=True)
    work = WorkDir(str(base))
    assert "w-dead-1234" in work.adopt_orphans()
    assert [(job, attempt) for job, attempt, _ in work.map_outputs()] == [
        ("job-1", "s0-m00003-a2")]
    assert not os.path.exists(done.stdout.strip())
    work.close()


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another uid needs root")
def test_a_base_others_could_write_is_refused(tmp_path):
    """A base owned by another uid, writable by group or world, or a symlink is refused."""
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, OTHER_UID, OTHER_UID)
    world = tmp_path / "world"
    world.mkdir()
    os.chmod(world, 0o1777)
    link = tmp_path / "link"
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link.symlink_to(private)
    for base, reason in ((other, "belongs to uid 12345"), (world, "writable by others"),
                         (link, "symlink")):
        with pytest.raises(WorkDirError, match=reason):
            WorkDir(str(base))
        assert os.listdir(base) == []


def test_the_default_base_is_per_user_and_private(tmp_path, monkeypatch):
    """With no base given, a worker's folder goes under $TMPDIR/minimr-<uid>, made 0700."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    work = WorkDir()
    base = tmp_path / f"minimr-{os.getuid()}"
    assert default_base() == str(base) and os.path.dirname(work.path) == str(base)
    assert stat.S_IMODE(os.lstat(base).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(work.path).st_mode) == 0o700
    work.close()
