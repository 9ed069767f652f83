"""What each operation acts on, named once for every platform (`Operation.resource`)."""

from __future__ import annotations

from connector.catalog.spec import Resource

ALL: tuple[Resource, ...] = (
    Resource(key="video", label="Video", noun="video", plural="videos"),
    Resource(key="batch", label="Video Batch", noun="video batch", plural="video batches"),
    Resource(key="voice", label="Voice", noun="voice", plural="voices"),
    Resource(key="compose", label="Compose", noun="composed video", plural="composed videos"),
    Resource(key="job", label="Job", noun="job", plural="jobs"),
    Resource(key="image", label="Image", noun="image", plural="images"),
    Resource(key="chart", label="Chart Video", noun="chart video", plural="chart videos"),
    Resource(key="model", label="Model", noun="model", plural="models"),
    Resource(key="price", label="Price", noun="price", plural="prices"),
)

BY_KEY: dict[str, Resource] = {r.key: r for r in ALL}
