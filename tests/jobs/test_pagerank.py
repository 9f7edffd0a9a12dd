"""jobs/pagerank.py against an in-memory power iteration on the same graph."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import minimr
from tests.jobs.conftest import job_path, load_job_module, read_parts, run_job

TOLERANCE = 1e-9


def reference_pagerank(edges_path: Path, damping: float = 0.85,
                       iterations: int = 10) -> dict[str, float]:
    """Plain Python power iteration; dangling nodes spread their rank over every node."""
    links: dict[str, set[str]] = {}
    for line in edges_path.read_text().splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        src, dst = fields
        links.setdefault(src, set()).add(dst)
        links.setdefault(dst, set())
    n = len(links)
    rank = dict.fromkeys(links, 1.0 / n)
    for _ in range(iterations):
        dangling = sum(rank[node] for node, out in links.items() if not out)
        new = dict.fromkeys(links, (1 - damping) / n + damping * dangling / n)
        for node, out in links.items():
            for target in out:
                new[target] += damping * rank[node] / len(out)
        rank = new
    return rank


def write_edges(tmp_path: Path, lines: list[str]) -> Path:
    """An edge file with the given lines."""
    path = tmp_path / "graph" / "edges.tsv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def graph(tmp_path: Path) -> Path:
    """A random graph of 60 nodes: dangling nodes, sink-only nodes, duplicate edges, a comment."""
    rng = random.Random(3)
    nodes = [f"v{i:02d}" for i in range(60)]
    lines = ["# src\tdst", ""]
    for i, node in enumerate(nodes[:50]):
        if i % 7 == 3:
            continue  # dangling: no out-links (some of these still receive links)
        for target in rng.sample(nodes, rng.randint(1, 6)):
            lines.append(f"{node}\t{target}")
    lines += lines[2:12]  # duplicate edges count once
    rng.shuffle(lines)
    return write_edges(tmp_path, lines)


def test_ranks_equal_power_iteration(graph, tmp_path):
    """Every node's rank equals the in-memory power iteration's within 1e-9."""
    result = run_job(job_path("pagerank"), graph, tmp_path, reducers=3)
    ranks = dict(result.records())
    expected = reference_pagerank(graph)
    assert ranks.keys() == expected.keys()
    assert any(node >= "v50" for node in ranks)  # nodes that only ever receive links
    for node, rank in expected.items():
        assert ranks[node] == pytest.approx(rank, abs=TOLERANCE)
    assert sum(ranks.values()) == pytest.approx(1.0, abs=TOLERANCE)


def test_output_is_one_part_sorted_by_node(graph, tmp_path):
    """The ranks come out in one part file, one line per node, in node order."""
    result = run_job(job_path("pagerank"), graph, tmp_path, reducers=3)
    parts = read_parts(result)
    assert len(parts) == 1
    nodes = [node for node, _ in parts[0]]
    assert nodes == sorted(set(nodes))
    assert all(type(rank) is float for _, rank in parts[0])


def test_damping_and_iterations_are_options(graph, tmp_path):
    """--damping and --iterations give the reference's ranks with those values."""
    result = run_job(job_path("pagerank"), graph, tmp_path,
                     options={"damping": 0.5, "iterations": 3})
    ranks = dict(result.records())
    for node, rank in reference_pagerank(graph, damping=0.5, iterations=3).items():
        assert ranks[node] == pytest.approx(rank, abs=TOLERANCE)
    assert ranks != pytest.approx(reference_pagerank(graph), abs=TOLERANCE)


def test_one_step_per_iteration():
    """The job has the graph step and one rank step per --iterations."""
    job = load_job_module("pagerank").PageRank()
    job.options = minimr.Options({"iterations": 3, "damping": 0.85})
    assert len(job.steps()) == 4


@pytest.mark.parametrize(("options", "message"), [
    ({"iterations": 0}, r"--iterations must be at least 1 \(got 0\)"),
    ({"damping": 1.5}, r"--damping must be between 0 and 1 \(got 1.5\)"),
    ({"damping": "high"}, r"--damping: the value must be <float> \(got 'high'"),
])
def test_bad_options_fail_before_any_task(options, message, graph, tmp_path):
    """Iterations below 1, a damping outside [0, 1] or not a number: usage errors, no output."""
    with pytest.raises(minimr.UsageError, match=message):
        run_job(job_path("pagerank"), graph, tmp_path, options=options)
    assert not (tmp_path / "out").exists()


def test_all_rank_to_a_sink(tmp_path):
    """In a chain into a dangling node, rank still sums to 1 and matches the reference."""
    edges = write_edges(tmp_path, ["a\tb", "b\tc"])
    ranks = dict(run_job(job_path("pagerank"), edges, tmp_path).records())
    expected = reference_pagerank(edges)
    assert ranks == pytest.approx(expected, abs=TOLERANCE)
    assert ranks["c"] > ranks["b"] > ranks["a"]


def test_malformed_edge_names_its_place(tmp_path):
    """A line that is not two node names fails with the file, the byte offset and the line."""
    edges = write_edges(tmp_path, ["a\tb", "a b c"])
    with pytest.raises(ValueError, match=r"edges.tsv, byte 4 \(got 'a b c'\)"):
        run_job(job_path("pagerank"), edges, tmp_path)
