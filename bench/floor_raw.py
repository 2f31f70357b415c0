"""The `raw` floor: a minimal hand-written asyncio Content-Length JSON-RPC echo server.

It answers `initialize` and echoes a fixed small SessionInfo for any other request:
the cost of Python plus pipes, with nothing else. Given a path (`floor_raw.py PATH`),
it first makes one durable sqlite insert of that document into PATH for each such
request, on the loop, in series with the round trip: the `raw + sqlite, measured` floor.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable

SESSION = {
    "id": "session_1795000000000", "parentId": None, "title": "New Session",
    "createdAt": 1795000000000, "updatedAt": 1795000000000, "messageCount": 0,
    "isAborted": False, "abortedAt": None, "share": None,
}


def durable_inserts(path: str) -> Callable[[], None]:
    """One insert per call, committed with sqlite's WAL and `synchronous=FULL` (as the
    `sqlite` floor, `bench.measure.sqlite_inserts_per_second`)."""
    connection = sqlite3.connect(path, isolation_level=None)
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
    insert = durable_inserts(sys.argv[1]) if len(sys.argv) > 1 else None
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
            insert()
        result = {"protocolVersion": 1} if message["method"] == "initialize" else SESSION
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        transport.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


if __name__ == "__main__":
    asyncio.run(main())
