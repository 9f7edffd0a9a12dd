"""The dashboard in a real browser: headless Chromium loads each page during a real job.

Chromium and chromedriver are Debian's (``.ci/run`` installs them); selenium drives them,
downloading nothing. Without them the tests skip, saying why, except in CI (``CI`` set),
where they must run. Screenshots go to ``$MINIMR_SCREENSHOTS`` (default
``tests/artifacts/dashboard/``, ignored by git).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

import minimr
from minimr.cluster.client.client import submit_plan
from minimr.cluster.client.localcluster import LocalCluster
from minimr.errors import JobFailed
from tests.e2e.jobs.dashboard import MARKUP
from tests.e2e.support import JOBS, ROOT, TEXT, make_plan

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1360,1000")
SCREENSHOTS = Path(os.environ.get("MINIMR_SCREENSHOTS", ROOT / "tests" / "artifacts" / "dashboard"))
WAIT = 30.0


def _browser_paths() -> tuple[str, str] | str:
    """(chromium, chromedriver), or why they cannot be used."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    browser = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        return "no chromium and chromedriver found (apt-get install chromium chromium-driver)"
    return browser, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile, driven by selenium."""
    found = _browser_paths()
    if isinstance(found, str):
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI: {found}")
        pytest.skip(found)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(WAIT)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, what: str):
    """Wait until ``condition(driver)`` is truthy; fail saying ``what`` was awaited."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)
                             ).until(condition)
    except TimeoutException:
        shot(driver, "timeout")
        pytest.fail(f"waited {WAIT:g} s for {what}; page text:\n{page_text(driver)[:2000]}")


def shot(driver, name: str) -> Path:
    """Save a screenshot of the whole page (not only the window) as NAME.png."""
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": 1360, "height": min(int(height), 6000), "deviceScaleFactor": 1,
               "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        image = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.write_bytes(base64.b64decode(image["data"]))
    return path


def page_text(driver) -> str:
    """Everything the page shows, as text."""
    return driver.execute_script("return document.body.innerText")


def texts(driver, selector: str) -> list[str]:
    """The text a person sees in each element ``selector`` matches, read in one go (the
    page redraws itself every second: an element found earlier may be gone)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText.trim())",
        selector,
    )


def count(driver, selector: str) -> int:
    """How many elements ``selector`` matches now."""
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length",
                                 selector)


def click(driver, selector: str) -> None:
    """Click the first element ``selector`` matches, as found at the moment of the click."""
    driver.execute_script("document.querySelector(arguments[0]).click()", selector)


def api(cluster: LocalCluster, path: str) -> dict:
    """``GET /api/...`` with the dashboard's token."""
    request = urllib.request.Request(
        cluster.dashboard.base + path,
        headers={"Authorization": f"Bearer {cluster.dashboard.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class Running:
    """A job run from a thread (``plan`` submitted to ``address``, or ``run()``);
    ``result`` or ``error`` once it ended."""

    def __init__(self, plan, address: str, run=None) -> None:
        self.plan = plan
        self.result = self.error = None
        self.run = run or (lambda: submit_plan(plan, address))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self.run()
        except JobFailed as exc:
            self.error = exc

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive(), "the job did not end"


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """An embedded cluster of two workers serving its dashboard."""
    monkeypatch.setenv("MINIMR_DASHBOARD_FLAGS", str(tmp_path))
    monkeypatch.setenv("MINIMR_DASHBOARD_SLEEP", "1.0")
    with LocalCluster(2, dashboard="0", heartbeat_interval=0.2, heartbeat_liveness=5) as local:
        yield local


def test_a_running_job_seen_in_a_browser(browser, cluster, tmp_path):
    """The cluster page lists the workers and the job; the job page shows its state and
    counts and updates live, without a reload, until the job has succeeded; its timeline
    draws one bar per attempt, the failed attempt among them; the tasks page leads from the
    failed attempt to its log page, where what the job raised is text."""
    plan = make_plan("dashboard.py:Slow", [TEXT], tmp_path / "out", reducers=2,
                     split_size="64KB", max_attempts=3)
    job = Running(plan, cluster.address)
    browser.get(cluster.dashboard_url)
    assert "token=" not in browser.current_url  # the token became a cookie
    # both workers: on a loaded machine one may miss its heartbeats (1 s here) and rejoin
    wait_for(browser, lambda d: count(d, "table") == 2 and plan.job_id in page_text(d)
             and count(d, "table:first-of-type tbody tr") == 2,
             "the two workers and the job on the cluster page")
    assert "running" in texts(browser, ".badge")
    shot(browser, "cluster")

    click(browser, f'a[href="/jobs/{plan.job_id}"]')
    wait_for(browser, lambda d: count(d, ".badge") and count(d, "#timeline svg"), "the job page")
    assert texts(browser, "h1") == ["Slow"]
    assert texts(browser, ".badge")[0] in ("running", "queued")
    shot(browser, "job-running")

    job.join()
    assert job.error is None, job.error
    wait_for(browser, lambda d: texts(d, ".badge")[:1] == ["succeeded"],
             "the job page to say succeeded without a reload")
    attempts = api(cluster, f"/api/jobs/{plan.job_id}/attempts")["attempts"]
    wait_for(browser, lambda d: count(d, "#timeline rect.a") == len(attempts),
             "one bar per attempt")
    assert count(browser, "#timeline rect.a.failed") == 1
    text = page_text(browser)
    assert "16 / 16" in text and "2 / 2" in text  # the maps and reduces, all done
    shot(browser, "job-succeeded")

    click(browser, '.tabs a[href$="/tasks"]')
    wait_for(browser, lambda d: count(d, "#state-filter"), "the tasks page")
    shot(browser, "tasks")
    browser.execute_script("const s = document.querySelector('#state-filter');"
                           "s.value = 'failed'; s.dispatchEvent(new Event('change'));")
    wait_for(browser, lambda d: "state=failed" in d.current_url and
             count(d, "tbody tr") == 1, "the one failed attempt")
    (failed,) = texts(browser, "tbody tr")
    assert "failed" in failed and "the first try fails" in failed
    click(browser, 'tbody tr a[href*="/logs/"]')
    wait_for(browser, lambda d: texts(d, "h1")[:1] == [f"Log of {plan_attempt(failed)}"],
             "the failed attempt's log page")
    assert texts(browser, ".badge") == ["failed"]
    assert MARKUP in texts(browser, "#why")[0]  # shown as text, never run
    wait_for(browser, lambda d: count(d, "#log"), "the attempt's log")
    assert "reading part-00001.txt from byte 0: " + MARKUP in texts(browser, "#log")[0]
    assert browser.title == "minimr dashboard"
    assert count(browser, "script") == 1 and count(browser, "img") == 0
    shot(browser, "log")


def plan_attempt(row: str) -> str:
    """The attempt id a row of the tasks table starts with."""
    return row.split()[0]


def test_a_failed_job_shows_the_users_traceback_and_the_replay_command(browser, cluster,
                                                                        tmp_path):
    """A job that fails shows why: the task, the user's traceback (its markup as text) and
    the command that replays the task, the same as the failed job's message."""
    job = Running(None, cluster.address, lambda: minimr.run(
        str(JOBS / "dashboard.py:Broken"), [str(TEXT)], str(tmp_path / "out"), reducers=1,
        coordinator=cluster.address, max_attempts=2))
    browser.get(cluster.dashboard_url)
    job.join()
    assert job.error is not None
    (failed,) = api(cluster, "/api/jobs")["jobs"]
    browser.get(f"{cluster.dashboard.base}/jobs/{failed['job_id']}")
    wait_for(browser, lambda d: count(d, "pre.traceback"), "the failure's traceback")
    assert texts(browser, ".badge")[0] == "failed"
    (traceback,) = texts(browser, "pre.traceback")
    assert "ValueError: always fails: " + MARKUP in traceback
    assert browser.title == "minimr dashboard" and count(browser, "img") == 0
    (replay,) = texts(browser, "pre.replay")
    assert replay.startswith("minimr replay ") and "--split" in replay
    assert str(job.error).rstrip().endswith("\n  " + replay)  # as the failed run printed it
    shot(browser, "job-failed")
