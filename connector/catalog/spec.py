"""The vocabulary the catalog is written in: resources, fields, operations, events, errors.

These classes describe the API; they hold no behaviour beyond small derived views.
Everything a platform emitter, the client, the sandbox or the relay needs to know
about the CreativeAI API is an instance of one of them, defined once in the
neighbouring modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

Platform = Literal["n8n", "make", "zapier"]
ALL_PLATFORMS: frozenset[Platform] = frozenset({"n8n", "make", "zapier"})


class FieldType(StrEnum):
    """What a value is, independent of any platform's own type names."""

    STRING = "string"  # one line of text
    TEXT = "text"  # multi-line text (prompts, narration)
    URL = "url"  # an absolute http(s) URL
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"  # one of `options`
    STRING_LIST = "string_list"  # list of strings (or URLs when item_type is URL)
    NUMBER_LIST = "number_list"
    OBJECT = "object"  # nested object described by `children`
    OBJECT_LIST = "object_list"  # list of objects described by `children`
    FILE = "file"  # binary upload (multipart)


class Resource(BaseModel):
    """What builders pick first: one label and one noun for every platform."""

    model_config = ConfigDict(frozen=True)

    key: str  # Operation.resource names it, e.g. "chart"
    label: str  # e.g. "Chart Video"
    noun: str  # lower case, as in running text: "chart video"
    plural: str  # "chart videos"


class ModelSource(BaseModel):
    """A dropdown whose values come from `GET /v1/models` at run time.

    `kind` keeps the list to one model type (`video`, `image`, `image-edit`); None lists
    every model. The API does not document a `type` on the listed models, so the rule
    (`choices`) is: keep the items whose `type` is `kind`; when no item carries a `type`,
    the choices are the catalog's known models (the field's own options). Each platform
    runtime implements this same rule from the generated data.
    """

    model_config = ConfigDict(frozen=True)

    kind: str | None = None

    @property
    def name(self) -> str:
        """`video`, `image-edit`, or `all` (every model): a stable part of generated names."""
        return self.kind or "all"

    def choices(self, items: Iterable[Mapping[str, Any]], known: Iterable[str]) -> list[str]:
        """The model ids to offer, from the listed `items` and the catalog's `known` ids."""
        listed = [item for item in items if isinstance(item.get("id"), str)]
        if self.kind is None:
            return [str(item["id"]) for item in listed]
        if not any(item.get("type") for item in listed):
            return list(known)
        return [str(item["id"]) for item in listed if item.get("type") == self.kind]


class Duration(BaseModel):
    """How long a job of one operation runs, start to terminal state, in seconds."""

    model_config = ConfigDict(frozen=True)

    typical_s: float
    longest_s: float

    @model_validator(mode="after")
    def _ordered(self) -> Duration:
        if not 0 < self.typical_s <= self.longest_s:
            raise ValueError(f"need 0 < typical_s <= longest_s, got {self}")
        return self


class Option(BaseModel):
    """One allowed value of an enum field."""

    model_config = ConfigDict(frozen=True)

    value: str
    label: str
    help: str = ""


class Field(BaseModel):
    """One API field, described once and shared by every operation that sends it."""

    model_config = ConfigDict(frozen=True)

    key: str  # unique catalog id, e.g. "video_duration"
    name: str  # the name on the wire, e.g. "duration"
    type: FieldType
    label: str
    help: str
    options: tuple[Option, ...] = ()
    # A closed enum refuses other values; an open one (camera_angle) only suggests.
    closed: bool = True
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    item_type: FieldType | None = None  # for STRING_LIST: STRING or URL
    default: Any = None
    example: Any = None
    children: tuple[Field, ...] = ()
    # Only for children of an object field: whether the parent needs it.
    required: bool = False
    # The operations that send this field, and those among them that require it.
    operations: tuple[str, ...] = ()
    required_in: tuple[str, ...] = ()
    # A value the operation always sends and never shows (stream=true on stream calls).
    fixed: Any = None
    # Where the value list comes from at run time (GET /v1/models, kept to one model kind);
    # the field's own `options` are then the known models (see `ModelSource.choices`).
    options_source: ModelSource | None = None
    # Which platforms show it (all by default); `advanced` puts it under "additional fields".
    platforms: frozenset[Platform] = ALL_PLATFORMS
    advanced: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Field:
        if self.type is FieldType.ENUM and not self.options:
            raise ValueError(f"enum field {self.key!r} needs options")
        if self.type in (FieldType.OBJECT, FieldType.OBJECT_LIST) and not self.children:
            raise ValueError(f"object field {self.key!r} needs children")
        stray = set(self.required_in) - set(self.operations)
        if stray:
            raise ValueError(f"{self.key!r} is required in {sorted(stray)} but not used there")
        values = self.option_values
        if self.closed and self.default is not None and values and self.default not in values:
            raise ValueError(f"default of {self.key!r} is not one of its options")
        return self

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    def model_choices(self, items: Iterable[Mapping[str, Any]]) -> list[str]:
        """The models this field offers, given the items `GET /v1/models` listed."""
        if self.options_source is None:
            raise ValueError(f"field {self.key!r} has no model source")
        return self.options_source.choices(items, self.option_values)

    def allowed(self) -> str:
        """A short human description of what this field accepts."""
        t = self.type
        if t is FieldType.ENUM:
            listed = ", ".join(self.option_values)
            return f"one of {listed}" if self.closed else f"for example {listed}"
        if t in (FieldType.INTEGER, FieldType.NUMBER):
            kind = "a whole number" if t is FieldType.INTEGER else "a number"
            return kind + _range_words(self.minimum, self.maximum)
        if t in (FieldType.STRING, FieldType.TEXT):
            if self.max_length is not None:
                return "text of" + _range_words(self.min_length or 0, self.max_length, "characters")
            return "non-empty text" if self.min_length else "text"
        if t is FieldType.URL:
            return "an absolute http(s) URL"
        if t is FieldType.BOOLEAN:
            return "true or false"
        if t in (FieldType.STRING_LIST, FieldType.NUMBER_LIST, FieldType.OBJECT_LIST):
            what = {
                FieldType.STRING_LIST: "URLs" if self.item_type is FieldType.URL else "texts",
                FieldType.NUMBER_LIST: "numbers",
                FieldType.OBJECT_LIST: "items",
            }[t]
            return "a list of" + _range_words(self.min_items, self.max_items, what, bare=what)
        if t is FieldType.OBJECT:
            return "an object with " + ", ".join(c.name for c in self.children)
        return "a file"


def _range_words(low: float | None, high: float | None, unit: str = "", *, bare: str = "") -> str:
    def fmt(v: float) -> str:
        return f"{v:,.0f}" if float(v).is_integer() and abs(v) >= 1000 else f"{v:g}"

    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f" {fmt(low)} to {fmt(high)}{suffix}" if unit else f" from {fmt(low)} to {fmt(high)}"
    if low is not None:
        return f" at least {fmt(low)}{suffix}"
    if high is not None:
        return f" at most {fmt(high)}{suffix}"
    return f" {bare}" if bare else ""


class FieldText(BaseModel):
    """What one operation says about a field where the field's own words are written for
    another operation (a prompt's example is a video shot; an image prompt needs its own)."""

    model_config = ConfigDict(frozen=True)

    help: str | None = None
    example: Any = None


class FieldUse(BaseModel):
    """A field as one operation uses it (derived from `Field.operations`), with that
    operation's own help and example where it states them (`Operation.field_text`)."""

    model_config = ConfigDict(frozen=True)

    field: Field
    required: bool = False
    own: FieldText | None = None

    @property
    def help(self) -> str:
        """The help this operation shows: its own, else the field's."""
        if self.own is not None and self.own.help is not None:
            return self.own.help
        return self.field.help

    @property
    def example(self) -> Any:
        """The example this operation shows: its own, else the field's."""
        if self.own is not None and self.own.example is not None:
            return self.own.example
        return self.field.example

    @property
    def shown(self) -> Field:
        """The field with this operation's help and example, for code that renders a
        `Field` (the field is unchanged where the operation states nothing of its own)."""
        if self.own is None:
            return self.field
        return self.field.model_copy(update={"help": self.help, "example": self.example})


class JobKind(StrEnum):
    """How an asynchronous job is followed to its end."""

    VIDEO = "video"  # GET /v1/video/generations/{id}, lower-case statuses
    BATCH = "batch"  # GET /v1/video/generations/batch/{id}
    SHARED = "shared"  # GET /api/generate/status/{id}, upper-case statuses


class OperationKind(StrEnum):
    CREATE = "create"  # starts paid work: never retried unless certainly refused
    GET = "get"
    LIST = "list"
    CALCULATE = "calculate"


class Operation(BaseModel):
    """One call of the API, as builders see it (a resource and an action)."""

    model_config = ConfigDict(frozen=True)

    key: str  # e.g. "video.create_from_text"
    resource: str  # e.g. "video"
    action: str  # e.g. "create_from_text"
    label: str
    description: str
    method: Literal["GET", "POST"]
    path: str  # may contain {id}
    aliases: tuple[str, ...] = ()
    kind: OperationKind
    body: Literal["json", "multipart", "none"] = "json"
    fields: tuple[FieldUse, ...] = ()  # filled in from the fields' own `operations`
    # Groups of fields of which exactly one must be given (chart image or chart data).
    one_of: tuple[tuple[str, ...], ...] = ()
    platforms: frozenset[Platform] = ALL_PLATFORMS
    path_params: tuple[Field, ...] = ()
    response: str  # name of a response model in catalog.responses
    job: JobKind | None = None  # set on creates that start an async job (and on their status)
    status_operation: str | None = None  # the GET that follows a job this op starts
    # Webhook events a job of this op can end with: derived from `Event.operations`.
    events: tuple[str, ...] = ()
    # How long the job runs (job-starting operations only).
    duration: Duration | None = None
    # This operation's own help or example for a field, by field key, where the field's
    # own words are written for another operation (see `FieldUse.help`).
    field_text: Mapping[str, FieldText] = {}
    credits_example: int | None = None
    sample_response: Mapping[str, Any] = {}

    @property
    def is_async(self) -> bool:
        return self.kind is OperationKind.CREATE and self.job is not None

    def visible_fields(self, platform: Platform) -> tuple[FieldUse, ...]:
        """The fields a builder fills in on `platform`: shown there and not fixed."""
        return tuple(
            use
            for use in self.fields
            if platform in use.field.platforms and use.field.fixed is None
        )

    def field(self, name: str) -> FieldUse:
        for use in self.fields:
            if use.field.name == name:
                return use
        raise KeyError(f"{self.key} has no field {name!r}")


class NormalizedState(StrEnum):
    """One state vocabulary over the API's two status spellings and the stream frames."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (NormalizedState.COMPLETED, NormalizedState.FAILED, NormalizedState.CANCELED)


class ErrorCode(BaseModel):
    """One API error code: what it means for a builder and whether a retry can help."""

    model_config = ConfigDict(frozen=True)

    code: str
    http_status: int
    title: str
    advice: str
    retryable: bool
    billed: bool = False


class Event(BaseModel):
    """One webhook event the API sends for a terminal job state."""

    model_config = ConfigDict(frozen=True)

    name: str  # the X-CreativeAI-Event value
    label: str
    state: NormalizedState
    payload: str  # name of the payload model in catalog.events
    operations: tuple[str, ...]
    # False where the docs do not name the event (compose, chart, failed voice/image):
    # we accept and emit it, but say it is inferred.
    documented: bool = True
