"""Reading a Make app in the local-development layout: `makecomapp.json` and its code files.

`*.iml.json` files are JSON with comments (IML JSON); `loads_jsonc` drops `//` and `/* */`
comments outside strings, as Make's editor does, and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def strip_comments(source: str) -> str:
    out: list[str] = []
    i, n = 0, len(source)
    in_string = False
    while i < n:
        ch = source[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(source[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
        elif ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated /* comment")
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def loads_jsonc(source: str) -> Any:
    return json.loads(strip_comments(source))


def load_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return loads_jsonc(text) if path.name.endswith(".iml.json") else json.loads(text)


@dataclass(frozen=True)
class Component:
    kind: str
    id: str
    metadata: dict[str, Any]
    codes: dict[str, Any]  # section → parsed content


@dataclass(frozen=True)
class LocalApp:
    """An app directory as the Make Apps Editor sees it."""

    root: Path
    manifest: dict[str, Any]
    base: dict[str, Any]
    groups: list[dict[str, Any]]
    components: dict[str, dict[str, Component]]  # kind → id → component

    @classmethod
    def load(cls, root: Path) -> LocalApp:
        manifest = json.loads((root / "makecomapp.json").read_text())
        general = manifest["generalCodeFiles"]
        components: dict[str, dict[str, Component]] = {}
        for kind, entries in manifest["components"].items():
            components[kind] = {}
            for cid, metadata in entries.items():
                codes = {
                    section: load_file(root / rel)
                    for section, rel in metadata["codeFiles"].items()
                    if rel is not None
                }
                components[kind][cid] = Component(kind, cid, metadata, codes)
        return cls(
            root=root,
            manifest=manifest,
            base=load_file(root / general["base"]),
            groups=load_file(root / general["groups"]),
            components=components,
        )

    def module(self, cid: str) -> Component:
        return self.components["module"][cid]

    def connection(self) -> Component:
        [only] = self.components["connection"].values()
        return only

    def webhook(self, cid: str) -> Component:
        return self.components["webhook"][cid]

    def rpc(self, cid: str) -> Component:
        return self.components["rpc"][cid]
