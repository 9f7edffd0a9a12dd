"""The README and docs/: the README stays a front door whose job runs, every link and anchor
resolves, and docs/reference.md names every option of every command."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import click
import pytest

import minimr
from minimr.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
WORD = re.compile(r"[a-z]+")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2...)."""
    seen: Counter[str] = Counter()
    found = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        if m := re.match(r"#{1,6} (.*)", line):
            base = slug(m.group(1))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def links(page: Path) -> list[str]:
    """The targets of a page's Markdown links, code blocks left out."""
    return LINK.findall(FENCE.sub("", page.read_text()))


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page):
    """Each link to a file of the project names one that exists, and each #anchor a heading
    of the page it points into."""
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        into = (page.parent / path).resolve() if path else page
        if not into.exists():
            broken.append(target)
        elif anchor and into.suffix == ".md" and anchor not in anchors(into):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_every_docs_page_is_linked_from_the_readme():
    """The README is the way in: it links every page of docs/."""
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(README)}
    assert [p.name for p in PAGES if p.resolve() not in linked] == []


def test_readme_is_a_front_door():
    """Under 150 lines, with its two commands, the exactness rule, and every command."""
    text = README.read_text()
    assert len(text.splitlines()) < 150
    assert ("pip install . && minimr submit jobs/wordcount.py --input data/text "
            "--output out/wordcount") in text
    assert "bash .ci/run" in text
    assert "**Exactness.**" in text and "(docs/exactness.md)" in text
    for name in main.list_commands(click.Context(main)):
        assert f"| `minimr {name}" in text, name


def test_reference_names_every_option_of_every_command():
    """docs/reference.md has a row for each option of each command, by its long name."""
    text = (ROOT / "docs" / "reference.md").read_text()
    missing = []
    context = click.Context(main)
    for name in main.list_commands(context):
        command = main.get_command(context, name)
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                longest = max(param.opts, key=len)
                if f"`{longest}" not in text and f"`{longest}/" not in text:
                    missing.append(f"{name} {longest}")
    assert missing == []


def test_the_readme_job_runs_as_shown(tmp_path, monkeypatch):
    """The README's job and its `minimr.run` lines, run as written from a folder that has the
    bundled corpus at data/text, count what a Counter loop counts."""
    python = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M)
    assert len(python) == 2, "the README shows a job and how to run it from Python"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "text").symlink_to(ROOT / "data" / "text")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(python[0] + python[1], str(README), "exec"), scope)
    expected = Counter(w for f in (ROOT / "data" / "text").iterdir()
                       for w in WORD.findall(f.read_text().lower()))
    assert dict(scope["result"].records()) == expected
    assert dict(minimr.read_output(tmp_path / "out" / "wc")) == expected


def test_how_it_works_names_every_module():
    """docs/how-it-works.md, the map of the code, names each module of the package."""
    text = (ROOT / "docs" / "how-it-works.md").read_text()
    modules = sorted(p for p in (ROOT / "minimr").rglob("*.py")
                     if p.name not in ("__init__.py", "__main__.py"))
    unnamed = [p for p in modules if not re.search(rf"[`/]{re.escape(p.name)}`", text)]
    assert [str(p.relative_to(ROOT)) for p in unnamed] == []
