"""Several "machines" on one host: network namespaces joined by veth links to a bridge.

Each node gets a namespace with one veth link into a bridge that lives in a namespace of its
own, and a private address that exists only inside the namespaces made here; nothing is added
to the root namespace. Used by the multi-host tests and by ``scripts/bench_shuffle.py``.
Needs root and iproute2 (``ip``, and ``tc`` to limit a link's rate).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.e2e.support import environment, stop_processes


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip ARGS`` and return the completed process."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class Network:
    """Namespaces joined by veth pairs to a bridge in its own namespace; torn down by close."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bridge = f"{prefix}br"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen] = []

    def add_bridge(self) -> None:
        """The bridge's own namespace and the bridge in it."""
        self._add_namespace(self.bridge)
        ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge, "link", "set", "br0", "up")

    def add_node(self, name: str, address: str) -> str:
        """A namespace for one machine, linked to the bridge, with ``address``/24."""
        ns = f"{self.prefix}{name}"
        self._add_namespace(ns)
        ip(
            "link",
            "add",
            "eth0",
            "netns",
            ns,
            "type",
            "veth",
            "peer",
            "name",
            f"to-{name}",
            "netns",
            self.bridge,
        )
        ip("-n", self.bridge, "link", "set", f"to-{name}", "master", "br0", "up")
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def cut(self, name: str) -> None:
        """Take a machine's link down, at both ends (a pulled cable)."""
        ip("-n", f"{self.prefix}{name}", "link", "set", "eth0", "down")
        ip("-n", self.bridge, "link", "set", f"to-{name}", "down")

    def _add_namespace(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.namespaces.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")

    def popen(self, name: str, args: list[str], **kwargs) -> subprocess.Popen:
        """Start ``args`` inside machine ``name``'s namespace."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", f"{self.prefix}{name}", *args],
            env=environment(),
            **kwargs,
        )
        self.processes.append(process)
        return process

    def run(self, name: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
        """Run ``args`` inside machine ``name``'s namespace to completion."""
        return subprocess.run(
            ["ip", "netns", "exec", f"{self.prefix}{name}", *args],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def close(self) -> None:
        """Stop every process started here, then delete the namespaces (and their links)."""
        stop_processes(self.processes, timeout=5)
        for ns in reversed(self.namespaces):
            ip("netns", "del", ns, check=False)


def skip_reason() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs .ci/run as root)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


def limit_rate(net: Network, name: str, rate: str) -> None:
    """Shape machine ``name``'s link to ``rate`` (``tc`` units: 1gbit, 200mbit) both ways."""
    for ns, dev in ((f"{net.prefix}{name}", "eth0"), (net.bridge, f"to-{name}")):
        subprocess.run(["tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
                        "burst", "1mb", "latency", "50ms"], check=True, capture_output=True)
