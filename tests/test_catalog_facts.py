"""Facts the catalog states once: resources, model sources, durations, visibility, events."""

from __future__ import annotations

import pytest

from connector.catalog import (
    CATALOG,
    Catalog,
    Duration,
    ModelSource,
    events,
    fields,
    operations,
    text,
)
from connector.catalog.spec import ALL_PLATFORMS, JobKind


def test_every_operation_names_a_known_resource_with_label_noun_and_plural() -> None:
    for op in CATALOG.operations.values():
        resource = CATALOG.resource(op.key)
        assert resource.key == op.resource
        assert resource.label and resource.noun == resource.noun.lower() and resource.plural
    assert CATALOG.resources["batch"].label == "Video Batch"
    assert CATALOG.resources["chart"].label == "Chart Video"


def test_an_operation_on_an_unknown_resource_is_refused() -> None:
    stray = operations.BY_KEY["price.calculate"].model_copy(update={"resource": "prices"})
    with pytest.raises(ValueError, match="unknown resource 'prices'"):
        Catalog((*operations.ALL[:-3], stray), ())


# -- model sources --------------------------------------------------------------------------

LISTED_UNTYPED = [{"id": "auto", "object": "model"}, {"id": "dall-e-3", "object": "model"}]
LISTED_TYPED = [
    {"id": "auto", "type": "video"},
    {"id": "kling-v3", "type": "video"},
    {"id": "dall-e-3", "type": "image"},
]


def test_models_without_a_type_fall_back_to_the_catalogs_known_models() -> None:
    assert fields.VIDEO_MODEL.model_choices(LISTED_UNTYPED) == list(
        fields.VIDEO_MODEL.option_values
    )


def test_models_with_a_type_are_kept_to_the_fields_kind() -> None:
    assert fields.VIDEO_MODEL.model_choices(LISTED_TYPED) == ["auto", "kling-v3"]
    assert ModelSource(kind="image").choices(LISTED_TYPED, known=()) == ["dall-e-3"]


def test_a_source_of_every_model_lists_everything_served() -> None:
    every = ModelSource()
    assert every.name == "all" and every.kind is None
    assert every.choices(LISTED_UNTYPED, known=["x"]) == ["auto", "dall-e-3"]


def test_model_sources_are_typed_records_not_strings() -> None:
    sources = {f.key: f.options_source for f in CATALOG.fields if f.options_source}
    assert sources["video_model"] == ModelSource(kind="video")
    assert sources["price_model"] == ModelSource()
    assert all(isinstance(s, ModelSource) for s in sources.values())
    with pytest.raises(ValueError, match="no model source"):
        fields.VOICE.model_choices(LISTED_TYPED)


# -- durations --------------------------------------------------------------------------------


def test_every_job_starting_operation_has_a_duration() -> None:
    for op in CATALOG.operations.values():
        if op.is_async or op.status_operation:
            assert op.duration is not None, op.key
            assert 0 < op.duration.typical_s <= op.duration.longest_s
        else:
            assert op.duration is None, op.key


def test_typical_durations_are_the_documented_examples() -> None:
    for key in ("voice.create", "compose.create", "chart.create"):
        op = CATALOG.operation(key)
        assert op.duration is not None
        assert op.duration.typical_s == {"voice": 12, "compose": 18, "chart": 45}[op.resource]
    video = CATALOG.operation("video.create_from_text").duration
    assert video == Duration(typical_s=163, longest_s=600)  # 16:10:00 -> 16:12:43; 10 min limit


def test_a_duration_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="typical_s <= longest_s"):
        Duration(typical_s=10, longest_s=5)


# -- visibility -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", sorted(ALL_PLATFORMS))
def test_visible_fields_leave_out_fixed_and_other_platforms_fields(platform: str) -> None:
    for op in CATALOG.operations.values():
        shown = CATALOG.visible_fields(op.key, platform)  # type: ignore[arg-type]
        assert shown == op.visible_fields(platform)  # type: ignore[arg-type]
        for use in op.fields:
            visible = platform in use.field.platforms and use.field.fixed is None
            assert (use in shown) is visible, (op.key, use.field.key)
    stream = CATALOG.operation("video.stream")
    assert any(u.field.fixed is not None for u in stream.fields)
    assert all(u.field.fixed is None for u in stream.visible_fields("n8n"))


# -- events -----------------------------------------------------------------------------------


def test_operation_events_are_derived_from_the_events() -> None:
    for op in CATALOG.operations.values():
        declared = tuple(e.name for e in events.ALL if op.key in e.operations)
        assert op.events == declared
        assert tuple(e.name for e in CATALOG.events_for(op.key)) == declared
    assert CATALOG.operation("voice.create").events == (
        "voice.generation.completed",
        "voice.generation.failed",
    )


def test_operations_do_not_declare_events_themselves() -> None:
    assert all(not op.events for op in operations.ALL)
    doubled = operations.BY_KEY["voice.create"].model_copy(update={"events": ("x.y.z",)})
    with pytest.raises(ValueError, match=r"Event\.operations"):
        Catalog((doubled,), ())


# -- text listing job kinds -------------------------------------------------------------------


def test_job_kinds_are_listed_from_resource_nouns() -> None:
    nouns = CATALOG.job_nouns(JobKind.SHARED)
    shown = [
        CATALOG.resource(op.key).noun
        for op in CATALOG.operations.values()
        if op.is_async and op.job is JobKind.SHARED and op.platforms
    ]
    assert nouns == list(dict.fromkeys(shown))  # each once, in catalog order
    documented = ["voice", "composed video", "chart video"]
    assert [n for n in nouns if n in documented] == documented
    assert text.join_words(documented, "or") == "voice, composed video or chart video"
    assert CATALOG.operation("job.get").description == (
        f"Get a {text.join_words(nouns, 'or')} job's status and result."
    )


def test_a_job_that_takes_a_webhook_url_must_name_its_events() -> None:
    chart = operations.BY_KEY["chart.create"]
    scratch = chart.model_copy(update={"key": "chart.scratch", "action": "scratch"})
    hook = fields.WEBHOOK_URL.model_copy(
        update={"operations": (*fields.WEBHOOK_URL.operations, "chart.scratch")}
    )
    others = tuple(f for f in fields.ALL if f.key != hook.key)
    with pytest.raises(ValueError, match=r"'chart\.scratch' takes a webhook_url but no event"):
        Catalog((*operations.ALL, scratch), (*others, hook))


def test_every_resource_noun_is_a_noun_zapier_can_name() -> None:
    # Zapier shows "Create a new <noun>"; "Compose" (the resource's label) is a verb.
    assert CATALOG.resources["compose"].noun == "composed video"
    for resource in CATALOG.resources.values():
        assert resource.noun == resource.noun.lower() and resource.plural.startswith(
            resource.noun.split()[0]
        ), resource.key
