"""The client's resource classes are generated from the catalog (`resources.py`): one typed
method per operation, sync and async twins alike, documented with the operation's own words,
and a new operation gets its method from `build` alone."""

from __future__ import annotations

import inspect
from typing import Any

from connector.catalog import CATALOG, Catalog, Operation, fields, operations
from connector.catalog.spec import JobKind
from connector.client import AsyncCreativeAI, CreativeAI, resources
from connector.platforms import GENERATED_NOTICE
from connector.platforms import client as emitter


def _method(client: object, op: Operation) -> Any:
    return getattr(getattr(client, emitter.attribute(op.resource)), emitter.method_name(op))


def test_every_operation_has_a_sync_and_an_async_method_with_its_description() -> None:
    sync, aio = CreativeAI(api_key="sk-test"), AsyncCreativeAI(api_key="sk-test")
    for op in CATALOG.operations.values():
        one, two = _method(sync, op), _method(aio, op)
        params = inspect.signature(one).parameters, inspect.signature(two).parameters
        assert params[0] == params[1], op.key  # twins (streams answer an async iterator)
        if op.key in emitter.HAND_WRITTEN:
            continue
        doc = " ".join((inspect.getdoc(one) or "").split()).lower()
        assert op.description.lower() in doc, op.key
        streams = emitter.is_stream(op)
        assert inspect.iscoroutinefunction(two) is not streams, op.key  # awaited, but streams


def test_the_resources_file_says_it_is_generated() -> None:
    text = inspect.getsource(resources)
    assert text.splitlines()[0] == f"# {GENERATED_NOTICE}"


def _with_cutout() -> Catalog:
    """The catalog plus an operation on the shared status endpoint (an image URL in, a job out),
    named so that it cannot be one the catalog has."""
    voice = CATALOG.operation("voice.create")
    new = voice.model_copy(
        update={
            "key": "image.cutout_for_test",
            "resource": "image",
            "action": "cutout_for_test",
            "label": "Cut Out Image (Test)",
            "description": "Cut the subject of an image out of its background.",
            "path": "/api/generate/cutout-for-test",
            "fields": (),
            "events": (),
        }
    )
    url = fields.IMAGE_URL
    moved = url.model_copy(
        update={
            "operations": (*url.operations, new.key),
            "required_in": (*url.required_in, new.key),
        }
    )
    all_fields = tuple(moved if f.key == url.key else f for f in fields.ALL)
    return Catalog((*operations.ALL, new), all_fields)


def test_a_new_shared_status_operation_gets_typed_methods_from_the_catalog_alone() -> None:
    catalog = _with_cutout()
    assert catalog.operation("image.cutout_for_test").job is JobKind.SHARED
    files = emitter.emit(catalog)
    code, params = files[emitter.RESOURCES].decode(), files[emitter.TARGET].decode()
    assert "class ImageCutoutForTestParams(TypedDict, total=False):" in params
    assert "    image_url: Required[str]" in params
    sig = "def cutout_for_test(self, **fields: Unpack[ImageCutoutForTestParams]) -> SharedJob:"
    assert code.count(f"    {sig}") == 1 and code.count(f"    async {sig}") == 1
    assert '"""Cut the subject of an image out of its background."""' in code
    assert 'self._client.call("image.cutout_for_test", **fields)' in code
    assert files == emitter.emit(catalog)  # deterministic
    unchanged = emitter.emit(CATALOG)[emitter.RESOURCES].decode()
    assert "cutout_for_test" not in unchanged
