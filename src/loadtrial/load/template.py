"""Templated values in requests, compiled once: `{{random_int(1, 10000)}}`, `{{uuid}}`,
`{{seq}}`, `{{env.NAME}}`, `{{users.email}}` (a data file's column) and `{{name}}` (a
variable, e.g. one a flow extracted).

In: text with `{{...}}` slots. `compile_template` parses it once (ValueError naming what is
wrong, so `validate` can say which field); `Template.render(ctx)` then joins literal text
and the slots' values with no parsing. Out: the rendered text.

A `Context` is what one render reads: the engine's shared `Sources` (environment snapshot,
data sets, the `seq` counter, a seeded random generator) and the variables and picked data
rows of one request (plain mix) or one virtual user's iteration (flow), so `{{users.email}}`
and `{{users.password}}` come from the same row. Environment values are read in the engine
only: the plan keeps the template text, never the value.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from loadtrial.load.data import DataSet

_SLOT = re.compile(r"\{\{(.*?)\}\}")
_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_RANDOM_INT = re.compile(r"random_int\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)")
_DOTTED = re.compile(rf"({_NAME})\.({_NAME})")
_PLAIN = re.compile(_NAME)
BUILTINS = ("uuid", "seq")


class Sources:
    """What every render of one engine shares (one event loop: no locking)."""

    __slots__ = ("data", "env", "rng", "seq", "seq_step")

    def __init__(
        self,
        env: Mapping[str, str],
        data: Mapping[str, DataSet],
        *,
        worker: int = 0,
        workers: int = 1,
        seed: int = 0,
    ) -> None:
        self.env, self.data = dict(env), dict(data)
        # seq values are unique over the workers of a run: worker w counts w, w+W, ...
        self.seq, self.seq_step = worker, max(1, workers)
        self.rng = random.Random(seed * 1_000_003 + worker)

    def next_seq(self) -> int:
        """Return the next sequence number of this engine (1-based over the run)."""
        self.seq += self.seq_step
        return self.seq - self.seq_step + 1


@dataclass
class Context:
    """One render's state: the user's variables and the data rows picked so far."""

    sources: Sources
    variables: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Mapping[str, str]] = field(default_factory=dict)

    def row(self, name: str) -> Mapping[str, str]:
        """The row of data set `name` for this context (picked once, on first use)."""
        got = self.rows.get(name)
        if got is None:
            got = self.rows[name] = self.sources.data[name].pick()
        return got


Slot = Callable[[Context], str]


@dataclass(frozen=True)
class Template:
    """Text compiled into literal parts and slots (literal, slot, literal, ...)."""

    text: str
    literals: tuple[str, ...]  # one more than slots
    slots: tuple[Slot, ...]
    variables: tuple[str, ...]  # names a render reads from the context's variables
    data_refs: tuple[tuple[str, str], ...]  # (data set, column)
    env_names: tuple[str, ...]

    def render(self, ctx: Context) -> str:
        """Return the text with every slot's value for `ctx`."""
        lits, slots = self.literals, self.slots
        out = [lits[0]]
        for i, slot in enumerate(slots):
            out.append(slot(ctx))
            out.append(lits[i + 1])
        return "".join(out)


def has_template(text: str) -> bool:
    """Whether `text` holds a `{{` slot (else it is sent as is, pre-built)."""
    return "{{" in text


def compile_template(
    text: str, data_sets: frozenset[str] = frozenset(), *, json_string: bool = False
) -> Template:
    """Compile `text`; `data_sets` names the data sets `{{set.column}}` may read. Any
    other dotted name than env.X or a data set, or a slot that is not a known form,
    raises ValueError saying which. `json_string`: the slots sit inside JSON strings (a
    `json:` body), so each value is escaped for one (a quote or a backslash in a CSV
    value must not break the document)."""
    literals: list[str] = []
    slots: list[Slot] = []
    variables: list[str] = []
    data_refs: list[tuple[str, str]] = []
    env_names: list[str] = []
    at = 0
    for m in _SLOT.finditer(text):
        literals.append(text[at : m.start()])
        at = m.end()
        expr = m.group(1).strip()
        slot = _slot(expr, data_sets, variables, data_refs, env_names)
        slots.append(_json_escaped(slot) if json_string else slot)
    tail = text[at:]
    if "{{" in tail or "}}" in tail:
        raise ValueError(f"unclosed or stray braces in {text!r}")
    literals.append(tail)
    return Template(
        text, tuple(literals), tuple(slots), tuple(variables), tuple(data_refs), tuple(env_names)
    )


def _json_escaped(slot: Slot) -> Slot:
    """The slot, its value escaped for the inside of a JSON string."""

    def escaped(ctx: Context) -> str:
        return json.dumps(slot(ctx), ensure_ascii=False)[1:-1]

    return escaped


def _slot(
    expr: str,
    data_sets: frozenset[str],
    variables: list[str],
    data_refs: list[tuple[str, str]],
    env_names: list[str],
) -> Slot:
    """The function of one slot's expression (ValueError when it is no known form)."""
    if expr == "uuid":
        return _uuid
    if expr == "seq":
        return _seq
    m = _RANDOM_INT.fullmatch(expr)
    if m is not None:
        low, high = int(m.group(1)), int(m.group(2))
        if low > high:
            raise ValueError(f"{{{{{expr}}}}}: the low bound is above the high one")
        return lambda ctx: str(ctx.sources.rng.randint(low, high))
    m = _DOTTED.fullmatch(expr)
    if m is not None:
        head, name = m.group(1), m.group(2)
        if head == "env":
            env_names.append(name)
            return lambda ctx: ctx.sources.env.get(name, "")
        if head not in data_sets:
            known = ", ".join(sorted(data_sets)) or "none declared"
            raise ValueError(f"{{{{{expr}}}}}: unknown data set {head!r} (data sets: {known})")
        data_refs.append((head, name))
        return lambda ctx: ctx.row(head)[name]
    if _PLAIN.fullmatch(expr):
        variables.append(expr)
        return lambda ctx: ctx.variables.get(expr, "")
    forms = "random_int(a, b), uuid, seq, env.NAME, set.column or a variable name"
    raise ValueError(f"{{{{{expr}}}}} is not a template (forms: {forms})")


def _uuid(ctx: Context) -> str:
    return str(uuid.UUID(int=ctx.sources.rng.getrandbits(128), version=4))


def _seq(ctx: Context) -> str:
    return str(ctx.sources.next_seq())
