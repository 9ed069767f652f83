"""Running a Make scenario blueprint's flow in tests, for the app's own modules.

A blueprint maps values with Make's scenario formulas (`{{3.id}}`, `;` between arguments).
`resolve` understands the two forms the samples use — `{{N.path}}` and
`{{first(map(N.array; "key"))}}` — and refuses any other, like the IML renderer does.
Modules of other apps (a custom webhook, HTTP, data stores) are played by the test through
`handlers`; the app's own modules run through the test-side Make runtime. A step's `filter`
(Make's route filter: OR of AND-groups) is applied before the step, with the two operators
the samples use (`text:equal`, `boolean:equal`); a bundle it stops ends the flow, as it
ends the route in Make.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from make_iml.iml import UnsupportedIML

_REF = re.compile(r"^\{\{(\d+)\.([A-Za-z_][A-Za-z0-9_.]*)\}\}$")
_FIRST_OF_MAP = re.compile(r'^\{\{first\(map\((\d+)\.([A-Za-z_][A-Za-z0-9_.]*); "(\w+)"\)\)\}\}$')

Handler = Callable[[dict[str, Any]], Any]


def load(path: Path) -> dict[str, Any]:
    blueprint: dict[str, Any] = json.loads(path.read_text())
    return blueprint


def app_module(module: str, app_id: str) -> str | None:
    """`app#creativeai:createVoice` → `createVoice` (None for other apps' modules)."""
    prefix = f"app#{app_id}:"
    return module[len(prefix) :] if module.startswith(prefix) else None


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = value[part]
    return value


def references(value: Any) -> list[int]:
    """The module ids a mapped value reads from."""
    if isinstance(value, str):
        return [int(m) for m in re.findall(r"\{\{(?:first\(map\()?(\d+)\.", value)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in references(v)]
    return []


def resolve(value: Any, outputs: Mapping[int, Any]) -> Any:
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if not isinstance(value, str) or "{{" not in value:
        return value
    if match := _REF.match(value):
        return _dig(outputs[int(match.group(1))], match.group(2))
    if match := _FIRST_OF_MAP.match(value):
        items = _dig(outputs[int(match.group(1))], match.group(2))
        return items[0][match.group(3)]  # first(map(array; key))
    raise UnsupportedIML(f"blueprint formula {value!r} is not one the samples use")


def _condition(condition: Mapping[str, Any], outputs: Mapping[int, Any]) -> bool:
    a, b, op = resolve(condition["a"], outputs), condition.get("b"), condition["o"]
    if op == "text:equal":
        return str(a) == str(b)
    if op == "boolean:equal":
        if not isinstance(a, bool):
            return False  # Make compares booleans; a missing value is not `true`
        return a is (str(b).lower() == "true")
    raise UnsupportedIML(f"filter operator {op!r} is not one the samples use")


def passes(step: Mapping[str, Any], outputs: Mapping[int, Any]) -> bool:
    """Whether the step's filter (if any) lets the bundle through."""
    found = step.get("filter")
    if not found:
        return True
    return any(all(_condition(c, outputs) for c in group) for group in found["conditions"])


def run_flow(
    blueprint: Mapping[str, Any],
    handlers: Mapping[str, Handler],
    outputs: dict[int, Any] | None = None,
) -> dict[int, Any]:
    """Run every module in order (those already in `outputs` are taken as given), until a
    filter stops the bundle."""
    outputs = dict(outputs or {})
    for step in blueprint["flow"]:
        if step["id"] in outputs:
            continue
        if not passes(step, outputs):
            break
        handler = handlers[step["module"]]
        outputs[step["id"]] = handler(resolve(step["mapper"], outputs))
    return outputs
