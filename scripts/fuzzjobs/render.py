"""A job spec written as the source text of a real job file, as a user could have written it.

Each form of ``spec`` is a few lines of plain Python here; a job file holds only the helpers
and imports its functions use, so a shrunk divergence reads as a small, whole job.
"""

from __future__ import annotations

import re

from fuzzjobs.spec import SORTED_REDUCES, JobSpec, StepSpec

#: helper functions a job file holds when its functions use them, in this order
HELPERS = {
    "_tokens": '''
def _tokens(line):
    """(key index, value index) of each word 'K.V' of a line; other words are skipped."""
    out = []
    for word in line.split():
        k, dot, v = word.partition(".")
        if dot and k.isdigit() and v.isdigit():
            out.append((int(k), int(v)))
    return out
''',
    "_keys": '''
def _keys(line):
    """The keys a line names."""
    return [K[k] for k, _ in _tokens(line)]
''',
    "_name": '''
def _name(x):
    """A key as a str that keeps its type."""
    return f"{type(x).__name__}:{x!r}"
''',
}

MAPS = {
    "const": ("map", "key, line", """
        for k in _keys(line):
            yield k, {const}"""),
    "filter": ("map", "key, line", """
        for word in line.split():
            k, dot, v = word.partition(".")
            if not dot or not v.isdigit() or not k.isdigit():
                continue
            yield K[int(k)], V[int(v)]"""),
    "variable": ("map", "key, line", """
        for k, _ in _tokens(line):
            yield K[k], key[1]"""),
    "tuple": ("map", "key, line", """
        for k, v in _tokens(line):
            yield K[k], (V[v], key)"""),
    "where": ("map", "key, line", """
        for k, v in _tokens(line):
            yield (os.path.basename(key[0]), K[k]), V[v]"""),
    "genexpr": ("map", "key, line", """
        yield from ((K[k], V[v]) for k, v in _tokens(line))"""),
    "try": ("map", "key, line", """
        for word in line.split():
            k, _, v = word.partition(".")
            try:
                value = self.lookup[v]
            except KeyError:  # no value index: '7', 'x', '1.x'
                continue
            try:
                value = -value
            except TypeError:  # not a number: kept as it is
                pass
            yield K[int(k)], value"""),
    "once": ("map", "key, line", """
        if key in self.seen:  # the contract: user code runs once per record per attempt
            raise RuntimeError(f"map called twice on the line at {key}")
        self.seen.add(key)
        for k, v in _tokens(line):
            yield K[k], V[v]"""),
    "batch": ("map_batch", "records", """
        return [(K[k], V[v]) for _, line in records for k, v in _tokens(line)]"""),
    "counter": ("map_batch", "records", """
        return Counter(_name(K[k]) for _, line in records for k, _ in _tokens(line))"""),
    "final": ("map", "key, line", """
        self.pending.extend((K[k], V[v]) for k, v in _tokens(line))
        yield from ()"""),
    "keys": ("map_keys", "key, line", """
        return _keys(line)"""),
    "tagged": ("map", "key, line", """
        for k, v in _tokens(line):
            yield _name(K[k]), (v % 2, V[v], key[1])"""),
    "pass": ("map", "key, value", """
        yield key, value"""),
    "swap": ("map", "key, value", """
        yield value, key"""),
    "typed": ("map", "key, value", """
        yield type(value).__name__, key"""),
    "batch_pass": ("map_batch", "records", """
        return [(key, value) for key, value in records]"""),
}
SETUPS = {
    "try": ("""
        self.lookup = {str(i): value for i, value in enumerate(V)}""", None, None),
    "once": ("""
        self.seen = set()""", None, None),
    "final": ("""
        self.pending = []""", """
        yield from self.pending""", """
        self.pending = None  # a map called after teardown fails loudly"""),
}
REDUCES = {
    "sum": """
        yield key, sum(values)""",
    "loop_sum": """
        total = 0
        for value in values:
            total += value
        yield key, total""",
    "count": """
        n = 0
        for _ in values:
            n += 1
        yield key, n""",
    "sorted": """
        yield key, tuple(sorted(values, key=canon))""",
    "each": """
        for value in values:
            yield key, value""",
    "min": """
        yield key, min(values)""",
    "max": """
        yield key, max(values)""",
    "in_order": """
        yield key, tuple(values)""",
}


def _method(name: str, args: str, body: str, in_class: bool) -> str:
    """A def, indented for a class body or at the top level."""
    if in_class:
        return f"    def {name}(self{', ' + args if args else ''}):{body}\n"
    # the bodies are written for a method: one level less at the top level
    return f"def {name}({args}):{body.replace(chr(10) + '        ', chr(10) + '    ')}\n"


def _step_functions(spec: JobSpec, step: StepSpec, suffix: str, in_class: bool
                    ) -> tuple[list[str], dict[str, str]]:
    """The defs of one step and the Step fields that name them."""
    defs, fields = [], {}
    attr, args, body = MAPS[step.map]
    defs.append(_method(attr + suffix, args, body.replace("{const}", spec.const), in_class))
    fields[attr] = attr + suffix
    setup, final, teardown = SETUPS.get(step.map, (None, None, None))
    for name, text, fargs in (("setup", setup, ""), ("map_final", final, ""),
                              ("teardown", teardown, "")):
        if text is not None:
            defs.append(_method(name + suffix, fargs, text, in_class))
            fields[name] = name + suffix
    for role, form in (("combine", step.combine), ("reduce", step.reduce)):
        if form == "none":
            continue
        if form.startswith("fold_"):
            fields[role] = f"minimr.fold({form[5:]})"
            continue
        defs.append(_method(role + suffix, "key, values", REDUCES[form], in_class))
        fields[role] = role + suffix
    return defs, fields


def _job_body(spec: JobSpec) -> str:
    """The job's own definitions: its functions, or its class."""
    if spec.style == "module":
        step = spec.steps[0]
        defs, fields = _step_functions(spec, step, "", in_class=False)
        lines = [f"reducers = {step.reducers}", f'partitioner = "{step.partitioner}"']
        if step.reduce in SORTED_REDUCES:
            lines.append("sort_values = True")
        lines += [f"{role} = {value}" for role, value in fields.items()
                  if value.startswith("minimr.")]
        return "\n".join(lines) + "\n\n\n" + "\n\n".join(defs)
    body = ["class FuzzJob(minimr.Job):"]
    if len(spec.steps) == 1:
        step = spec.steps[0]
        defs, fields = _step_functions(spec, step, "", in_class=True)
        body += [f"    reducers = {step.reducers}", f'    partitioner = "{step.partitioner}"']
        if step.reduce in SORTED_REDUCES:
            body.append("    sort_values = True")
        body += [f"    {role} = {value}" for role, value in fields.items()
                 if value.startswith("minimr.")]
        return "\n".join(body) + "\n\n" + "\n".join(defs)
    all_defs, calls = [], []
    for i, step in enumerate(spec.steps):
        defs, fields = _step_functions(spec, step, f"_{i}", in_class=True)
        all_defs += defs
        args = ", ".join(f"{role}={value if value.startswith('minimr.') else 'self.' + value}"
                         for role, value in fields.items())
        sort_values = ", sort_values=True" if step.reduce in SORTED_REDUCES else ""
        calls.append(f"            minimr.Step({args}, reducers={step.reducers},"
                     f' partitioner="{step.partitioner}"{sort_values}),')
    body += ["    def steps(self):", "        return [", *calls, "        ]", ""]
    return "\n".join(body) + "\n" + "\n".join(all_defs)


def render(spec: JobSpec, title: str = "") -> str:
    """The source text of the job file of ``spec``: only the imports and helpers it uses."""
    from inspect import getsource

    from fuzzjobs.model import canon

    body = _job_body(spec)
    helpers = dict(HELPERS, canon=getsource(canon))
    used = ""
    for name in reversed(list(helpers)):  # a helper may use an earlier one (_keys: _tokens)
        if re.search(rf"\b{name}\b", body + used):
            used = "\n\n" + helpers[name].strip("\n") + "\n" + used
    tables = f"K = [{', '.join(spec.keys)}]\nV = [{', '.join(spec.values)}]\n"
    imports = [line for line, needed in (
        ("import os", "os.path" in body), ("from collections import Counter", "Counter(" in body),
        ("from decimal import Decimal", "Decimal(" in tables)) if needed]
    steps = "\n".join(f"step {i}: map {s.map}, combine {s.combine}, reduce {s.reduce},"
                      f" reducers={s.reducers}, partitioner={s.partitioner}"
                      for i, s in enumerate(spec.steps))
    head = (f'"""A generated job{": " + title if title else ""}.\n\n{steps}\n"""\n\n'
            + "".join(line + "\n" for line in imports) + ("\n" if imports else "")
            + "import minimr\n\n" + tables)
    return head + used + "\n\n" + body
