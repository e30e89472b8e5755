"""Structured outputs: find the JSON object in a model answer and validate it against a pydantic model."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

OutT = TypeVar("OutT", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in `text`: a fenced block if there is one, else the outermost `{...}`.

    Raises ValueError when there is none; models often wrap JSON in prose or a code fence.
    """
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    return json.loads(candidate[start : end + 1])


def validate_output(text: str, model: type[OutT]) -> tuple[OutT | None, str | None]:
    """The validated output, or None and a short error summary (without echoing the input)."""
    try:
        data = extract_json(text)
    except ValueError as err:
        return None, f"not a JSON object: {err}"
    try:
        return model.model_validate(data), None
    except ValidationError as err:
        errors = err.errors(include_input=False, include_url=False)[:8]
        return None, "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors)


def output_instructions(model: type[BaseModel]) -> str:
    """The trusted instruction telling the model which JSON to produce."""
    schema = json.dumps(model.model_json_schema(), sort_keys=True)
    return (
        "When you have finished using tools, answer with exactly one JSON object, and nothing else, "
        f"that validates against this JSON schema:\n{schema}"
    )


def repair_instructions(errors: str) -> str:
    """The one repair request sent after an invalid answer."""
    return (
        f"Your previous answer did not validate: {errors}. Reply again with only the corrected JSON object "
        "that matches the schema. Do not call tools."
    )
