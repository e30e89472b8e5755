"""The launcher's emulator keeps its state across a stop and a start; stale children are recognised.

Real moto servers (the launcher's `acso_shared.local.emulator_server`) on loopback ports, and
real child processes: no system of agents is needed for these.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.local import emulator_state
from acso_shared.local.emulator import MotoServer
from acso_shared.local.processes import (
    free_port,
    pid_alive,
    stop_stale_children,
    write_pid_record,
)
from acso_shared.settings import AcsoSettings
from tests.support.stack import CREDENTIALS, make_work_dir, remove_work_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def work_dir() -> Iterator[Path]:
    path = make_work_dir("acso-emulator-state-")
    yield path
    remove_work_dir(path)


def emulator(work_dir: Path, port: int) -> MotoServer:
    return MotoServer(port, log_path=work_dir / "emulator.log", state_path=work_dir / "emulator" / "state.pickle")


def jwt_claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


async def fill(aws: AwsClientFactory) -> dict[str, str]:
    """A Cognito pool with a user and a token, an instance, an object, a queued message, a KMS ciphertext."""
    idp = await aws.client("cognito-idp")
    pool = (await idp.create_user_pool(PoolName="p"))["UserPool"]["Id"]
    client = (
        await idp.create_user_pool_client(
            UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
        )
    )["UserPoolClient"]["ClientId"]
    await idp.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    await idp.admin_set_user_password(UserPoolId=pool, Username="u", Password="Aa1!" * 4, Permanent=True)
    auth = await idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "u", "PASSWORD": "Aa1!" * 4},
    )
    ec2 = await aws.client("ec2")
    image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
    instance = (await ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1))["Instances"][0]["InstanceId"]
    kms = await aws.client("kms")
    key = (await kms.create_key())["KeyMetadata"]["KeyId"]
    s3 = await aws.client("s3")
    await s3.create_bucket(Bucket="state-spec")
    await s3.put_object(Bucket="state-spec", Key="k", Body=b"evidence", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    sqs = await aws.client("sqs")
    queue = (await sqs.create_queue(QueueName="state-spec"))["QueueUrl"]
    await sqs.send_message(QueueUrl=queue, MessageBody="in flight")
    return {
        "pool": pool,
        "client": client,
        "token": auth["AuthenticationResult"]["AccessToken"],
        "instance": instance,
        "queue": queue,
    }


async def read_back(aws: AwsClientFactory, before: dict[str, str]) -> dict[str, object]:
    idp = await aws.client("cognito-idp")
    clients = await idp.list_user_pool_clients(UserPoolId=before["pool"], MaxResults=10)
    user = await idp.get_user(AccessToken=before["token"])  # moto checks the token it issued
    ec2 = await aws.client("ec2")
    reservations = (await ec2.describe_instances(InstanceIds=[before["instance"]]))["Reservations"]
    s3 = await aws.client("s3")
    body = await (await s3.get_object(Bucket="state-spec", Key="k"))["Body"].read()
    sqs = await aws.client("sqs")
    messages = (await sqs.receive_message(QueueUrl=before["queue"], WaitTimeSeconds=1)).get("Messages", [])
    return {
        "clients": [c["ClientId"] for c in clients["UserPoolClients"]],
        "user": user["Username"],
        "instance_state": reservations[0]["Instances"][0]["State"]["Name"],
        "object": body,
        "messages": [m["Body"] for m in messages],
    }


def test_a_stopped_and_started_emulator_has_the_same_pool_users_instances_objects_and_messages(
    work_dir: Path,
) -> None:
    for key, value in CREDENTIALS.items():
        os.environ.setdefault(key, value)
    port = free_port()
    first = emulator(work_dir, port)
    first.start()
    aws = AwsClientFactory(AcsoSettings(aws_endpoint_url=first.url))
    try:
        before = asyncio.run(fill(aws))
        jwks_before = urllib.request.urlopen(f"{first.url}/{before['pool']}/.well-known/jwks.json").read()  # noqa: S310
    finally:
        first.stop()
        asyncio.run(aws.aclose())
    assert first.restore["restored"] is False

    second = emulator(work_dir, port)
    second.start()
    aws = AwsClientFactory(AcsoSettings(aws_endpoint_url=second.url))
    try:
        after = asyncio.run(read_back(aws, before))
        jwks_after = urllib.request.urlopen(f"{second.url}/{before['pool']}/.well-known/jwks.json").read()  # noqa: S310
    finally:
        second.stop()
        asyncio.run(aws.aclose())

    assert second.restore["restored"] is True
    assert after == {
        "clients": [before["client"]],
        "user": "u",
        "instance_state": "running",
        "object": b"evidence",  # decrypted with the restored KMS key material
        "messages": ["in flight"],
    }
    assert jwks_after == jwks_before  # tokens signed before still verify
    assert str(jwt_claims(before["token"])["iss"]).endswith(before["pool"])


def test_an_unreadable_snapshot_means_a_fresh_emulator_and_says_why(work_dir: Path) -> None:
    state = work_dir / "emulator" / "state.pickle"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"not a pickle")
    server = emulator(work_dir, free_port())
    server.start()
    server.stop()
    assert server.restore["restored"] is False
    assert "could not be read" in str(server.restore["reason"])


def test_a_snapshot_that_could_not_be_written_is_named_as_the_reason_for_a_fresh_start(work_dir: Path) -> None:
    state = work_dir / "emulator" / "state.pickle"
    emulator_state.record_failure(state, "TypeError: cannot pickle 'generator' object")

    result = emulator_state.restore(state)

    assert result.restored is False
    assert "could not save its state when it stopped (TypeError: cannot pickle 'generator' object)" in result.reason
    assert emulator_state.restore(state).reason == "no saved emulator state"  # said once


def _sleeper() -> list[str]:
    return [sys.executable, "-c", "import time; time.sleep(60)"]


def test_the_next_start_stops_a_recorded_child_and_never_a_process_that_only_reused_its_pid(
    work_dir: Path,
) -> None:
    run_dir = work_dir / "run"
    stale = subprocess.Popen(_sleeper(), start_new_session=True)
    stranger = subprocess.Popen([*_sleeper(), "stranger"], start_new_session=True)
    try:
        write_pid_record(run_dir, "supervisor", stale.pid, _sleeper())
        # A record whose pid now runs another command line: the pid was reused.
        write_pid_record(run_dir, "emulator", stranger.pid, _sleeper())

        stopped = stop_stale_children(run_dir, grace_s=5)

        assert [(r.name, r.pid) for r in stopped] == [("supervisor", stale.pid)]
        assert stale.wait(timeout=5) == -signal.SIGTERM
        assert stranger.poll() is None
        assert not list((run_dir / "pids").glob("*.json"))
    finally:
        for process in (stale, stranger):
            process.kill()
            process.wait()


def test_a_child_started_with_die_with_parent_gets_sigterm_when_its_parent_is_killed(work_dir: Path) -> None:
    marker = work_dir / "child.pid"
    parent_code = (
        "import subprocess, sys, time\n"
        "from acso_shared.local.processes import die_with_parent\n"
        "sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']\n"
        "child = subprocess.Popen(sleeper, preexec_fn=die_with_parent())\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    deadline = time.monotonic() + 20
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the parent never started its child"
        time.sleep(0.05)
    child = int(marker.read_text())
    assert pid_alive(child)

    parent.kill()
    parent.wait()

    deadline = time.monotonic() + 10
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child)
