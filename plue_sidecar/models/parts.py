"""Message parts: the pieces a message is made of, told apart by `type`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue

from plue_sidecar.models.base import WireModel


class TextPart(WireModel):
    type: Literal["text"] = "text"
    text: str


class ReasoningPart(WireModel):
    type: Literal["reasoning"] = "reasoning"
    text: str


class ToolCallPart(WireModel):
    type: Literal["toolCall"] = "toolCall"
    call_id: str
    name: str
    input: JsonValue = None


class ToolResultPart(WireModel):
    type: Literal["toolResult"] = "toolResult"
    call_id: str
    output: JsonValue = None
    is_error: bool = False


class FilePart(WireModel):
    type: Literal["file"] = "file"
    uri: str
    mime_type: str


Part = Annotated[
    TextPart | ReasoningPart | ToolCallPart | ToolResultPart | FilePart,
    Field(discriminator="type"),
]

PartList = Annotated[list[Part], Field(min_length=1)]


def merge_delta(parts: list[Any], delta: Any) -> None:
    """Append a streamed delta, joining consecutive text (or reasoning) pieces."""
    if parts and isinstance(delta, TextPart | ReasoningPart) and type(parts[-1]) is type(delta):
        parts[-1] = parts[-1].model_copy(update={"text": parts[-1].text + delta.text})
    else:
        parts.append(delta)
