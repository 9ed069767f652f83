"""`generate_videos`: any number of items through batch calls, results per item in input order."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from test_client_support import Received, Reply, ScriptedServer, error_body, run

from connector.catalog import InvalidInput, limits
from connector.client import ContentPolicyError, ItemResult, JobFailedError, JobMayExistError

MAX = limits.BATCH_MAX_PROMPTS


class FakeBatchApi:
    """Batch create and status: a prompt with "refuse" sinks its batch call (content policy),
    "drop" loses the answer, "fail" makes that video fail."""

    def __init__(self, hold: float = 0.0) -> None:
        self.batches: dict[str, list[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.hold = hold

    def __call__(self, got: Received) -> Reply:
        if got.method == "POST":
            prompts = got.json()["prompts"]
            text = " ".join(p["prompt"] for p in prompts)
            if "refuse" in text:
                return Reply(400, error_body("content_policy_violation", "flagged", "prompt"))
            if "drop" in text:
                return Reply(action="drop")
            with self.lock:
                batch_id = f"batch_{next(self.ids)}"
                jobs = [
                    {"id": f"{batch_id}_v{n}", "prompt": p["prompt"], "status": "pending"}
                    for n, p in enumerate(prompts)
                ]
                self.batches[batch_id] = jobs
            body = {"batch_id": batch_id, "total_jobs": len(jobs), "jobs": jobs}
            return Reply(202, body, delay=self.hold)
        batch_id = got.path.rsplit("/", 1)[1]
        jobs = []
        for job in self.batches[batch_id]:
            failed = "fail" in job["prompt"]
            jobs.append(
                {
                    **job,
                    "status": "failed" if failed else "completed",
                    "output_url": None if failed else f"https://cdn.example/{job['id']}.mp4",
                    "error_message": "provider error" if failed else None,
                }
            )
        done = sum(j["status"] == "completed" for j in jobs)
        body = {
            "batch_id": batch_id,
            "total_jobs": len(jobs),
            "completed": done,
            "failed": len(jobs) - done,
            "jobs": jobs,
        }
        return Reply(200, body)


def posted(server: ScriptedServer) -> list[list[str]]:
    return [
        [p["prompt"] for p in r.json()["prompts"]] for r in server.received if r.method == "POST"
    ]


def test_items_are_split_into_batches_of_the_documented_size(mode: str) -> None:
    items = [f"clip {n}" for n in range(2 * MAX + 5)]
    with ScriptedServer(FakeBatchApi()) as server:
        out = run(mode, server.url, lambda c: c.generate_videos(items, duration=5))
    assert out.error is None
    sizes = sorted(len(p) for p in posted(server))
    assert sizes == [5, MAX, MAX]
    assert all(r.json()["duration"] == 5 for r in server.received)
    results: list[ItemResult] = out.result
    assert [r.index for r in results] == list(range(len(items)))
    assert all(r.ok and r.job is not None for r in results)
    assert [r.job.prompt for r in results] == items  # each item got its own job, in order


def test_partial_failures_are_reported_per_item(mode: str) -> None:
    items: list[Any] = [f"ok {n}" for n in range(MAX)]  # first batch: fine
    items += ["refuse this"] + [f"ok {n}" for n in range(MAX - 1)]  # second batch refused
    items += [{"prompt": "bad image", "image_url": "not-a-url"}, "drop me", 42]
    with ScriptedServer(FakeBatchApi()) as server:
        out = run(mode, server.url, lambda c: c.generate_videos(items))
    results: list[ItemResult] = out.result
    assert len(results) == len(items)
    assert all(r.ok for r in results[:MAX])
    assert all(isinstance(r.error, ContentPolicyError) for r in results[MAX : 2 * MAX])
    bad = results[2 * MAX]
    assert isinstance(bad.error, InvalidInput) and "image_url" in str(bad.error)
    assert isinstance(results[2 * MAX + 1].error, JobMayExistError)
    assert isinstance(results[2 * MAX + 2].error, TypeError)
    assert all("bad image" not in p for batch in posted(server) for p in batch)  # never sent


def test_an_invalid_item_is_named_by_its_own_position(mode: str) -> None:
    items: list[Any] = [f"ok {n}" for n in range(7)]
    items += [{"prompt": "seven", "image_url": "notaurl"}, "eight", ""]
    with ScriptedServer(FakeBatchApi()) as server:
        out = run(mode, server.url, lambda c: c.generate_videos(items))
    results: list[ItemResult] = out.result
    seven, nine = results[7].error, results[9].error
    assert isinstance(seven, InvalidInput) and isinstance(nine, InvalidInput)
    assert seven.param == "prompts[7].image_url" and "prompts[7].image_url" in str(seven)
    assert nine.param == "prompts[9].prompt" and "prompts[9].prompt" in str(nine)
    assert "prompts[0]" not in str(seven) + str(nine)
    assert results[8].ok and posted(server) == [[f"ok {n}" for n in range(7)] + ["eight"]]


def test_waiting_reports_failed_videos_per_item(mode: str) -> None:
    items = ["first", "this one will fail", "third"]
    with ScriptedServer(FakeBatchApi()) as server:
        out = run(mode, server.url, lambda c: c.generate_videos(items, wait=True, interval=0))
    results: list[ItemResult] = out.result
    assert results[0].ok and results[0].output_url == "https://cdn.example/batch_1_v0.mp4"
    assert isinstance(results[1].error, JobFailedError)
    assert results[1].job is not None and results[1].job.status == "failed"
    assert "provider error" in str(results[1].error)
    assert results[2].ok and results[2].batch_id == "batch_1"


def test_invalid_shared_fields_fail_the_whole_call_before_any_request(mode: str) -> None:
    with ScriptedServer(FakeBatchApi()) as server:
        out = run(mode, server.url, lambda c: c.generate_videos(["a", "b"], duration=99))
    error = out.raised(InvalidInput)
    assert error.param == "duration"
    assert server.received == []


def test_no_items_no_calls(mode: str) -> None:
    with ScriptedServer(FakeBatchApi()) as server:
        out = run(mode, server.url, lambda c: c.generate_videos([]))
    assert out.result == [] and server.received == []


def test_at_most_the_parallel_limit_is_in_flight(mode: str) -> None:
    calls = limits.MAX_PARALLEL_REQUESTS + 4
    items = [f"clip {n}" for n in range(calls * MAX)]
    with ScriptedServer(FakeBatchApi(hold=0.2)) as server:
        out = run(mode, server.url, lambda c: c.generate_videos(items))
    assert out.error is None and all(r.ok for r in out.result)
    assert len(server.received) == calls
    assert 1 < server.max_in_flight <= limits.MAX_PARALLEL_REQUESTS
