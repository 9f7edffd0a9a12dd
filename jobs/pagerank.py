"""PageRank of the nodes of a directed graph, by a fixed number of power iterations.

Input: one edge a line, ``src<TAB>dst`` (any whitespace separates the two node names; blank
lines and lines starting with ``#`` are skipped, duplicate edges count once). A node that
only ever appears as a destination is a node too.

The ranks are the standard ones, after a fixed number of iterations rather than until they
converge: starting from ``1/N`` everywhere, each iteration sets every node's rank to::

    (1 - d) / N  +  d * (sum of rank(u) / outdegree(u) over the links u -> v
                         + (rank held by dangling nodes) / N)

with damping ``d`` (the job's option ``--damping``, 0.85 by default) and ``N`` nodes. A
*dangling* node (no out-links) spreads its rank evenly over all nodes, so the ranks always
sum to 1.

Steps: the first step builds each node's adjacency list from the edges (over the run's
reducers); each of the ``--iterations`` (10 by default) steps that follow sends every node's
rank along its links and computes the new ranks. Inside the job, ranks are kept scaled by
``N`` (they start at 1.0, so no step needs ``N`` before it has counted the nodes) and the
last step divides by ``N``.

Every new rank needs two totals over the whole graph: ``N`` and the rank held by dangling
nodes, the latter new in every iteration. Job options and side files reach every task, but
they are fixed when the job is submitted; a total computed while the job runs reaches only
the reduce partition of its key. So the rank steps run with one reducer and use the *order
inversion* pattern: the map sends the totals' parts under the key ``""``, which sorts before
every node name, so the reducer sees the totals first and keeps them for the nodes that
follow. The maps still run in parallel, and the combiner shrinks what reaches the reducer to
one value per node and map task.

Run it on the project's sample graph::

    minimr submit jobs/pagerank.py --input data/graph/edges.tsv --output out/pagerank \\
        --overwrite --iterations 20 --damping 0.9

Output: one file, ``out/pagerank/part-00000``, one node a line, sorted by node name: the
node, a TAB, its rank (a float; all ranks sum to 1)::

    'n00'	0.13061245005749542
    'n01'	0.12581928144821963
"""

from __future__ import annotations

from minimr import Job, Option, Step, UsageError

TOTALS = ""  # the key of the graph-wide totals: sorts before every node name


class PageRank(Job):
    """PageRank with damping ``--damping``, after ``--iterations`` power iterations."""

    options = [
        Option("--iterations", type=int, default=10, help="Power iterations (one step each)."),
        Option("--damping", type=float, default=0.85,
               help="The probability of following a link rather than jumping anywhere."),
    ]

    def steps(self):
        """Build adjacency lists, then ``--iterations`` rank steps, the last one normalised."""
        iterations, damping = self.options.iterations, self.options.damping
        if iterations < 1:
            raise UsageError(f"--iterations must be at least 1 (got {iterations})")
        if not 0 <= damping <= 1:
            raise UsageError(f"--damping must be between 0 and 1 (got {damping})")
        rank_steps = [
            Step(map=self.spread, combine=self.combine, reduce=self.update, reducers=1)
            for _ in range(iterations - 1)
        ]
        last = Step(map=self.spread, combine=self.combine, reduce=self.finish, reducers=1)
        return [Step(map=self.parse_edge, reduce=self.collect_links), *rank_steps, last]

    # -- step 1: the graph ---------------------------------------------------------------------
    def parse_edge(self, key, line):
        """Yield ``(src, dst)``, and ``(dst, None)`` so that sinks are nodes too."""
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            return
        if len(fields) != 2:
            raise ValueError(f"expected 'src<TAB>dst' at {key[0]}, byte {key[1]} (got {line!r})")
        src, dst = fields
        yield src, dst
        yield dst, None

    def collect_links(self, node, targets):
        """Yield ``(node, (1.0, sorted out-links))``: the starting rank, scaled by N."""
        yield node, (1.0, tuple(sorted({t for t in targets if t is not None})))

    # -- the rank steps ------------------------------------------------------------------------
    def spread(self, node, state):
        """Send the node's rank along its links, its links to itself, and its totals' parts.

        Values: a float is a share of rank, a tuple the node's links, and under ``TOTALS`` a
        pair ``(nodes, dangling rank)``.
        """
        rank, links = state
        yield node, links
        if links:
            share = rank / len(links)
            for target in links:
                yield target, share
            yield TOTALS, (1, 0.0)
        else:
            yield TOTALS, (1, rank)

    def combine(self, key, values):
        """Sum the shares of a node (passing its links on), or the parts of the totals."""
        if key == TOTALS:
            nodes, dangling = 0, 0.0
            for count, rank in values:
                nodes += count
                dangling += rank
            yield key, (nodes, dangling)
            return
        shares = 0.0
        has_share = False
        for value in values:
            if type(value) is tuple:
                yield key, value
            else:
                shares += value
                has_share = True
        if has_share:
            yield key, shares

    def update(self, key, values):
        """Keep the totals (they come first), then yield ``(node, (new rank, links))``."""
        if key == TOTALS:
            self._totals(values)
            return
        links, shares = self._gather(values)
        d = self.options.damping
        yield key, ((1 - d) + d * (shares + self.dangling / self.nodes), links)

    def finish(self, key, values):
        """Like ``update``, but yield ``(node, rank)`` with ranks that sum to 1."""
        for node, (rank, _links) in self.update(key, values):
            yield node, rank / self.nodes

    def _totals(self, values):
        self.nodes = 0
        self.dangling = 0.0
        for count, rank in values:
            self.nodes += count
            self.dangling += rank

    @staticmethod
    def _gather(values):
        links = ()
        shares = 0.0
        for value in values:
            if type(value) is tuple:
                links = value
            else:
                shares += value
        return links, shares
