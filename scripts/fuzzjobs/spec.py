"""Generated jobs: what a job is made of (``JobSpec``), drawn from a seed, and its job file.

A ``Case`` is a job spec, its input files and the engine settings to run it with. Input lines
hold words ``K.V`` (the indexes of a key and a value in the job's tables) and noise words the
maps skip: no dot, a value index that is not a number, form feeds, U+2028, ``\\r``, invalid
UTF-8. ``render.render`` writes a spec as the source text of a real job file.

The forms a step's map can take (``FIRST_MAPS``, ``LATER_MAPS``) each yield the same pairs
however the input is cut into tasks: state kept in ``self`` is a lookup table, the lines seen
(a map called twice on one line raises), or a list flushed by ``map_final``; never a count that
would depend on which records share a task. Reducers and combiners are chosen by the family of
the values they get (``pools``), so that their output depends neither on the order of the
values nor on how the engine splits them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from fuzzjobs import pools

#: forms of a first step's map: they read text lines
FIRST_MAPS = ("const", "filter", "variable", "tuple", "where", "genexpr", "try", "once",
              "batch", "counter", "final", "keys", "tagged")
#: forms of a later step's map: they read the previous step's (key, value) records
LATER_MAPS = ("pass", "swap", "typed", "batch_pass")
#: the forms that keep state in ``self`` (made in ``setup``), so only a class can hold them
STATEFUL = ("try", "once", "final")
#: value families (see ``pools``; ``ints``: the offsets a map yields; ``counts``: a batch
#: map's Counter values, whose split into counts depends on the batches: only summed)
FAMILIES = ("any", "sum_float", "sum_exact", "order", "ints", "counts")
_SUMMED = ("sum_float", "sum_exact", "ints", "counts")
_ORDERED = ("order", "ints")
_ANY = tuple(f for f in FAMILIES if f != "counts")
#: the value families each reducer form takes (its output must not depend on their order);
#: ``fold_X`` is the declared ``minimr.fold(X)``, which also combines when no combiner is given
REDUCE_FAMILIES = {
    "none": _ANY, "each": _ANY, "sorted": _ANY, "count": _ANY,
    "sum": _SUMMED, "loop_sum": _SUMMED, "fold_sum": _SUMMED,
    "min": _ORDERED, "max": _ORDERED, "fold_min": _ORDERED, "fold_max": _ORDERED,
    "fold_any": FAMILIES, "fold_all": FAMILIES,  # truth values: any order, any split
    # ``sort_values``: every value, in the order they arrive (sorted, a secondary sort), under
    # the least of equal keys (0 and -0.0, 1 and True) as every reducer; a first step's only
    "in_order": _ORDERED,
}
#: the reducer forms whose step asks for its values sorted (``sort_values``)
SORTED_REDUCES = ("in_order",)
#: the combiners that may run before each reducer form (combining must not change its result)
_SUMS = ("none", "each", "sum", "loop_sum", "fold_sum")
COMBINERS = {
    "sum": _SUMS, "loop_sum": _SUMS, "fold_sum": _SUMS,
    "min": ("none", "each", "min", "fold_min"), "fold_min": ("none", "each", "min", "fold_min"),
    "max": ("none", "each", "max", "fold_max"), "fold_max": ("none", "each", "max", "fold_max"),
    "fold_any": ("none", "each", "fold_any"), "fold_all": ("none", "each", "fold_all"),
}
#: constants of the ``const`` map form, and the value family each makes
CONSTANTS = {"1": "ints", "1.0": "sum_float", "True": "sum_float", "-0.0": "sum_float",
             "0.5": "sum_float", "'a'": "any", "None": "any"}
#: the declared forms (``minimr.fold``, ``map_keys``), by what declares them
DECLARED = {"fold": frozenset({"fold_sum", "fold_min", "fold_max", "fold_any", "fold_all"}),
            "map_keys": frozenset({"keys"})}
NOISE = [b"x", b"7", "\u00e9".encode(), b"1.x", b"\x0c", b"\x0b", b"\x1c", "\x85".encode(),
         "\u2028".encode(), b"\r", b"\xff", b"\xc3", b"3."]


@dataclass(frozen=True)
class StepSpec:
    """One step: its map, combine and reduce forms, reducer count (0: map-only, with no
    combine or reduce) and partitioner."""

    map: str
    combine: str = "none"
    reduce: str = "none"
    reducers: int = 1
    partitioner: str = "hash"


@dataclass(frozen=True)
class JobSpec:
    """A generated job: its style, key and value tables (source text), const, steps."""

    style: str  # "class" or "module" (top-level functions; one step, no state in self)
    key_family: str
    value_family: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    const: str = "1"


@dataclass(frozen=True)
class Case:
    """A job spec, its input files (name -> bytes) and the engine settings to run it with."""

    spec: JobSpec
    inputs: tuple[tuple[str, bytes], ...]
    split_size: int = 256
    sort_buffer: int = 1024
    label: str = field(default="", compare=False)

    def uses(self, declared: str) -> bool:
        """True when the job uses the declared form ``declared`` (a key of ``DECLARED``)."""
        forms = DECLARED[declared]
        return any(forms & {s.map, s.combine, s.reduce} for s in self.spec.steps)


def map_output(spec: JobSpec, step: StepSpec, values_in: str, keys_orderable: bool
               ) -> tuple[str, bool]:
    """The value family and key orderability of a step's map output.

    Args:
        values_in: the family of the values the step reads (a later step: the previous
            step's output values).
        keys_orderable: whether the keys the step reads can all be compared.
    """
    if step.map == "const":
        return CONSTANTS[spec.const], keys_orderable
    if step.map == "counter":
        return "counts", True  # keys: strs
    if step.map in ("variable", "keys"):
        return "ints", keys_orderable
    if step.map == "tuple":
        return "any", keys_orderable
    if step.map == "tagged":  # (tag, value, offset): comparable when the values are
        return ("order" if values_in == "order" else "any"), True  # keys: strs
    if step.map == "swap":
        return "any", True  # the old values (hashable numbers or one kind) are the keys
    if step.map == "typed":
        return "any", True  # keys: type names
    return values_in, keys_orderable  # the value table's family, or the previous values


def reduce_output(step: StepSpec, values_in: str) -> str:
    """The value family of a step's output."""
    if step.reduce == "count" or values_in == "counts":  # a count, or a sum of counts
        return "ints"
    if step.reduce == "sorted" or step.reduce in SORTED_REDUCES:  # a list or tuple a key
        return "any"
    return values_in  # sums, min, max, each value, none: the family they got


def families(spec: JobSpec) -> list[str] | None:
    """The value family each step's reduce gets, or None when a step is not valid: a map
    form in the wrong place, a reducer or combiner its values do not suit (its output would
    depend on their order or on how the input is cut), a range partitioner over keys that
    cannot be compared."""
    values, orderable = spec.value_family, spec.key_family in pools.ORDERABLE_KEYS
    found = []
    for i, step in enumerate(spec.steps):
        if step.map not in (FIRST_MAPS if i == 0 else LATER_MAPS) or (
                step.map == "swap" and values in ("any", "counts")):
            return None
        values, orderable = map_output(spec, step, values, orderable)
        if step.reduce in SORTED_REDUCES and i > 0:
            return None
        if (values not in REDUCE_FAMILIES[step.reduce]
                or step.combine not in COMBINERS.get(step.reduce, ("none", "each"))
                or (step.partitioner == "range" and not orderable)):
            return None
        if step.reducers == 0 and (step.reduce, step.combine, step.partitioner) != (
                "none", "none", "hash"):
            return None  # a map-only step has no reduce, combine or range partitions
        found.append(values)
        values = reduce_output(step, values)
    return found


#: first-step map forms whose values come from the value table, whose family the job picks
FROM_TABLE = ("filter", "where", "genexpr", "try", "once", "batch", "final", "tagged")
TABLE_FAMILIES = ("any", "sum_float", "sum_exact", "order")


def generate(rng: random.Random, index: int = 0) -> JobSpec:
    """A random job spec.

    The first step's map, reduce and combine forms turn with ``index``, so that any few
    dozen consecutive jobs use every form; the rest (tables, later steps, reducer counts,
    partitioners) is drawn from ``rng``.
    """
    first, reduces = FIRST_MAPS, list(REDUCE_FAMILIES)
    form = first[index % len(first)]
    target = reduces[(index + 5 * (index // len(first))) % len(reduces)]
    if form == "tagged":  # a join's shape: tagged rows, each key's rows in order
        target = "in_order"
    nsteps = rng.choices((1, 2, 3), (6, 3, 1))[0]
    style = "module" if nsteps == 1 and form not in STATEFUL and rng.random() < 0.25 else "class"
    key_family = rng.choice(("mixed", "mixed", "numbers", "strings", "tuples"))
    suits = [f for f in TABLE_FAMILIES if f in REDUCE_FAMILIES[target]]
    value_family = rng.choice(suits if form in FROM_TABLE and suits else TABLE_FAMILIES)
    consts = [c for c, f in CONSTANTS.items() if f in REDUCE_FAMILIES[target]]
    spec = JobSpec(style=style, key_family=key_family, value_family=value_family,
                   keys=tuple(pools.pick_keys(rng, key_family)),
                   values=tuple(pools.pick_values(rng, value_family)), steps=(),
                   const=rng.choice(consts or list(CONSTANTS)))
    values, orderable = value_family, key_family in pools.ORDERABLE_KEYS
    steps: list[StepSpec] = []
    for i in range(nsteps):
        if i > 0:
            form = rng.choice([m for m in LATER_MAPS if m != "swap" or values != "any"])
        step = StepSpec(map=form)
        values, orderable = map_output(spec, step, values, orderable)
        fits = [r for r in reduces if values in REDUCE_FAMILIES[r]
                and (i == 0 or r not in SORTED_REDUCES)]
        reduce = target if i == 0 and target in fits else rng.choice(fits)
        combiners = COMBINERS.get(reduce, ("none", "each"))
        combine = combiners[(index // 2) % len(combiners)] if i == 0 else rng.choice(combiners)
        partitioner = "range" if orderable and rng.random() < 0.4 else "hash"
        reducers = rng.randint(1, 5)
        if reduce == "none" and partitioner == "hash" and (index + i) % 2 == 0:
            combine, reducers = "none", 0  # map-only (drawn without the rng: seeds keep
            # drawing the jobs they drew)
        step = replace(step, combine=combine, reduce=reduce, reducers=reducers,
                       partitioner=partitioner)
        values = reduce_output(step, values)
        steps.append(step)
    spec = replace(spec, steps=tuple(steps))
    assert families(spec) is not None, spec  # the generator's own rules, checked
    return spec


def _word(rng: random.Random, nkeys: int, nvalues: int) -> bytes:
    if rng.random() < 0.12:
        return rng.choice(NOISE)
    return b"%d.%d" % (rng.randrange(nkeys), rng.randrange(nvalues))


def _lines(rng: random.Random, spec: JobSpec, count: int) -> list[bytes]:
    """``count`` lines of words (some empty); a skewed file names only the first value in
    its first lines, as a log whose later lines differ (an engine must not guess from them)."""
    skewed = rng.randrange(count) if rng.random() < 0.3 else 0
    lines = []
    for n in range(count):
        words = ([] if rng.random() < 0.1 else
                 [_word(rng, len(spec.keys), 1 if n < skewed else len(spec.values))
                  for _ in range(rng.randint(1, 12))])
        lines.append(rng.choice((b" ", b"  ", b"\t")).join(words))
    return lines


def make_inputs(rng: random.Random, spec: JobSpec) -> tuple[tuple[str, bytes], ...]:
    """1-4 input files: some empty, lines empty or of words, ``\\n`` or ``\\r\\n``, with or
    without a final newline."""
    files = []
    most = rng.choice((40, 120, 400))  # lines a file: the biggest make several spills a task
    for i in range(rng.randint(1, 4)):
        data = b""
        if rng.random() > 0.15:
            eol = rng.choice((b"\n", b"\r\n", None))  # None: each line picks
            data = b"".join(line + (eol or rng.choice((b"\n", b"\r\n")))
                            for line in _lines(rng, spec, rng.randint(1, most)))
            if rng.random() < 0.3:
                data = data.rstrip(b"\r\n")  # no final newline
        files.append((f"in{i}.txt", data))
    return tuple(files)


def make_case(seed: int, index: int) -> Case:
    """Job ``index`` of seed ``seed``: its spec, inputs and settings (many tasks, spills)."""
    rng = random.Random(f"{seed}:{index}")
    spec = generate(rng, index)
    inputs = make_inputs(rng, spec)
    total = sum(len(data) for _, data in inputs)
    split = max(64, total // rng.randint(1, 24))  # mostly many tasks; a few of 256+ lines
    return Case(spec=spec, inputs=inputs, split_size=split,
                sort_buffer=rng.choice((256, 1024, 4096, 65536)),
                label=f"seed {seed} job {index}")
