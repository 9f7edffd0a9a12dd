"""The dashboard's cost: the coordinator's CPU with the dashboard watched, against not.

A real coordinator process (``minimr coordinator --dashboard``) runs a job of ``--tasks``
map tasks on fake workers (``bench_coordinator.py``'s, paced: each attempt takes
``--task-seconds``), twice: once with nobody looking at the dashboard, once with a poller
asking for what the job page asks every second (``/api/jobs/ID`` and the timeline's
fields of ``/api/jobs/ID/attempts``, revalidated with the ETag as a browser does). Prints the
coordinator's CPU (from /proc) for each run and their difference, and the size and time of
the job page's answers at the end of the job.

    python scripts/bench_dashboard.py --tasks 10000 --workers 4 --slots 8

``--browser`` also loads the finished job's page in headless Chromium (Debian's chromium
and chromedriver, driven by selenium) and prints how long the page took until its
timeline was drawn. Everything listens on 127.0.0.1; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_coordinator import (  # noqa: E402
    cpu_seconds,
    free_address,
    job_result,
    stop_process,
)

from minimr.cluster.wire import protocol as p  # noqa: E402
from minimr.cluster.wire import wirecodec as wire  # noqa: E402
from minimr.cluster.wire.transport import ZmqClient, wait  # noqa: E402


def paced_worker(address: str, slots: int, tasks: int, reducers: int, seconds: float) -> None:
    """A fake worker whose every attempt takes ``seconds`` (answered from a timer heap)."""
    name = f"fake-{os.getpid()}"
    conn = ZmqClient(address, name.encode())
    conn.send(wire.encode(p.Ready(name, "bench", os.getpid(), slots, "tcp://x:1")))
    output = {"path": "/dev/null", "partitions": [[10 * r, 10] for r in range(reducers)]}
    due: list[tuple[float, int, p.Message]] = []
    serial = 0
    last_beat = heard = time.monotonic()
    while time.monotonic() - heard < 5:
        timeout = max(0.0, min(0.2, due[0][0] - time.monotonic())) if due else 0.2
        wait([conn.pollable], timeout)
        now = time.monotonic()
        while (frames := conn.recv()) is not None:
            heard = now
            message = wire.decode(frames)
            reply: p.Message | None = None
            if isinstance(message, p.Assign):
                if message.kind == "prepare":
                    lists = {"map_tasks": [{"step": 0, "index": i, "reducers": reducers}
                                  for i in range(tasks)],
                             "reduce_tasks": [{"step": 0, "partition": r} for r in range(reducers)]}
                    reply = p.TaskDone(message.job_id, message.attempt, lists, {}, 0)
                elif message.kind == "map":
                    counters = {"minimr": {"map input records": 1000, "map input bytes": 65536}}
                    reply = p.TaskDone(message.job_id, message.attempt, output, counters, 0)
                elif message.kind == "reduce":
                    reply = p.CommitRequest(message.job_id, message.attempt)
                else:
                    reply = p.TaskDone(message.job_id, message.attempt, None, {}, 0)
                serial += 1
                heapq.heappush(due, (now + seconds, serial, reply))
            elif isinstance(message, p.CommitAnswer):
                conn.send(wire.encode(p.TaskDone(message.job_id, message.attempt, None, {}, 0)))
        while due and due[0][0] <= now:
            conn.send(wire.encode(heapq.heappop(due)[2]))
        if now - last_beat > 0.5:
            conn.send(wire.encode(p.Heartbeat()))
            last_beat = now
    conn.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Poller:
    """GETs what the job page asks for once a second, with the ETags, in a thread."""

    def __init__(self, base: str, token: str, job_id: str) -> None:
        self.base, self.token, self.job_id = base, token, job_id
        self.etags: dict[str, str] = {}
        self.requests = self.bytes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def get(self, path: str) -> bytes:
        headers = {"Authorization": f"Bearer {self.token}"}
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        request = urllib.request.Request(self.base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
                self.etags[path] = response.headers.get("ETag", "")
        except urllib.error.HTTPError as exc:
            if exc.code not in (304, 404):  # 404: the job is not in a snapshot yet
                raise
            body = b""
        self.requests += 1
        self.bytes += len(body)
        return body

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for path in (f"/api/jobs/{self.job_id}", f"/api/jobs/{self.job_id}/attempts"
                         "?fields=attempt,worker,lane,kind,state,start,end,duration,backup,why"):
                self.get(path)


def run_job(args: argparse.Namespace, watched: bool) -> dict:
    """One job through a fresh coordinator; its CPU, wall time and the page's figures."""
    address, port, token = free_address(), free_port(), secrets.token_urlsafe(12)
    base = f"http://127.0.0.1:{port}"
    coordinator = subprocess.Popen([
        sys.executable, "-c", "from minimr.cli import main; main()", "coordinator",
        "--bind", address, "--log-level", "WARNING", "--insecure",  # fake peers have no keys
        "--dashboard", f"127.0.0.1:{port}", "--dashboard-token", token,
    ], stderr=subprocess.DEVNULL)
    workers = [
        multiprocessing.Process(target=paced_worker, args=(
            address, args.slots, args.tasks, args.reducers, args.task_seconds))
        for _ in range(args.workers)
    ]
    poller = None
    try:
        for w in workers:
            w.start()
        time.sleep(1.5)
        client = ZmqClient(address, b"bench-client")
        job_id = f"bench-{'watched' if watched else 'alone'}"
        before = cpu_seconds(coordinator.pid)
        started = time.monotonic()
        client.send(wire.encode(p.Submit(job_id, "bench", 1, p.Options(), "cloudpickle", b"x")))
        if watched:
            poller = Poller(base, token, job_id)
            poller.thread.start()
        result = job_result(client)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(coordinator.pid) - before
        if poller is not None:
            poller.stop.set()
            poller.thread.join()
        figures = {"state": result.state, "wall": elapsed, "cpu": cpu}
        if poller is not None:
            figures.update(requests=poller.requests, polled_bytes=poller.bytes)
        time.sleep(1.1)  # past the snapshot interval: the job's end is in the next snapshot
        page = Poller(base, token, job_id)
        for path in (f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/attempts"):
            t0 = time.perf_counter()
            body = page.get(path)
            figures[f"GET {path.replace(job_id, 'ID')}"] = (time.perf_counter() - t0, len(body))
        figures["attempts"] = json.loads(body)["total"]
        if args.browser and watched:
            figures["browser"] = load_in_browser(base, token, job_id)
        client.close()
        return figures
    finally:
        stop_process(coordinator)
        for w in workers:
            w.join(10)
            stop_process(w)


def load_in_browser(base: str, token: str, job_id: str) -> dict:
    """Seconds until the job page's timeline is drawn in headless Chromium, twice (cold,
    then a reload)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-dev-shm-usage",
                 "--window-size=1360,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    times = {}
    try:
        driver.get(f"{base}/?token={token}")
        for name in ("cold", "reload"):
            t0 = time.perf_counter()
            driver.get(f"{base}/jobs/{job_id}")
            WebDriverWait(driver, 120, poll_frequency=0.02).until(
                lambda d: d.find_elements("css selector", "#timeline svg"))
            times[name] = time.perf_counter() - t0
        canvas = driver.find_elements("css selector", "#timeline canvas.bars")
        times["bars"] = (int(canvas[0].get_attribute("data-bars")) if canvas else
                         len(driver.find_elements("css selector", "#timeline rect.a")))
        driver.get(f"{base}/jobs/{job_id}/tasks")
        t0 = time.perf_counter()
        WebDriverWait(driver, 120, poll_frequency=0.02).until(
            lambda d: len(d.find_elements("css selector", "tbody tr")) > 1)
        times["tasks page"] = time.perf_counter() - t0
    finally:
        driver.quit()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--reducers", type=int, default=4)
    parser.add_argument("--task-seconds", type=float, default=0.1,
                        help="how long each fake attempt takes (default 0.1)")
    parser.add_argument("--browser", action="store_true",
                        help="also time the job page in headless Chromium")
    args = parser.parse_args()
    alone = run_job(args, watched=False)
    watched = run_job(args, watched=True)
    for name, figures in (("nobody watching", alone), ("dashboard polled at 1 Hz", watched)):
        print(f"{name}: job {figures['state']}, {figures['attempts']} attempts in "
              f"{figures['wall']:.1f} s; coordinator CPU {figures['cpu']:.2f} s "
              f"({100 * figures['cpu'] / figures['wall']:.1f}% of a core)")
        for key, value in figures.items():
            if key.startswith("GET "):
                print(f"  {key}: {value[0] * 1000:.0f} ms, {value[1] / 1e6:.2f} MB")
        if "requests" in figures:
            print(f"  {figures['requests']} requests, {figures['polled_bytes'] / 1e6:.1f} MB")
        if "browser" in figures:
            print(f"  browser: {figures['browser']}")
    extra = watched["cpu"] - alone["cpu"]
    print(f"the dashboard's cost: {extra:+.2f} s of coordinator CPU "
          f"({100 * extra / max(alone['cpu'], 1e-9):+.0f}%)")


if __name__ == "__main__":
    main()
