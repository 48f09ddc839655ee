"""The JSON the web app reads and writes; FastAPI turns these models into its OpenAPI schema.

Requests carry text only: no field names a file or a model, so a request cannot make the server
read anything but the models it was started with (unknown fields are refused).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: A half-open word span ``[start, end)``.
WordSpan = tuple[int, int]


class ExplainRequest(BaseModel):
    """A text to classify and, when ``method`` is given, to explain post hoc."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "a gripping , beautifully acted film .", "method": "occlusion"}]
        },
    )

    text: str = Field(
        min_length=1, description="The text; words are split on whitespace, as in training."
    )
    query: str | None = Field(
        None, description="Claim or question paired with the text, for pair tasks (FEVER)."
    )
    method: str | None = Field(
        None,
        description="Post-hoc explainer to run (see GET /api/methods); none: only the model's "
        "own rationale.",
    )
    target: str | None = Field(
        None,
        description="Label the post-hoc explanation explains (default: the explained model's "
        "prediction); needs a method.",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        """Refuse a lone surrogate (JSON can escape one, UTF-8 cannot encode it), saying where."""
        if isinstance(value, str):
            for i, char in enumerate(value):
                if "\ud800" <= char <= "\udfff":
                    raise ValueError(
                        f"character {i} is a lone surrogate (U+{ord(char):04X}), which is not "
                        "Unicode text; send the text as UTF-8"
                    )
        return value


class PostHocExplanation(BaseModel):
    """One explainer's word scores and hard rationale for one model's prediction."""

    method: str
    model: str = Field(description="The model explained.")
    target: str = Field(description="The label explained.")
    probabilities: dict[str, float] = Field(
        description="The explained model's (`model`), reading the whole text; they differ from "
        "the prediction's, which come from the rationalizer's predictor reading only its "
        "rationale."
    )
    scores: list[float] = Field(description="One attribution per word, on the method's scale.")
    rationale: list[WordSpan] = Field(description="Hard rationale: [start, end) word spans.")
    settings: dict[str, Any] = Field(description="Every option the method ran with.")
    seconds: float


class ExplainResponse(BaseModel):
    """The served rationalizer's prediction with the words it read, and any explanation."""

    model: str = Field(description="The served rationalizer.")
    label: str = Field(
        description="The rationalizer's predicted label: its predictor reading only the rationale."
    )
    probabilities: dict[str, float] = Field(
        description="The rationalizer's: its predictor reading only the rationale (the words in "
        "`rationale`), not the whole text; `explanation.probabilities` are the explained "
        "model's on the whole text."
    )
    words: list[str] = Field(description="The text split on whitespace.")
    rationale: list[WordSpan] = Field(
        description="The words the rationalizer's predictor read: [start, end) word spans."
    )
    scores: list[float] = Field(
        description="The selector's probability of choosing each word (0 for truncated words)."
    )
    explanation: PostHocExplanation | None = Field(
        description="The post-hoc explanation, when a method was asked for."
    )


class MethodInfo(BaseModel):
    name: str
    description: str
    requires: str = Field(description="What the method needs from the model.")


class MethodsResponse(BaseModel):
    explained_model: str = Field(description="The model post-hoc methods explain.")
    methods: list[MethodInfo]


class LimitsInfo(BaseModel):
    max_body_bytes: int
    max_words: int
    timeout_seconds: float


class WorkersInfo(BaseModel):
    workers: int = Field(description="Model worker processes started (0: in the server process).")
    alive: int = Field(description="Of those, how many are running.")
    in_server_process: bool
    device: str
    max_batch_size: int
    batch_timeout_ms: float
    requests: int = Field(description="Requests the workers have answered so far.")
    batches: int = Field(description="Forward-pass batches they ran them in.")


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when a model worker has died.")
    model: str
    explained_model: str
    labels: list[str]
    limits: LimitsInfo
    workers: WorkersInfo


class ErrorMessage(BaseModel):
    """What every refused request gets back (validation errors list their fields instead)."""

    detail: str


class FieldError(BaseModel):
    """One way a request does not match this schema."""

    type: str = Field(description="What is wrong: missing, extra_forbidden, json_invalid...")
    loc: list[str | int] = Field(description="Where: body, then the path to the field.")
    msg: str
    input: Any = Field(None, description="The value at fault (a lone surrogate escaped).")
    ctx: dict[str, Any] | None = Field(None, description="Details, such as the limit broken.")


class InvalidRequest(BaseModel):
    """A request that does not match this schema, with every problem and where it is."""

    detail: list[FieldError]
