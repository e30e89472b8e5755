"""Errors of the reasoning layer, all in the shared hierarchy.

The agent loop never lets these reach a workflow: a provider error degrades the call to the
deterministic core and its `code` becomes the recorded degrade reason.
"""

from __future__ import annotations

from acso_shared.errors import Invalid, Unavailable, Upstream


class ProviderUnavailable(Unavailable):
    """The model cannot be reached now: not configured, no credentials, connection refused, outage."""

    default_code = "llm_unavailable"


class ProviderThrottled(Unavailable):
    """The model kept throttling us after every retry."""

    default_code = "llm_throttled"


class ProviderTimeout(Unavailable):
    """A call did not finish within the per-call timeout."""

    default_code = "llm_timeout"


class ProviderFailed(Upstream):
    """The model endpoint answered with an error we do not retry (access denied, bad model id, bad request)."""

    default_code = "llm_upstream_error"


class ToolRegistrationError(Invalid):
    """A tool definition is unusable (duplicate name, bad name, mutating tool without identifiers)."""

    default_code = "llm_tool_invalid"


class PromptNotFound(Invalid):
    default_code = "llm_prompt_not_found"
