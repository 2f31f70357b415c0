"""The `raw` floor: a minimal hand-written asyncio Content-Length JSON-RPC echo server.

It answers `initialize` and echoes a fixed small SessionInfo for any other request:
the cost of Python plus pipes, with nothing else. Given a path (`floor_raw.py PATH`),
it first makes one durable sqlite insert of that document into PATH for each such
request, on the loop, in series with the round trip: the `raw + sqlite, measured` floor.
With `--off-loop` as well, the insert runs on a worker thread while the loop waits for
it, the asyncio way to keep a stalled disk from stalling every request (as the sidecar
does): the `raw + sqlite off the loop, measured` floor.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

SESSION = {
    "id": "session_1795000000000",
    "parentId": None,
    "title": "New Session",
    "createdAt": 1795000000000,
    "updatedAt": 1795000000000,
    "messageCount": 0,
    "isAborted": False,
    "abortedAt": None,
    "share": None,
}


def durable_inserts(path: str) -> Callable[[], None]:
    """One insert per call, committed with sqlite's WAL and `synchronous=FULL` (as the
    `sqlite` floor, `bench.measure.sqlite_inserts_per_second`)."""
    # Made on the loop's thread, used on one worker thread at most.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, doc TEXT)")
    document = json.dumps(SESSION)

    def insert() -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO sessions (doc) VALUES (?)", (document,))
        connection.execute("COMMIT")

    return insert


async def main() -> None:
    paths = [argument for argument in sys.argv[1:] if not argument.startswith("--")]
    insert = durable_inserts(paths[0]) if paths else None
    # One worker, so that the connection is only ever used from one thread at a time.
    worker = ThreadPoolExecutor(max_workers=1) if "--off-loop" in sys.argv[1:] else None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    while True:
        try:
            header = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        length = int(header.split(b":")[1].split(b"\r\n")[0])
        message = json.loads(await reader.readexactly(length))
        if "id" not in message:
            continue
        if message["method"] != "initialize" and insert is not None:
            if worker is None:
                insert()
            else:
                await loop.run_in_executor(worker, insert)
        result = {"protocolVersion": 1} if message["method"] == "initialize" else SESSION
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        transport.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


if __name__ == "__main__":
    asyncio.run(main())
