"""Heuristic prompt-injection detector for untrusted evidence and tool results.

It looks for the five shapes attacks on a security assistant take, after normalising the text
(Unicode NFKC, zero-width and bidi controls removed, whitespace collapsed, lower case) so that
trivial obfuscation does not slip past:

- `instruction_override`: "ignore previous instructions", "you are now", "new system prompt:".
- `order_action`: text that addresses the assistant and orders a containment or admin action, or
  asks it to call a tool or run a command.
- `change_scope`: "apply this to all accounts", "also isolate ...", "expand the scope".
- `exfiltrate`: "send ... to https://...", "reveal your system prompt / credentials".
- `suppress_findings`: "mark this as a false positive", "do not escalate", "lower the severity".
- `role_impersonation`: chat-template tokens (`<|im_start|>`, `[INST]`), `system:` lines, fake
  evidence markers.

A finding never blocks the workflow: it is recorded on the incident and caps the confidence of
conclusions drawn from the text. Heuristics miss paraphrases and encodings (base64, other
languages); the Bedrock guardrail's PROMPT_ATTACK filter is the second, independent detector, and
the action policy is the control that matters: no mutating action runs on the model's word.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class InjectionCategory(StrEnum):
    INSTRUCTION_OVERRIDE = "instruction_override"
    ORDER_ACTION = "order_action"
    CHANGE_SCOPE = "change_scope"
    EXFILTRATE = "exfiltrate"
    SUPPRESS_FINDINGS = "suppress_findings"
    ROLE_IMPERSONATION = "role_impersonation"
    GUARDRAIL_PROMPT_ATTACK = "guardrail_prompt_attack"
    OUT_OF_SCOPE_IDENTIFIER = "out_of_scope_identifier"


class InjectionFinding(BaseModel):
    """One detected attempt, recorded on the incident."""

    model_config = ConfigDict(frozen=True)
    category: InjectionCategory
    rule_id: str
    source: str
    excerpt: str


_ACTIONS = (
    r"(isolate|terminate|delete|disable|revoke|block|unblock|quarantine|shut ?down|stop|rotate|detach|"
    r"deactivate|remove|modify|whitelist|allowlist|grant|execute|run)"
)
_ADDRESSEE = r"(assistant|ai|model|agent|llm|bot|copilot|gpt|claude|analyst|responder|soc)"
_SECRETS = (
    r"(system prompt|your (instructions|prompt|rules)|credentials?|secrets?|api[ _-]?keys?|access keys?|"
    r"tokens?|passwords?)"
)

_RULES: list[tuple[str, InjectionCategory, re.Pattern[str]]] = [
    (
        "override_ignore_instructions",
        InjectionCategory.INSTRUCTION_OVERRIDE,
        re.compile(
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|system|safety)\b"
            r".{0,40}\b(instructions?|rules|prompts?|guidelines|directives|policies|policy)\b"
        ),
    ),
    ("override_you_are_now", InjectionCategory.INSTRUCTION_OVERRIDE, re.compile(r"\byou are (now|no longer)\b")),
    (
        "override_new_instructions",
        InjectionCategory.INSTRUCTION_OVERRIDE,
        re.compile(r"\b(new|updated|real|actual) (instructions?|system prompt|directives?|task)\s*:"),
    ),
    (
        "order_addressed_action",
        InjectionCategory.ORDER_ACTION,
        re.compile(
            rf"\b{_ADDRESSEE}\b.{{0,40}}\b(must|should|shall|needs? to|is required to|will|has to)\b"
            rf".{{0,40}}\b{_ACTIONS}\b"
        ),
    ),
    (
        "order_urgent_action",
        InjectionCategory.ORDER_ACTION,
        re.compile(rf"\b(immediately|right now|right away|without approval|no approval)\b.{{0,30}}\b{_ACTIONS}\b"),
    ),
    (
        "order_call_tool",
        InjectionCategory.ORDER_ACTION,
        re.compile(r"\b(call|invoke|trigger)\b.{0,30}\btools?\b|\buse (the|your) [a-z_ -]{3,40} tool\b"),
    ),
    (
        "order_run_command",
        InjectionCategory.ORDER_ACTION,
        re.compile(
            r"\b(execute|run)\b.{0,15}\b(the following|this|these)\b.{0,15}\b(commands?|scripts?|runbooks?|payloads?)\b"
        ),
    ),
    (
        "scope_expand",
        InjectionCategory.CHANGE_SCOPE,
        re.compile(r"\b(expand|extend|widen|broaden|increase)\b.{0,20}\bscope\b"),
    ),
    (
        "scope_all_resources",
        InjectionCategory.CHANGE_SCOPE,
        re.compile(
            r"\b(apply|do|repeat|run)\b.{0,30}\b(to|on|for|across)\b.{0,10}\b(all|every|each|other)\b.{0,15}"
            r"\b(accounts?|instances?|regions?|users?|buckets?|hosts?|resources|roles?|keys?)\b"
        ),
    ),
    (
        "scope_also_act",
        InjectionCategory.CHANGE_SCOPE,
        re.compile(rf"\b(also|additionally|as well)\b.{{0,20}}\b{_ACTIONS}\b"),
    ),
    (
        "exfil_send_to_url",
        InjectionCategory.EXFILTRATE,
        re.compile(
            r"\b(send|post|upload|forward|email|exfiltrate|transmit|copy|share)\b.{0,80}"
            r"(https?://|s3://|ftp://|\bwebhook\b|@[a-z0-9-]+\.[a-z]{2,})"
        ),
    ),
    (
        "exfil_reveal_secrets",
        InjectionCategory.EXFILTRATE,
        re.compile(rf"\b(reveal|print|show|output|repeat|leak|dump|disclose|include|list)\b.{{0,40}}\b{_SECRETS}\b"),
    ),
    (
        "suppress_mark_benign",
        InjectionCategory.SUPPRESS_FINDINGS,
        re.compile(
            r"\b(mark|classify|treat|label|report|consider|flag)\b.{0,40}\b(as )?(benign|false positive|harmless|"
            r"informational|authori[sz]ed activity|not malicious|a test)\b"
        ),
    ),
    (
        "suppress_do_not_report",
        InjectionCategory.SUPPRESS_FINDINGS,
        re.compile(
            r"\b(do not|don't|dont|never|no need to|must not)\b.{0,20}\b(report|alert|escalate|flag|notify|page|"
            r"open (an? )?(incident|ticket)|investigate|mention|contain|isolate)\b"
        ),
    ),
    (
        "suppress_close_findings",
        InjectionCategory.SUPPRESS_FINDINGS,
        re.compile(
            r"\b(suppress|silence|dismiss|close|resolve|archive)\b.{0,20}\b(this|the|these|all)\b.{0,10}"
            r"\b(alerts?|findings?|incidents?|detections?|warnings?|tickets?)\b"
        ),
    ),
    (
        "suppress_lower_severity",
        InjectionCategory.SUPPRESS_FINDINGS,
        re.compile(
            r"\b(lower|reduce|downgrade|decrease)\b.{0,20}\b(severity|priority|confidence|risk)\b"
            r"|\bset\b.{0,10}\b(severity|priority|confidence|risk)\b.{0,10}\bto\b.{0,5}\b(low|informational|none|0)\b"
        ),
    ),
    (
        "role_chat_template",
        InjectionCategory.ROLE_IMPERSONATION,
        re.compile(
            r"<\|?\s*(im_start|im_end|system|endoftext|eot_id|start_header_id)\s*\|?>|\[/?(inst|sys)\]|<</?sys>>"
        ),
    ),
    (
        "role_header_line",
        InjectionCategory.ROLE_IMPERSONATION,
        re.compile(
            r"^\s*(#+\s*)?(system|assistant|developer)( prompt| message| instructions?)?\s*:.{0,80}"
            r"\b(you|ignore|must|should|assistant|from now on)\b",
            re.MULTILINE,
        ),
    ),
    (
        "role_fake_markers",
        InjectionCategory.ROLE_IMPERSONATION,
        re.compile(r"<<\s*(end )?untrusted evidence|</?(system|instructions?|evidence)>"),
    ),
]

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"[ \t\f\v]+")


def normalise(text: str) -> str:
    """The text the rules run on: NFKC, invisible characters removed, spaces collapsed, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).lower()


def detect_injection(text: str, *, source: str) -> list[InjectionFinding]:
    """Every rule that matches `text`, at most one finding per rule, with a short excerpt of the match."""
    norm = normalise(text)
    findings: list[InjectionFinding] = []
    for rule_id, category, pattern in _RULES:
        match = pattern.search(norm)
        if match is None:
            continue
        start, end = max(0, match.start() - 20), min(len(norm), match.end() + 20)
        excerpt = norm[start:end].replace("\n", " ").strip()[:160]
        findings.append(InjectionFinding(category=category, rule_id=rule_id, source=source, excerpt=excerpt))
    return findings
