"""The web console in a real browser (Playwright driving Debian's Chromium) against the system as
`make run` starts it: live queue, approval from the incident page, role-aware controls, and the
executive view's numbers against the API. Every spec asserts that the browser logged no error.

Needs /usr/bin/chromium (`make browser`); skipped with the reason when it is absent.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.resources import build_manifest
from tests.e2e.flow_support import Api, fixture, run_instance
from tests.support.ids import unique_finding_id
from tests.support.stack import RunningSystem, wait_until

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[3] / ".acso" / "screenshots"


@dataclass
class Console:
    """One logged-in browser page and everything the browser complained about."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def assert_no_browser_errors(self) -> None:
        assert self.errors == [], self.errors


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        reason = "headless Chromium is not installed at /usr/bin/chromium (make browser)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


def demo_password(system: RunningSystem, role: str) -> str:
    stack = json.loads((system.data_dir / "run" / "stack.json").read_text())
    return str(stack["demo_passwords"][role])


@pytest.fixture
async def login(browser: Any, system: RunningSystem) -> AsyncIterator[Callable[[str], Awaitable[Console]]]:
    """Open the console and log in as a demo user, with the keyboard only."""
    contexts: list[Any] = []

    async def open_as(role: str) -> Console:
        context = await browser.new_context(viewport={"width": 1360, "height": 900})
        contexts.append(context)
        page = await context.new_page()
        console = Console(page)
        page.on(
            "console",
            lambda m: (
                console.errors.append(f"console: {m.text} ({m.location.get('url')})") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: console.errors.append(f"page: {e}"))
        page.on("response", lambda r: console.errors.append(f"http {r.status}: {r.url}") if r.status >= 400 else None)
        await page.goto(system.url("supervisor") + "/")
        username = build_manifest("local", "123456789012", "us-east-1").demo_users[role]
        await page.locator("#username").wait_for()
        assert await page.evaluate("document.activeElement.id") == "username"
        await page.keyboard.type(username)
        await page.keyboard.press("Tab")
        await page.keyboard.type(demo_password(system, role))
        await page.keyboard.press("Enter")
        await page.locator("#nav a").first.wait_for()
        await page.locator("body[data-stream='open']").wait_for(state="attached")
        return console

    yield open_as
    for context in contexts:
        await context.close()


async def crypto_alert(api: Api, aws: AwsClientFactory) -> str:
    """A GuardDuty crypto-mining finding on a real emulated instance: its stop waits for approval."""
    finding = fixture("guardduty_bitcoin_tool_dns.json")
    finding["id"] = unique_finding_id()
    finding["resource"]["instanceDetails"]["instanceId"] = await run_instance(aws)
    result = await api.send_alert(finding)
    return str(result["incident_id"])


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


async def test_a_responder_sees_the_new_incident_live_approves_its_action_and_watches_it_run(
    login: Callable[[str], Awaitable[Console]], api: Api, aws: AwsClientFactory
) -> None:
    console = await login("responder")
    page = console.page
    await page.locator("#queue-rows").wait_for(state="attached")
    await page.evaluate("window.__sameDocument = true")

    # When an alert is posted while the queue is open
    incident_id = await crypto_alert(api, aws)

    # Then its incident appears in the queue without a reload
    link = page.locator(f"#row-{incident_id} a")
    await link.wait_for(timeout=90_000)
    assert await page.evaluate("window.__sameDocument === true")
    await shot(page, "queue")

    # And the responder opens it with the keyboard and approves the pending action
    await link.focus()
    await page.keyboard.press("Enter")
    approve = page.locator("section:has(h2:text-is('Approvals')) button.approve").first
    try:
        await approve.wait_for(timeout=60_000)
    except Exception:
        await shot(page, "failure-no-approve")
        raise
    pending = page.locator("#actions tr[data-status='pending_approval']")
    action_row_id = await pending.first.get_attribute("id")
    await shot(page, "incident")
    await approve.focus()
    await page.keyboard.press("Enter")

    # Then the action runs and the page shows it finished, still without a reload
    await page.locator(f"#{action_row_id}[data-status='succeeded']").wait_for(timeout=90_000)
    assert await page.evaluate("window.__sameDocument === true")
    await page.locator("section:has(h2:text-is('Approvals'))").get_by_text("approved").first.wait_for()
    await shot(page, "incident-approved")
    console.assert_no_browser_errors()


async def test_an_analyst_sees_no_approve_button_and_the_api_refuses_their_approval(
    login: Callable[[str], Awaitable[Console]], api: Api, aws: AwsClientFactory
) -> None:
    incident_id = await crypto_alert(api, aws)
    incident = await api.wait_incident(incident_id, lambda i: any(a["status"] == "pending" for a in i["approvals"]))
    approval = next(a for a in incident["approvals"] if a["status"] == "pending")

    console = await login("analyst")
    page = console.page
    await page.goto(page.url.split("#")[0] + f"#/incident/{incident_id}")
    section = page.locator("section:has(h2:text-is('Approvals'))")
    await section.get_by_text("waiting for a responder").first.wait_for(timeout=30_000)
    assert await page.locator("button.approve").count() == 0
    assert await page.locator("#comment-text").count() == 1  # analysts comment
    await page.goto(page.url.split("#")[0] + "#/approvals")
    await page.locator(f"#inbox-{approval['id']}").wait_for(timeout=30_000)
    assert await page.locator("#inbox button.approve").count() == 0
    await shot(page, "approvals-analyst")

    status, body = await api.call(
        "POST", "incident_response", f"/v1/approvals/{approval['id']}", role="analyst", body={"decision": "approve"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden" or body["error"]["code"].startswith("permission")
    console.assert_no_browser_errors()


def _seconds(text: str | None) -> float | None:
    return None if text in (None, "") else float(str(text))


async def import_costs(api: Api, system: RunningSystem) -> None:
    """The FOCUS 1.0 sample (tests/fixtures/costs), imported as an IT operator would."""
    body = (Path(__file__).resolve().parents[2] / "fixtures" / "costs" / "focus_1_0_sample.csv").read_bytes()
    url = f"{system.url('financial_intelligence')}/v1/costs/imports?format=focus"
    headers = {**system.auth("it_operator"), "Content-Type": "text/csv"}
    async with api.http.post(url, data=body, headers=headers) as response:
        assert response.status == 202, await response.text()
        job = await response.json()

    async def finished() -> bool:
        path = f"/v1/costs/imports/{job['id']}"
        status, current = await api.call("GET", "financial_intelligence", path, "it_operator")
        assert current.get("status") != "failed", current
        return bool(status == 200 and current["status"] == "succeeded")

    await wait_until(finished, timeout_s=60, interval_s=0.5)


async def test_the_executive_view_shows_the_numbers_the_api_gives(
    login: Callable[[str], Awaitable[Console]], api: Api, system: RunningSystem
) -> None:
    await import_costs(api, system)
    console = await login("executive")
    page = console.page
    nav = [await a.inner_text() for a in await page.locator("#nav a").all()]
    assert "Executive view" in nav
    assert "Hunting" in nav  # executives read rules and hunts
    await page.locator("#nav a", has_text="Executive view").focus()
    await page.keyboard.press("Enter")
    matched = False
    for _ in range(3):  # incidents still running may be contained between the two reads: read again
        await page.wait_for_selector(".page[data-loaded='true']", timeout=30_000)
        _, week = await api.call("GET", "incident_response", "/v1/metrics/incidents?days=7", role="executive")
        _, month = await api.call("GET", "incident_response", "/v1/metrics/incidents?days=30", role="executive")
        shown = {
            key: await page.locator(f"#{key}").get_attribute("data-value")
            for key in ("m7-opened", "m7-mttd", "m7-mttc", "m7-contained", "m30-opened", "m30-mtta")
        }
        expected = {
            "m7-opened": week["opened"],
            "m7-mttd": week["mean_time_to_detect_s"],
            "m7-mttc": week["mean_time_to_contain_s"],
            "m7-contained": week["contained_share"],
            "m30-opened": month["opened"],
            "m30-mtta": month["mean_time_to_acknowledge_s"],
        }
        if all(_seconds(shown[k]) == (None if v is None else float(v)) for k, v in expected.items()):
            bars = {
                await row.get_attribute("data-severity"): int(await row.get_attribute("data-value") or 0)
                for row in await page.locator("#open-by-severity .bar-row").all()
            }
            if all(bars.get(s, 0) == n for s, n in month["open_by_severity"].items()):
                matched = True
                break
        # Render the view again (a reload would end the session: tokens live in memory only).
        await page.evaluate("location.hash = '#/queue'")
        await page.locator("#queue-rows").wait_for(state="attached")
        await page.evaluate("location.hash = '#/executive'")
    assert matched, (shown, expected)
    # The coverage heatmap has a cell per technique of the enabled rules.
    _, rules = await api.call("GET", "threat_hunter", "/v1/rules?enabled=true", role="executive")
    techniques = {t.upper() for r in rules["items"] for t in r["techniques"]}
    cells = {await c.get_attribute("data-technique") for c in await page.locator("#coverage .tcell").all()}
    assert cells == techniques
    text = await page.locator("#open-by-severity").inner_text()
    assert re.search(r"critical|high|medium|low", text)
    # The cost card shows the report the financial API gives.
    _, report = await api.call("GET", "financial_intelligence", "/v1/reports/executive", role="executive")
    assert _seconds(await page.locator("#cost-total").get_attribute("data-value")) == report["summary"]["total"]
    forecast = report["forecast"]["month_end"]["forecast_total"] if report["forecast"] else None
    assert _seconds(await page.locator("#cost-forecast").get_attribute("data-value")) == forecast
    # Printable: the print style sheet drops the navigation, and Chromium prints it to a PDF.
    await page.emulate_media(media="print")
    assert await page.locator("header.top").is_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    pdf = await page.pdf(path=str(SHOTS / "executive.pdf"), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    await page.emulate_media(media="screen")
    await shot(page, "executive")
    console.assert_no_browser_errors()


async def test_every_page_an_admin_may_see_renders_and_hunting_works_from_the_page(
    login: Callable[[str], Awaitable[Console]],
) -> None:
    console = await login("admin")
    page = console.page
    labels = [await a.inner_text() for a in await page.locator("#nav a").all()]
    assert labels == ["Incidents", "Approvals", "Hunting", "Operations", "Executive view"]
    for label in labels:
        link = page.locator("#nav a", has_text=label)
        await link.focus()
        await page.keyboard.press("Enter")
        await page.locator("#nav a[aria-current='page']", has_text=label).wait_for()
        await page.locator(".page h1").wait_for()
        await playwright_api.expect(page.locator(".page", has_text="Loading")).to_have_count(0, timeout=30_000)
        await shot(page, f"page-{label.lower().replace(' ', '-')}")
    # Hunting: the rules are listed, a hunt over the last day runs to its end, intel search answers.
    await page.locator("#nav a", has_text="Hunting").click()
    await page.locator("#rules tbody tr").first.wait_for()
    await page.locator("#hunt-result").wait_for(state="attached")
    await page.get_by_role("button", name="Run hunt").click()
    await page.locator("#hunt-result .badge.succeeded").wait_for(timeout=60_000)
    # Uploading a rule shows what lint found (a field CloudTrail records never carry).
    rule_id = str(uuid.uuid4())
    await page.locator("#rule-yaml").fill(
        f"title: Console spec probe\nid: {rule_id}\nstatus: experimental\n"
        "logsource:\n  product: aws\n  service: cloudtrail\n"
        "detection:\n  selection:\n    eventName: ConsoleSpecProbe\n    notACloudTrailField: x\n"
        "  condition: selection\nlevel: low\ntags:\n  - attack.t1078\n"
    )
    await page.get_by_role("button", name="Lint and upload").click()
    await page.locator("#rule-result", has_text="Uploaded Console spec probe").wait_for()
    assert await page.locator("#rule-result ul.warn li").count() >= 1
    await page.locator(f"#rule-{rule_id}").wait_for()
    await page.locator("#intel-q").fill("cloudsnatch")
    await page.keyboard.press("Enter")
    await page.locator("#intel-results p, #intel-results ol").first.wait_for()
    await shot(page, "hunting")
    console.assert_no_browser_errors()
