"""The emitters take builder text from the catalog's renderers (`connector.catalog.text`)
and never re-derive it: no emitter module defines its own Title Case, sentence case, third
person, "Whether …", singular or noun table, nor cases words with `str.title` /
`str.capitalize` (identifiers, which are not builder text, excepted)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PLATFORMS = Path(__file__).resolve().parents[1] / "connector" / "platforms"
MODULES = sorted(p for p in PLATFORMS.rglob("*.py") if "templates" not in p.parts)

#: Names that say a function renders builder text the catalog already renders.
TEXT_HELPER = re.compile(r"title|third_person|sentence|whether|capitali[sz]e|singular", re.I)
#: Module-level tables of builder words (a noun per resource belongs on the resource).
WORD_TABLE = re.compile(r"NOUN|LABELS?_OVERRIDE|TITLES?$|PER_OPERATION", re.I)
#: Functions that build code identifiers (camelCase keys), where casing is not builder text.
IDENTIFIER_BUILDERS = {"identifier", "camel", "pascal", "_words", "module_id", "_class_name"}


def _name(path: Path) -> str:
    return str(path.relative_to(PLATFORMS.parent.parent))


def test_every_emitter_is_checked() -> None:
    names = {_name(p) for p in MODULES}
    for platform in ("n8n", "zapier", "make"):
        assert any(n.startswith(f"connector/platforms/{platform}/") for n in names), platform


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_the_emitter_defines_no_text_renderer_of_its_own(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and TEXT_HELPER.search(node.name)
    ]
    assert not own, f"{_name(path)} renders text itself: {own}; use connector.catalog.text"
    tables = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and WORD_TABLE.search(target.id)
    ]
    assert not tables, f"{_name(path)} keeps its own builder words: {tables}"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_the_emitter_does_not_case_words_with_str_methods(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef) or func.name in IDENTIFIER_BUILDERS:
            continue
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("title", "capitalize")
                and not node.args
            ):
                found.append(f"{func.name}: .{node.func.attr}()")
    assert not found, f"{_name(path)} cases builder text itself: {found}"


def test_no_emitter_has_a_text_module_of_its_own() -> None:
    assert not [p for p in MODULES if p.stem == "text"], "builder text lives in the catalog"
