"""Builder-facing text: the renderers on real catalog strings, and no text about our sources."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from connector.catalog import (
    CATALOG,
    Catalog,
    Field,
    FieldText,
    errors,
    events,
    fields,
    operations,
    steps,
    text,
)


def test_title_case_keeps_the_catalog_labels_and_n8ns_small_words() -> None:
    for op in CATALOG.operations.values():
        assert text.title_case(op.label) == op.label, op.key
    assert text.title_case("compose video and audio") == "Compose Video and Audio"
    assert text.title_case("create video from text") == "Create Video From Text"
    assert text.title_case("source image URL") == "Source Image URL"
    assert text.title_case("AI director mode") == "AI Director Mode"
    assert text.title_case("duration (seconds)") == "Duration (Seconds)"


def test_sentence_case_keeps_acronyms_and_product_names() -> None:
    assert text.sentence_case(fields.IMAGE_URL.label) == "Source image URL"
    assert text.sentence_case(fields.AI_DIRECTOR_MODE.label) == "AI director mode"
    assert text.sentence_case(CATALOG.operation("video.create_from_text").label) == (
        "Create video from text"
    )
    assert text.sentence_case("Compose Video and Audio") == "Compose video and audio"
    assert text.sentence_case("Generation ID") == "Generation ID"
    assert text.sentence_case("DALL-E 3 (recommended)") == "DALL-E 3 (recommended)"


def test_third_person_descriptions() -> None:
    assert text.third_person("Create a video from a text prompt") == (
        "Creates a video from a text prompt."
    )
    assert text.third_person(CATALOG.operation("video.get").description) == (
        "Gets a video generation's status and result."
    )
    assert text.third_person("Finish a batch") == "Finishes a batch."
    assert text.third_person("Copy a file") == "Copies a file."
    assert text.trigger_description("a video finishes") == "Triggers when a video finishes."
    with pytest.raises(ValueError, match="capitalised verb"):
        text.third_person("a video")


def test_n8n_descriptions_and_booleans() -> None:
    assert text.n8n_description(fields.CHART_DURATION.help) == (
        "Length of the chart video in seconds"
    )
    two = "First sentence. Second sentence."
    assert text.n8n_description(two) == two  # several sentences keep their periods
    assert text.whether("Use another provider when one fails") == (
        "Whether to use another provider when one fails"
    )
    assert text.whether("Whether to add sound") == "Whether to add sound"


def test_join_words() -> None:
    assert text.join_words(["voice"]) == "voice"
    assert text.join_words(["a", "b"], "or") == "a or b"
    with pytest.raises(ValueError):
        text.join_words([])


SOURCE_TALK = re.compile(r"\b(docs?|documentation|documented|examples?)\b", re.IGNORECASE)


def _field_texts(f: Field) -> Iterator[str]:
    yield f.label
    yield f.help
    for o in f.options:
        yield o.label
        yield o.help
    for child in f.children:
        yield from _field_texts(child)


def _builder_texts() -> Iterator[tuple[str, str]]:
    for f in CATALOG.fields:
        for t in _field_texts(f):
            yield f.key, t
    for op in CATALOG.operations.values():
        yield op.key, op.label
        yield op.key, op.description
        for p in op.path_params:
            for t in _field_texts(p):
                yield op.key, t
        for out_field in CATALOG.output(op.key).fields:
            yield op.key, out_field.label
            yield op.key, out_field.help
    for e in CATALOG.events.values():
        yield e.name, e.label
        for out_field in CATALOG.event_output(e.name).fields:
            yield e.name, out_field.label
            yield e.name, out_field.help
    for code in errors.BY_CODE.values():
        yield code.code, code.title
        yield code.code, code.advice
    yield "unconfirmed", events.unconfirmed_note(["x.y.z"])
    for option in (steps.MAX_CREDITS, steps.RECORD_KEY):
        yield option.key, option.help
        yield option.key, option.without_ledger


def test_no_builder_text_talks_about_our_sources() -> None:
    offending = [(where, t) for where, t in _builder_texts() if SOURCE_TALK.search(t)]
    assert not offending


def test_sentence_case_lowers_the_later_parts_of_a_title_cased_compound() -> None:
    assert text.sentence_case(fields.MULTI_SHOT_PROMPTS.label) == "Multi-shot prompts"
    assert text.sentence_case("DALL-E 3 Model") == "DALL-E 3 model"  # a name keeps its parts


def test_sentence_case_leaves_words_that_start_with_a_digit_alone() -> None:
    wide = fields.SIZE.options[-1].label
    assert wide.startswith("1792x1024")
    assert text.sentence_case(wide) == "1792x1024 (wide)"
    assert text.sentence_case("5 Seconds") == "5 seconds"


def test_third_person_conjugates_every_verb_of_an_opening_list() -> None:
    edit = CATALOG.operation("image.edit").description
    assert edit.startswith("Inpaint, outpaint or restyle")
    assert text.third_person(edit) == (
        "Inpaints, outpaints or restyles an uploaded image (answers at once)."
    )
    assert text.third_person("Copy, fix and push a file") == "Copies, fixes and pushes a file."
    assert text.third_person("Put a track onto a video") == "Puts a track onto a video."


def _option(f: Field, value: str) -> str:
    return next(o.label for o in f.options if o.value == value)


def test_title_case_keeps_words_that_start_with_a_digit_as_the_api_writes_them() -> None:
    resolution = _option(fields.RESOLUTION, "480p")
    assert resolution == "480p"
    assert text.title_case(resolution) == "480p"  # not "480P"
    assert text.title_case(fields.SIZE.options[-1].label) == "1792x1024 (Wide)"


def test_title_case_capitalises_the_last_word_even_a_minor_one() -> None:
    build_up = next(o.label for f in CATALOG.fields for o in f.options if o.value == "build_up")
    assert build_up.lower() == "build up"
    assert text.title_case(build_up) == "Build Up"
    assert text.title_case("put output file in field") == "Put Output File in Field"


def test_title_case_capitalises_each_part_of_a_hyphenated_word() -> None:
    # n8n's linter (the title-case package) splits words at hyphens.
    assert text.title_case("multi-shot prompts") == fields.MULTI_SHOT_PROMPTS.label
    assert text.title_case("DALL-E 3 (recommended)") == "DALL-E 3 (Recommended)"


def test_whether_reads_a_help_written_as_on_and_off() -> None:
    assert fields.REPLACE_AUDIO.help.startswith("On: ")
    assert text.whether(fields.REPLACE_AUDIO.help) == (
        "Whether to swap the video's soundtrack for this audio (off: mix it over the original)"
    )


def test_n8n_descriptions_write_id_in_capitals() -> None:
    assert text.n8n_description("The job id to look up.") == "The job ID to look up"
    assert text.n8n_description("Up to 20 ids.") == "Up to 20 IDs"
    assert text.n8n_description("Pick a video model.") == "Pick a video model"  # no "ID" inside


def test_an_operation_states_its_own_help_and_example_for_a_field() -> None:
    video = CATALOG.operation("video.create_from_text").field("prompt")
    image = CATALOG.operation("image.generate").field("prompt")
    edit = CATALOG.operation("image.edit").field("prompt")
    assert video.help == fields.PROMPT.help and video.example == fields.PROMPT.example
    assert video.shown is fields.PROMPT
    assert "turntable" not in str(image.example) and "turntable" not in str(edit.example)
    assert image.help.startswith("Describe the image") and image.shown.help == image.help
    assert image.shown.example == image.example and image.shown.key == "prompt"
    ratio = CATALOG.operation("video.create_from_image").field("aspect_ratio")
    assert "source image" in ratio.help
    assert "source image" not in CATALOG.operation("batch.create").field("aspect_ratio").help


def test_the_catalog_refuses_own_text_for_a_field_an_operation_does_not_take() -> None:
    ops = tuple(
        op.model_copy(update={"field_text": {"prompt": FieldText(help="x")}})
        if op.key == "model.list"
        else op
        for op in operations.ALL
    )
    with pytest.raises(ValueError, match=r"model\.list.*does not take"):
        Catalog(ops, fields.ALL)
