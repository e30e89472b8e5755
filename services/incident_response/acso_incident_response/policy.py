"""The action policy: scope guard and blast-radius cap. It fails closed.

An action may run only when its account is on the allow-list, its resource is not tagged
protected, and its incident is under the blast-radius cap. Anything that stops the policy from
reaching a decision (the tags cannot be read, the account is unknown) blocks the action.
"""

from __future__ import annotations

from dataclasses import dataclass

from acso_incident_response.actions.base import ActionContext
from acso_incident_response.actions.catalog import resource_tags
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target
from acso_shared.errors import AcsoError
from acso_shared.logging import get_logger

log = get_logger("acso.incident_response.policy")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str
    reason: str


ALLOW = Decision(True, "allowed", "within scope")


def evaluate(settings: Settings, target: Target, tags: dict[str, str], *, actions_in_incident: int) -> Decision:
    """Decide on facts already gathered; `actions_in_incident` counts this one's predecessors."""
    account = target.account_id
    if account is None:
        return Decision(False, "account_unknown", "the finding names no account, so scope cannot be checked")
    if account not in settings.allowed_account_ids:
        return Decision(False, "account_not_allowed", f"account {account} is not on the allow-list")
    if tags.get(settings.protected_tag_key, "").strip().lower() == settings.protected_tag_value.lower():
        return Decision(
            False,
            "resource_protected",
            f"{target.key} is tagged {settings.protected_tag_key}={settings.protected_tag_value}",
        )
    if actions_in_incident >= settings.blast_radius_max_actions:
        return Decision(
            False,
            "blast_radius_exceeded",
            f"the incident already has {actions_in_incident} actions (cap {settings.blast_radius_max_actions})",
        )
    return ALLOW


async def check(ctx: ActionContext, target: Target, *, actions_in_incident: int) -> Decision:
    """Gather the live tags and decide; any failure on the way is a block, never an allow."""
    try:
        tags = await resource_tags(ctx, target) if target.account_id in ctx.settings.allowed_account_ids else {}
        return evaluate(ctx.settings, target, tags, actions_in_incident=actions_in_incident)
    except AcsoError as err:
        return Decision(False, "policy_error", f"the policy could not be evaluated: {err.code}: {err.message}")
    except Exception as err:
        log.exception("policy_evaluation_failed", target=target.key)
        return Decision(False, "policy_error", f"the policy could not be evaluated: {type(err).__name__}")
