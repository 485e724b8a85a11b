#!/usr/bin/env python3
"""The backends of tests/routes.bats: backend.py N listens on N ports of
127.0.0.1 that the kernel picks (port 0), prints them one a line, in
order, then answers any request on the port of index I (0 to N-1) with
200 and the body "I\n", and closes the connection.  One process, one
thread: the service behind a route is known by the body of its answer."""
import asyncio
import socket
import sys


def answer(index):
    body = b"%d\n" % index
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)

    async def serve(reader, writer):
        try:
            # (a health check connects and closes: nothing to answer)
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(head + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return serve


async def main(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    servers = [await asyncio.start_server(answer(i), sock=s, backlog=128)
               for i, s in enumerate(socks)]
    print("\n".join(str(s.getsockname()[1]) for s in socks), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: backend.py N")
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
