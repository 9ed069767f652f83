"""`record_key=` with a ledger: the same record key started again returns the job it started.

Against the sandbox, counting the paid creates it saw (`paid_cases.creates`), for every paid
create, both clients, a ledger file shared by two processes, and the command line. The
relay's ledger is tested in `test_client_relay_ledger.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import paid_cases
import pytest
from test_client_support import Reply, ScriptedServer, run

from connector.catalog import CATALOG, InvalidInput, limits, steps
from connector.client import FileLedger, LedgerEntry, LedgerError
from connector.sandbox.harness import RunningSandbox

PAID = [op.key for op in steps.capped(CATALOG.operations.values())]
DAY = 24 * 3600.0


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(rate_limits=False)


def against(mode: str, sandbox: RunningSandbox, action: Any, **options: Any) -> Any:
    return run(mode, sandbox.url, action, api_key=sandbox.api_key, **options)


def _id(answer: Any) -> str:
    return str(getattr(answer, "batch_id", None) or answer.id)


# -- one job per record, for every paid create -----------------------------------------------


@pytest.mark.parametrize("op_key", PAID)
def test_the_same_record_key_twice_starts_one_job(
    mode: str, sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path, op_key: str
) -> None:
    # Real time: the example compose (not of sandbox media) fails when it runs, and a
    # failed job rightly lets the key start again; here both runs come before that.
    sandbox = sandbox_factory(rate_limits=False, time_scale=1.0)
    ledger = FileLedger(tmp_path / "ledger.json")
    fields = paid_cases.client_input(op_key)

    def twice(c: Any) -> Any:
        if mode == "sync":
            return [c.call(op_key, **fields, record_key="sku-1") for _ in range(2)]

        async def both() -> list[Any]:
            return [await c.call(op_key, **fields, record_key="sku-1") for _ in range(2)]

        return both()

    out = against(mode, sandbox, twice, ledger=ledger)
    assert out.error is None, out.error
    first, second = out.result
    assert paid_cases.creates(sandbox) == 1  # the figure: 1 paid create for 2 runs
    assert type(second) is type(first)  # the same shape as a fresh answer
    entry = ledger.get(op_key, "sku-1")
    assert entry is not None
    if CATALOG.operation(op_key).is_async:
        assert _id(second) == _id(first) == entry.job_id and entry.result is None
    else:  # images answer at once: the answer itself is kept
        assert second.model_dump() == first.model_dump() == entry.result
        assert entry.job_id is None


def test_other_keys_and_other_creates_start_their_own(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    ledger = FileLedger(tmp_path / "ledger.json")

    def calls(c: Any) -> list[str]:
        return [
            c.videos.create(prompt="a", record_key="one").id,
            c.videos.create(prompt="a", record_key="two").id,
            c.voice.create(text="Hello", record_key="one").id,
            c.videos.create(prompt="a", record_key="one").id,
        ]

    out = against("sync", sandbox, calls, ledger=ledger)
    assert out.error is None, out.error
    a, b, voice, again = out.result
    assert len({a, b, voice}) == 3 and again == a
    assert paid_cases.creates(sandbox) == 3


def test_a_kept_job_is_returned_without_pricing_or_creating(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    ledger = FileLedger(tmp_path / "ledger.json")
    first = against(
        "sync", sandbox, lambda c: c.videos.create(prompt="a", record_key="k"), ledger=ledger
    )
    sandbox.fault("fail", status=503, operation="price.calculate", count=50)
    again = against(
        "sync",
        sandbox,
        lambda c: c.videos.create(prompt="a", record_key="k", max_credits=1),
        ledger=ledger,
    )
    assert again.error is None, again.error  # the cap is for a new job: none is started
    assert again.result.id == first.result.id
    assert paid_cases.creates(sandbox) == 1


@pytest.mark.parametrize(
    ("op_key", "fields"),
    [
        ("video.create_from_text", {"prompt": "a [sandbox:fail]"}),
        ("voice.create", {"text": "Hello [sandbox:fail]"}),
        ("batch.create", {"prompts": [{"prompt": "a [sandbox:fail]"}]}),
    ],
    ids=["video", "voice", "batch"],
)
def test_a_failed_job_lets_the_key_start_again(
    mode: str, sandbox: RunningSandbox, tmp_path: Path, op_key: str, fields: dict[str, Any]
) -> None:
    ledger = FileLedger(tmp_path / "ledger.json")
    first = against(
        mode, sandbox, lambda c: c.call(op_key, **fields, record_key="k"), ledger=ledger
    )
    assert first.error is None, first.error
    sandbox.advance(120)  # the job (every video of the batch) has failed by then
    again = against(
        mode, sandbox, lambda c: c.call(op_key, **fields, record_key="k"), ledger=ledger
    )
    assert again.error is None, again.error
    assert _id(again.result) != _id(first.result)
    assert paid_cases.creates(sandbox) == 2
    entry = ledger.get(op_key, "k")
    assert entry is not None and entry.job_id == _id(again.result)  # the new job is kept


def test_a_job_the_api_no_longer_has_lets_the_key_start_again(
    mode: str, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    ledger = FileLedger(tmp_path / "ledger.json")
    ledger.put("video.create_from_text", "k", job_id="vgen_000000000000")  # unknown: 404
    out = against(
        mode, sandbox, lambda c: c.videos.create(prompt="a", record_key="k"), ledger=ledger
    )
    assert out.error is None, out.error
    assert paid_cases.creates(sandbox) == 1
    entry = ledger.get("video.create_from_text", "k")
    assert entry is not None and entry.job_id == out.result.id


def test_a_kept_image_answer_is_returned_without_any_call(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "ledger.json")
    answer = {"created": 1, "data": [{"url": "https://cdn.example/a.png"}]}
    ledger.put("image.generate", "k", result=answer)
    with ScriptedServer([]) as server:
        out = run(
            "sync",
            server.url,
            lambda c: c.images.generate(prompt="p", record_key="k"),
            ledger=ledger,
        )
    assert out.error is None, out.error
    assert out.result.data[0].url == "https://cdn.example/a.png"
    assert server.received == []


# -- refusals ----------------------------------------------------------------------------------


def test_a_record_key_without_a_ledger_is_refused_before_anything_is_sent(mode: str) -> None:
    with ScriptedServer([]) as server:
        out = run(mode, server.url, lambda c: c.videos.create(prompt="p", record_key="k"))
    error = out.raised(InvalidInput)
    assert error.param == "record_key" and "ledger=" in str(error)
    assert server.received == []


@pytest.mark.parametrize(
    "bad", ["", "x" * (steps.LEDGER.max_key_chars + 1), ".", "..", "a\nb", "tab\there", 42]
)
def test_a_bad_record_key_is_refused(mode: str, tmp_path: Path, bad: Any) -> None:
    with ScriptedServer([]) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.videos.create(prompt="p", record_key=bad),
            ledger=FileLedger(tmp_path / "l.json"),
        )
    assert out.raised(InvalidInput).param == "record_key"
    assert server.received == []


def test_a_record_key_is_for_paid_creates_and_one_create(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.json")
    with ScriptedServer([]) as server:
        status = run(
            "sync", server.url, lambda c: c.call("video.get", id="v", record_key="k"), ledger=ledger
        )
        many = run(
            "sync", server.url, lambda c: c.generate_videos(["a"], record_key="k"), ledger=ledger
        )
    assert "paid creates only" in str(status.raised(InvalidInput))
    assert "own record key" in str(many.raised(InvalidInput))
    assert server.received == []


class BrokenPut:
    """A ledger (any object with get/put/forget will do) whose writes fail."""

    def get(self, operation: str, key: str) -> LedgerEntry | None:
        return None

    def put(
        self,
        operation: str,
        key: str,
        *,
        job_id: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> LedgerEntry:
        raise LedgerError("disk full")

    def forget(self, operation: str, key: str) -> None:
        return None


def test_a_ledger_that_cannot_keep_the_key_still_hands_back_the_job(mode: str) -> None:
    created = Reply(202, {"id": "vgen_1", "status": "pending"})
    with ScriptedServer([created]) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.videos.create(prompt="p", record_key="k"),
            ledger=BrokenPut(),
        )
    error = out.raised(LedgerError)
    assert error.created.id == "vgen_1"
    assert "job vgen_1 was started" in str(error) and "disk full" in str(error)


# -- the ledger file -------------------------------------------------------------------------


def test_a_file_ledger_keeps_expires_and_forgets(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "ledger.json"
    ledger = FileLedger(path, clock=lambda: now[0])
    entry = ledger.put("video.create_from_text", "a/b c", job_id="vgen_1")
    assert (entry.job_id, entry.result) == ("vgen_1", None)
    assert ledger.get("video.create_from_text", "a/b c") == entry
    assert ledger.get("voice.create", "a/b c") is None  # per operation
    document = json.loads(path.read_text())
    assert document["kind"] == "creativeai-connector ledger"
    assert document["entries"]["video.create_from_text"]["a/b c"]["job_id"] == "vgen_1"
    now[0] += limits.OUTPUT_URL_LIFETIME_DAYS * DAY - 1
    assert ledger.get("video.create_from_text", "a/b c") == entry  # alive till its output dies
    now[0] += 1
    assert ledger.get("video.create_from_text", "a/b c") is None
    ledger.put("voice.create", "x", job_id="job_1")  # a write drops what expired
    assert "video.create_from_text" not in json.loads(path.read_text())["entries"]
    ledger.forget("voice.create", "x")
    ledger.forget("voice.create", "never")
    assert ledger.get("voice.create", "x") is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("id,sku\n1,2\n", "not JSON"),
        ('{"rows": []}', "does not say"),
        ('{"kind": "creativeai-connector ledger", "version": 9, "entries": {}}', "version 9"),
        (
            '{"kind": "creativeai-connector ledger", "version": 1, "entries": {"a": {"k": 1}}}',
            "entry",
        ),
    ],
)
def test_a_file_that_is_not_a_ledger_is_refused_and_left_alone(
    tmp_path: Path, content: str, why: str
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(content)
    ledger = FileLedger(path)
    for attempt in (
        lambda: ledger.get("voice.create", "k"),
        lambda: ledger.put("voice.create", "k", job_id="job_1"),
    ):
        with pytest.raises(LedgerError) as caught:
            attempt()
        assert str(path) in str(caught.value) and "is not a ledger file" in str(caught.value)
        assert why in str(caught.value)
    assert path.read_text() == content


def test_a_folder_is_not_a_ledger_file(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="cannot read it"):
        FileLedger(tmp_path).get("voice.create", "k")


WRITER = textwrap.dedent(
    """
    import sys
    from connector.client import FileLedger
    ledger = FileLedger(sys.argv[1])
    for n in range(int(sys.argv[3])):
        ledger.put("voice.create", f"{sys.argv[2]}-{n}", job_id=f"job_{sys.argv[2]}_{n}")
    """
)


def test_two_processes_writing_one_ledger_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    count = 40
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(count)])
        for name in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    ledger = FileLedger(path)
    for name in ("a", "b"):
        for n in range(count):
            entry = ledger.get("voice.create", f"{name}-{n}")
            assert entry is not None and entry.job_id == f"job_{name}_{n}"


# -- the command line, in two processes sharing the ledger file ------------------------------


def _cli(sandbox: RunningSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATIVEAI_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.cli",
            *args,
            "--base-url",
            sandbox.url,
            "--api-key",
            sandbox.api_key,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_cli_started_twice_with_one_key_starts_one_job(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    ledger = str(tmp_path / "ledger.json")
    command = ["video", "create", "--prompt", "p", "--record-key", "sku-9", "--ledger", ledger]
    first = _cli(sandbox, *command)
    assert first.returncode == 0, first.stderr
    second = _cli(sandbox, *command)  # another process: it sees the first one's entry
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["id"] == json.loads(first.stdout)["id"]
    assert paid_cases.creates(sandbox) == 1


def test_two_processes_started_at_once_with_one_key_start_one_job(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # The first create answers 2 s late; the second process starts while it is in flight
    # and, held on the key, waits for the first to keep its job instead of starting one.
    sandbox.fault("delay", seconds=2, operation="video.create_from_text")
    ledger = str(tmp_path / "ledger.json")
    command = ["video", "create", "--prompt", "p", "--record-key", "sku-9", "--ledger", ledger]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATIVEAI_")}
    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    argv = [sys.executable, "-m", "connector.cli", *command, *api]
    first = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(1.0)  # the first is waiting for its create's answer by now
    second = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    outs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    ids = {json.loads(out)["id"] for out, _ in outs}
    assert len(ids) == 1
    assert paid_cases.creates(sandbox) == 1


def test_two_tasks_at_once_with_one_key_start_one_job(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.fault("delay", seconds=1, operation="video.create_from_text")
    ledger = FileLedger(tmp_path / "ledger.json")

    async def both(c: Any) -> list[Any]:
        async def one() -> Any:
            return await c.videos.create(prompt="p", record_key="k")

        return list(await asyncio.gather(one(), one()))

    out = against("async", sandbox, both, ledger=ledger)
    assert out.error is None, out.error
    assert len({job.id for job in out.result}) == 1
    assert paid_cases.creates(sandbox) == 1


def test_the_cli_names_its_option_when_the_ledger_cannot_be_used(
    sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.cli import main

    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    assert main(["voice", "create", *api, "--text", "Hi", "--record-key", "k"]) == 1
    assert "--record-key needs --ledger" in capsys.readouterr().err
    rows = tmp_path / "rows.csv"
    rows.write_text("id,sku\n")
    ledger = ["--record-key", "k", "--ledger", str(rows)]
    assert main(["voice", "create", *api, "--text", "Hi", *ledger]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --ledger {rows}: ") and "is not a ledger file" in err
    assert paid_cases.creates(sandbox) == 0
    assert rows.read_text() == "id,sku\n"


def test_the_cli_waits_on_the_job_a_key_already_started(
    sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.cli import main

    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    keyed = ["--record-key", "k", "--ledger", str(tmp_path / "l.json")]
    assert main(["voice", "create", *api, "--text", "Hi", *keyed]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (
        main(["voice", "create", *api, "--text", "Hi", *keyed, "--wait", "--interval", "0.05"]) == 0
    )
    done = json.loads(capsys.readouterr().out)
    assert done["id"] == first["id"] and done["status"].lower() == "completed"
    assert paid_cases.creates(sandbox) == 1
