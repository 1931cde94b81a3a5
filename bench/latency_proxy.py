"""A loopback TCP proxy that holds every new connection for a while: a network's round trip.

``bench/ingest.py --latency-ms N`` puts it in front of moto's server, so that each request (moto
closes the connection after every answer) waits as it would on its way to AWS, as a rough model
of a region's latency. It runs in its own process, so its work is not counted as the
candidates' CPU.

    python bench/latency_proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import sys

LOOPBACK = "127.0.0.1"
CHUNK = 64 * 1024


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _serve(listen_port: int, upstream_port: int, delay_s: float) -> None:
    async def connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay_s)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(LOOPBACK, upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pump(client_reader, upstream_writer), _pump(upstream_reader, client_writer))

    server = await asyncio.start_server(connection, LOOPBACK, listen_port)
    async with server:
        await server.serve_forever()


def main() -> None:
    listen_port, upstream_port, delay_ms = (int(arg) for arg in sys.argv[1:4])
    asyncio.run(_serve(listen_port, upstream_port, delay_ms / 1000))


if __name__ == "__main__":
    main()
