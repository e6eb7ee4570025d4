"""A flood from one address, as its own process: `python -m tests.marketdata.flood BASE IP SECONDS`.

Prints one JSON line: how many answers of each status it got.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def flood(base: str, ip: str, seconds: float) -> dict[str, int]:
    statuses: dict[str, int] = {}
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=8, local_addr=(ip, 0))
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def loop() -> None:
            while time.monotonic() < stop:
                try:
                    async with http.get("/v1/marketdata/FOOLAD/l2") as response:
                        await response.read()
                        key = str(response.status)
                except aiohttp.ClientError as error:
                    key = type(error).__name__
                statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(loop() for _ in range(8)))
    return statuses


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], sys.argv[2], float(sys.argv[3])))))
