"""The step options every paid create gets, and each platform's file limits: stated once in
the catalog, with the facts the emitters render."""

from __future__ import annotations

import re
from pathlib import Path

from connector.catalog import CATALOG, FieldType, limits, steps, text


def test_every_paid_create_is_capped_and_nothing_else() -> None:
    capped = {op.key for op in steps.capped(CATALOG.operations.values())}
    assert capped == {
        "video.create_from_text",
        "video.create_from_image",
        "batch.create",
        "voice.create",
        "compose.create",
        "chart.create",
        "image.generate",
        "image.edit",
    }
    assert CATALOG.operation(steps.PRICE_OPERATION).path == "/api/v1/model/calculate"


def test_the_options_have_labels_types_and_help() -> None:
    assert text.title_case(steps.MAX_CREDITS.label) == steps.MAX_CREDITS.label
    assert text.sentence_case(steps.MAX_CREDITS.label) == "Max credits"
    assert text.sentence_case(steps.RECORD_KEY.label) == "Record key"
    assert steps.MAX_CREDITS.type is FieldType.INTEGER and steps.MAX_CREDITS.minimum == 1
    assert steps.RECORD_KEY.type is FieldType.STRING
    assert "whole batch" in steps.MAX_CREDITS.help
    assert f"{limits.OUTPUT_URL_LIFETIME_DAYS} days" in steps.RECORD_KEY.help
    assert "relay" in steps.RECORD_KEY.without_ledger
    assert steps.over_cap(120, 100) == (
        "not started: this would cost about 120 credits, the cap is 100"
    )
    assert steps.unpriceable("model: unknown", 100).startswith("not started: the price")


def test_every_finished_job_says_what_it_was_charged() -> None:
    """Each paid create whose answer names its credits outputs them (images: the API's
    image answer carries none)."""
    for op in steps.capped(CATALOG.operations.values()):
        keys = CATALOG.output(op.key).keys
        if op.resource == "image":
            continue
        assert "credits" in keys or "credits_charged" in keys, op.key
    assert "credits_refunded" in CATALOG.output("video.create_from_text").keys
    assert "credits_charged" in CATALOG.output("batch.create").keys


def test_each_file_limit_states_its_source_beside_its_number() -> None:
    source = Path(limits.__file__).read_text(encoding="utf-8")
    for limit in limits.FILE_LIMITS:
        assert limit.source.startswith("https://"), limit
        assert limit.source in source
        assert limit.platform in {"Make", "Zapier", "n8n"}
    # every number is stated in a comment that names its source, just above it
    for name in ("MAKE_WEBHOOK", "MAKE_MODULE_FILE", "ZAPIER_STASH_FILE", "N8N_BINARY_DATA"):
        before = source.split(f"\n{name} = FileLimit(")[0].rsplit("\n\n", 1)[-1]
        assert re.search(r"#: Source: https://", before), name
    assert limits.MAKE_WEBHOOK.shown == "5 MB"
    assert limits.file_over_limit(limits.MAKE_MODULE_FILE, "7.3") == (
        "The file is 7.3 MB, over Make's module file limit of 5 MB: use its URL "
        "(it stays available for 7 days)."
    )
