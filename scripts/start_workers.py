#!/usr/bin/env python3
"""Start (or stop) ``minimr worker`` on a list of hosts over ssh.

    python scripts/start_workers.py --hosts hosts.txt --coordinator tcp://10.0.0.5:7070 \\
        --keys keys/ --slots 8 --work-dir /var/tmp/minimr [--dry-run]
    python scripts/start_workers.py --hosts hosts.txt --work-dir /var/tmp/minimr --stop

The hosts file has one machine a line: ``[user@]host [identity]``; ``#`` starts a comment.
For each host it prints, then runs:

1. the keys copy: ``tar`` of only what a worker needs from the keys folder
   (``coordinator.key``, ``workers/*.key`` and ``private/IDENTITY.key_secret``) piped over
   ssh into ``--remote-keys`` (mode 700). IDENTITY is the one the hosts file names, else
   the host's name if ``private/HOST.key_secret`` exists (``minimr keygen DIR --worker
   HOST``), else ``worker``;
2. the start: ``minimr worker`` detached with ``nohup``, its log and pid in the work folder
   (``minimr-worker.log``, ``minimr-worker.pid``).

``--stop`` sends SIGTERM to the pid in each host's work folder (the worker says goodbye
and its tasks go elsewhere). Each host needs the same minimr and Python as the
coordinator, and ssh access without a password prompt (keys or an agent).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Host:
    """One line of the hosts file."""

    target: str  # what ssh is given: host or user@host
    identity: str | None  # the key pair to use, if the file names one

    @property
    def name(self) -> str:
        """The bare host name (no user@)."""
        return self.target.rpartition("@")[2]


def read_hosts(path: str) -> list[Host]:
    """Parse a hosts file: ``[user@]host [identity]`` a line, ``#`` comments, blank lines."""
    hosts = []
    with open(path) as file:
        for number, line in enumerate(file, start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) > 2:
                raise SystemExit(f"{path}:{number}: expected '[user@]host [identity]': {line!r}")
            hosts.append(Host(fields[0], fields[1] if len(fields) == 2 else None))
    if not hosts:
        raise SystemExit(f"{path} lists no hosts")
    return hosts


def identity_for(host: Host, keys: str) -> str:
    """The key pair a host's worker uses (see the module docstring)."""
    if host.identity:
        return host.identity
    if os.path.exists(os.path.join(keys, "private", f"{host.name}.key_secret")):
        return host.name
    return "worker"


def key_files(keys: str, identity: str) -> list[str]:
    """The files of the keys folder a worker needs, relative to it.

    Raises:
        SystemExit: one is missing.
    """
    needed = ["coordinator.key", os.path.join("private", f"{identity}.key_secret")]
    workers = os.path.join(keys, "workers")
    if os.path.isdir(workers):
        needed += [
            os.path.join("workers", n) for n in sorted(os.listdir(workers)) if n.endswith(".key")
        ]
    for relative in needed:
        if not os.path.exists(os.path.join(keys, relative)):
            raise SystemExit(
                f"{os.path.join(keys, relative)} is missing (see `minimr keygen --help`)"
            )
    if len(needed) == 2:
        raise SystemExit(f"{workers} holds no worker keys: the shuffle servers would admit nobody")
    return needed


def ssh(args: argparse.Namespace, host: Host, remote: str) -> list[str]:
    """The ssh command line running ``remote`` (one shell string) on ``host``."""
    return [args.ssh, *args.ssh_option, host.target, remote]


def copy_keys_commands(args: argparse.Namespace, host: Host, identity: str) -> tuple[list, list]:
    """(local tar, ssh untar) commands: the worker's key files into --remote-keys."""
    tar = ["tar", "-C", args.keys, "-cf", "-", *key_files(args.keys, identity)]
    remote_dir = shlex.quote(args.remote_keys)
    untar = f"umask 077 && mkdir -p {remote_dir} && tar -C {remote_dir} -xf -"
    return tar, ssh(args, host, untar)


def start_command(args: argparse.Namespace, host: Host, identity: str | None) -> list[str]:
    """The ssh command that starts a detached worker on ``host`` and prints its pid."""
    worker = [
        *shlex.split(args.minimr),
        "worker",
        "--coordinator",
        args.coordinator,
        "--work-dir",
        args.work_dir,
        "--name",
        host.name,
    ]
    if args.slots:
        worker += ["--slots", str(args.slots)]
    if args.shuffle_port:
        worker += ["--shuffle-port", str(args.shuffle_port)]
    if identity is not None:
        worker += ["--keys", args.remote_keys, "--identity", identity]
    else:
        worker += ["--insecure"]
    work = shlex.quote(args.work_dir)
    remote = (  # statements, not an && chain: "a && b &" would background a subshell
        f"mkdir -p {work} || exit 1; nohup {shlex.join(worker)} > {work}/minimr-worker.log "
        f"2>&1 < /dev/null & echo $! > {work}/minimr-worker.pid; cat {work}/minimr-worker.pid"
    )
    return ssh(args, host, remote)


def stop_command(args: argparse.Namespace, host: Host) -> list[str]:
    """The ssh command that sends SIGTERM to the worker whose pid file is in the work folder."""
    pid_file = shlex.quote(os.path.join(args.work_dir, "minimr-worker.pid"))
    return ssh(args, host, f"kill -TERM $(cat {pid_file}) && rm -f {pid_file}")


def show(command: list[str], stdin_from: list[str] | None = None) -> str:
    """A command as a shell line, for the log of what is done."""
    line = shlex.join(command)
    return f"{shlex.join(stdin_from)} | {line}" if stdin_from else line


def run(command: list[str], dry_run: bool, stdin_from: list[str] | None = None) -> str:
    """Print a command, run it unless ``dry_run``; returns its output."""
    print(f"+ {show(command, stdin_from)}", flush=True)
    if dry_run:
        return ""
    if stdin_from is None:
        done = subprocess.run(command, capture_output=True, text=True)
    else:
        producer = subprocess.Popen(stdin_from, stdout=subprocess.PIPE)
        done = subprocess.run(command, stdin=producer.stdout, capture_output=True, text=True)
        producer.stdout.close()  # type: ignore[union-attr]
        if producer.wait() != 0:
            raise SystemExit(f"failed: {shlex.join(stdin_from)}")
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {show(command)}\n{done.stderr.strip()}")
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and start (or stop) a worker on every host."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", required=True, help="file: '[user@]host [identity]' a line")
    parser.add_argument("--coordinator", help="tcp://HOST:PORT the workers join")
    parser.add_argument("--keys", help="the cluster's keys folder (minimr keygen); copied in part")
    parser.add_argument(
        "--remote-keys",
        default=".minimr/keys",
        help="where the keys go on each host; relative paths are in the ssh "
        "user's home (default: %(default)s)",
    )
    parser.add_argument("--slots", type=int, default=None, help="tasks at once per worker")
    parser.add_argument(
        "--work-dir",
        default="/var/tmp/minimr",
        help="each worker's folder for map outputs, log and pid (default: %(default)s)",
    )
    parser.add_argument(
        "--shuffle-port",
        type=int,
        default=None,
        help="fixed port for map output service (default: any free port)",
    )
    parser.add_argument(
        "--minimr",
        default="minimr",
        help="the command that runs minimr on the hosts (default: %(default)s)",
    )
    parser.add_argument("--ssh", default="ssh", help="the ssh program (default: %(default)s)")
    parser.add_argument(
        "--ssh-option",
        action="append",
        default=[],
        metavar="OPT",
        help="an argument for ssh, e.g. --ssh-option=-oBatchMode=yes (repeatable)",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="start workers without keys (trusted networks only)"
    )
    parser.add_argument("--stop", action="store_true", help="stop the workers instead")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    hosts = read_hosts(args.hosts)
    if args.stop:
        for host in hosts:
            run(stop_command(args, host), args.dry_run)
        return 0
    if not args.coordinator:
        parser.error("--coordinator is required to start workers")
    if bool(args.keys) == bool(args.insecure):
        parser.error("pass --keys DIR (or, on a trusted network, --insecure)")
    for host in hosts:
        identity = identity_for(host, args.keys) if args.keys else None
        print(f"{host.target}: worker{f' with identity {identity}' if identity else ''}")
        if identity is not None:
            tar, untar = copy_keys_commands(args, host, identity)
            run(untar, args.dry_run, stdin_from=tar)
        pid = run(start_command(args, host, identity), args.dry_run)
        if pid:
            print(f"{host.target}: started, pid {pid}, log {args.work_dir}/minimr-worker.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
