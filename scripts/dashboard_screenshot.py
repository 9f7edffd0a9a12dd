#!/usr/bin/env python3
"""Take the dashboard screenshot of docs/dashboard.md: a plain job on a real local cluster.

Starts ``minimr coordinator --dashboard 0`` and two ``minimr worker`` processes on loopback,
runs ``jobs/wordcount.py`` over the project's sample text (``data/text``, cut into 32 KiB
splits so the timeline has bars to show) with ``minimr submit -c``, opens the finished job's
page in headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven by selenium from
the test extra) and saves it as PNG.

    python scripts/dashboard_screenshot.py docs/img/dashboard.png
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 1360


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dashboard_url(log: Path, coordinator: subprocess.Popen) -> str:
    """The address with its token, as the coordinator prints it."""
    for _ in range(300):
        for line in log.read_text().splitlines():
            if line.startswith("dashboard: "):
                return line.removeprefix("dashboard: ").strip()
        if coordinator.poll() is not None:
            sys.exit(f"the coordinator ended:\n{log.read_text()}")
        time.sleep(0.1)
    sys.exit("the coordinator printed no dashboard address")


def _screenshot(url: str, job_id: str, output: Path) -> None:
    """Open the job's page in headless Chromium and save the whole page as ``output``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--window-size={WIDTH},1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(url)  # the token becomes a cookie
        base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
        driver.get(f"{base}/jobs/{job_id}")
        for _ in range(100):
            if driver.execute_script("return document.querySelectorAll('#timeline rect').length"):
                break
            time.sleep(0.1)
        time.sleep(1)  # one more redraw, with everything in
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": WIDTH, "height": min(int(height), 6000), "deviceScaleFactor": 1,
            "mobile": False})
        image = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        output.write_bytes(base64.b64decode(image["data"]))
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the PNG to write")
    args = parser.parse_args()
    minimr = [sys.executable, "-m", "minimr"]
    address = f"tcp://127.0.0.1:{_free_port()}"
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "coordinator.log"
        with open(log, "w") as stderr:
            processes = [subprocess.Popen([*minimr, "coordinator", "--bind", address,
                                           "--dashboard", "0"], stderr=stderr)]
        try:
            url = _dashboard_url(log, processes[0])
            processes += [subprocess.Popen([*minimr, "worker", "-c", address, "--slots", "1",
                                            "--name", f"worker-{n}"]) for n in (1, 2)]
            subprocess.run([*minimr, "submit", str(ROOT / "jobs" / "wordcount.py"),
                            "--input", str(ROOT / "data" / "text"), "--output",
                            f"{scratch}/out", "--split-size", "32KB", "--reducers", "2",
                            "-c", address, "--quiet"], check=True)
            token = parse_qs(urlsplit(url).query)["token"][0]
            request = urllib.request.Request(
                url.split("/?")[0] + "/api/jobs", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                job_id = json.load(answer)["jobs"][-1]["job_id"]
            _screenshot(url, job_id, args.output)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
