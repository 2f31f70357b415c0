"""The `raw` floor: a minimal hand-written asyncio Content-Length JSON-RPC echo server.

It answers `initialize` and echoes a fixed small SessionInfo for any other request:
the cost of Python plus pipes, with nothing else.
"""

from __future__ import annotations

import asyncio
import json
import sys

SESSION = {
    "id": "session_1795000000000", "parentId": None, "title": "New Session",
    "createdAt": 1795000000000, "updatedAt": 1795000000000, "messageCount": 0,
    "isAborted": False, "abortedAt": None, "share": None,
}


async def main() -> None:
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
        result = {"protocolVersion": 1} if message["method"] == "initialize" else SESSION
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        transport.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


if __name__ == "__main__":
    asyncio.run(main())
