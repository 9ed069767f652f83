"""The catalog's output contract as Make interfaces, samples and `response.output` IML.

    interface(CATALOG.output("voice.create").fields)     # the module's interface
    shaped("body", CATALOG.output("voice.create"))       # its response.output

A module outputs exactly the contract's keys (a key the answer lacks is left out), `status`
in the kind's spelling and `state`, the one vocabulary for every kind, computed in IML the
way `Output.shape` computes it. Lists are passed as the API sent them: IML cannot reshape
each item, so their items carry no `state` and their interface does not promise one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connector.catalog import FieldType, JobKind, NormalizedState, states
from connector.catalog.contract import Output, OutputField
from connector.platforms.make.iml import path, text, tpl
from connector.platforms.make.model import Json

T = FieldType
S = NormalizedState
STATE, STATUS = "state", "status"

#: Output field type → Make interface type (timestamps, named `*_at`, become Make dates).
_TYPES = {
    T.STRING: "text",
    T.TEXT: "text",
    T.URL: "url",
    T.INTEGER: "integer",
    T.NUMBER: "number",
    T.BOOLEAN: "boolean",
    T.ENUM: "text",
    T.STRING_LIST: "array",
    T.NUMBER_LIST: "array",
    T.OBJECT: "collection",
    T.OBJECT_LIST: "array",
    T.FILE: "buffer",
}


def _in_list(fields: Iterable[OutputField]) -> list[OutputField]:
    return [f for f in fields if f.key != STATE]


def interface(fields: Iterable[OutputField], *, in_list: bool = False) -> list[Json]:
    out = []
    for f in _in_list(fields) if in_list else fields:
        kind = "date" if f.key.endswith("_at") and f.type is T.STRING else _TYPES[f.type]
        param: Json = {"name": f.key, "type": kind, "label": f.label}
        if f.help:
            param["help"] = f.help
        if f.children:
            param["spec"] = interface(f.children, in_list=f.type is T.OBJECT_LIST)
        out.append(param)
    return out


def merged(outputs: Iterable[Output]) -> list[OutputField]:
    """Every field any of the outputs has, in first-seen order."""
    found: dict[str, OutputField] = {}
    for output in outputs:
        for f in output.fields:
            found.setdefault(f.key, f)
    return list(found.values())


def sample_of(fields: Sequence[OutputField], sample: Mapping[str, Any]) -> Json:
    """A contract sample with exactly the keys the interface declares (list items without
    `state`, as a live run gives them)."""
    out: Json = {}
    for f in fields:
        if f.key not in sample:
            continue
        value = sample[f.key]
        if f.type is T.OBJECT_LIST and f.children and isinstance(value, list):
            value = [sample_of(_in_list(f.children), v) for v in value if isinstance(v, Mapping)]
        out[f.key] = value
    return out


def _at(source: str, *names: str) -> str:
    """A property of an answer; `source` is a root (`body`) or a dotted path (`temp.answer`)."""
    return path(*source.split("."), *names)


def _state_of_status(source: str) -> str:
    """`state` from any spelling of `status` (every kind's table, as `states.normalize`):
    each spelling whose lower case is not its state gets a branch; the rest is `lower()`."""
    status = _at(source, STATUS)
    expression = f"lower({status})"
    for table in states.STATUSES.values():
        for raw, state in table.items():
            if raw.lower() != state.value:
                test = f"{status} == {text(raw)}"
                expression = f"if({test}, {text(state.value)}, {expression})"
    return expression


def _state_of_counts(source: str) -> str:
    """A batch's answer has counts, no status: completed once every video has ended."""

    def count(name: str) -> str:  # a count the answer leaves out is 0
        return f"ifempty({_at(source, name)}, 0)"

    done = f"{count('completed')} + {count('failed')}"
    started = f"{done} + {count('processing')}"
    return (
        f"if({done} == {count('total_jobs')}, 'completed', if({started}, 'processing', 'pending'))"
    )


def state(source: str, kind: JobKind | None) -> str:
    """`state` for an answer about a job of `kind` (None: any kind, batches included)."""
    if kind in (JobKind.BATCH, None):
        return f"if({_at(source, STATUS)}, {_state_of_status(source)}, {_state_of_counts(source)})"
    return _state_of_status(source)


def spelled(kind: JobKind, state_expression: str, fallback: str) -> str:
    """`status` in the kind's spelling, from the state (`states.spell`): one `switch` over
    the states, so the state is computed once; anything else gives `fallback`."""
    cases = [f"{text(each.value)}, {text(states.spell(kind, each))}" for each in NormalizedState]
    return f"switch({state_expression}, {', '.join(cases)}, {fallback})"


#: The states a batch's counts give (`_state_of_counts`).
_COUNTED = (S.PENDING, S.PROCESSING, S.COMPLETED)


def status(source: str, kind: JobKind | None) -> str:
    """The answer's own `status`, or for a batch answer without one, the spelled counts (a
    batch spells the states its counts give as the states themselves, so no mapping)."""
    if kind is JobKind.SHARED or kind is JobKind.VIDEO:
        return _at(source, STATUS)
    counted = _state_of_counts(source)
    if any(states.spell(JobKind.BATCH, each) != each.value for each in _COUNTED):
        counted = spelled(JobKind.BATCH, counted, "''")
    return f"ifempty({_at(source, STATUS)}, {counted})"


def shaped(
    source: str,
    fields: Sequence[OutputField],
    kind: JobKind | None,
    *,
    status_expression: str | None = None,
) -> Json:
    """`response.output` for one answer: the contract's keys read from `source`, `status`
    (the answer's own, derived from a batch's counts, or `status_expression`) and `state`."""
    out: Json = {}
    keys = {f.key for f in fields}
    for f in fields:
        if f.key == STATE:
            out[STATE] = tpl(state(source, kind))
        elif f.key == STATUS and STATE in keys:
            out[STATUS] = tpl(status_expression or status(source, kind))
        else:
            out[f.key] = tpl(_at(source, f.key))
    return out
