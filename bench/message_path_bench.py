"""Message-path benchmark: supervisor -> agent -> supervisor round trips through the emulator.

Starts the local system exactly as `make run` does (on free ports, in a temporary data dir), then:
- measures the emulator's own ceiling: SQS send + receive + delete round trips from one client;
- sends bounded bursts of `ping` tasks from the supervisor to every agent through the
  `POST /v1/agents/ping` API and reports messages per second and p50/p99 round-trip latency;
- reads each service's resident memory at idle.
Bounded: at most --rounds bursts and --seconds of wall time. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.settings import AcsoSettings
from tests.support.stack import CREDENTIALS, make_work_dir, remove_work_dir, start_system


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q * (len(ordered) - 1)))
    return ordered[index]


async def emulator_ceiling(endpoint: str, seconds: float) -> float:
    """Round trips per second of bare SQS send+receive+delete against the emulator, one client."""
    settings = AcsoSettings(env="bench", aws_endpoint_url=endpoint)
    clients = AwsClientFactory(settings)
    try:
        sqs = await clients.client("sqs")
        url = (await sqs.create_queue(QueueName="acso-bench-ceiling"))["QueueUrl"]
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await sqs.send_message(QueueUrl=url, MessageBody="x")
            received = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
            for message in received.get("Messages", []):
                await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                done += 1
        return done / (time.perf_counter() - started)
    finally:
        await clients.aclose()


async def ping_rounds(url: str, token: str, rounds: int, seconds: float) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for _ in range(rounds):
            if time.perf_counter() - started > seconds:
                break
            async with session.post(f"{url}/v1/agents/ping") as response:
                results = (await response.json())["results"]
            latencies.extend(r["rtt_ms"] for r in results if r["ok"])
    return len(latencies), time.perf_counter() - started, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="ping bursts (5 messages each way per burst)")
    parser.add_argument("--seconds", type=float, default=60.0, help="wall-time bound of the ping phase")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    work_dir = make_work_dir("acso-bench-")
    try:
        for system in start_system(work_dir, {"ACSO_SERVICE_ENV": '{"ACSO_CONSUMER_WAIT_TIME_S": "1"}'}):
            time.sleep(3)  # let start-up settle before reading idle memory
            memory = {name: psutil.Process(pid).memory_info().rss / 2**20 for name, pid in system.pids().items()}
            ceiling = asyncio.run(emulator_ceiling(system.emulator_url, seconds=10))
            count, elapsed, latencies = asyncio.run(
                ping_rounds(system.url("supervisor"), system.tokens["admin"], args.rounds, args.seconds)
            )
            print("\n## Message path (supervisor -> agent -> supervisor, through the emulator)\n")
            print("| metric | value |")
            print("|---|---|")
            print(f"| emulator ceiling: SQS send+receive+delete round trips/s, one client | {ceiling:.1f} |")
            print(f"| ping round trips completed | {count} in {elapsed:.1f} s |")
            print(f"| round trips/s (each is 2 SQS messages) | {count / elapsed:.1f} |")
            if latencies:
                print(f"| round-trip latency p50 (ms) | {statistics.median(latencies):.1f} |")
                print(f"| round-trip latency p99 (ms) | {percentile(latencies, 0.99):.1f} |")
            print("\n## Resident memory at idle\n")
            print("| service | RSS (MiB) |")
            print("|---|---|")
            for name, rss in memory.items():
                print(f"| {name} | {rss:.1f} |")
    finally:
        remove_work_dir(work_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
