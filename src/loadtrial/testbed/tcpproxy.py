"""The writer endpoint: a TCP proxy to whichever db instance is the writer right now.

In: a listening socket (`--fd`) and a target file holding "host:port", re-read every
0.2 s. Out: byte pipes from each client to the current writer. When the target changes (a
failover), every open connection is closed, as a real failover drops them, and new ones
reach the new writer: the app's pool reconnects and never learns the machine changed.
Run as `python -m loadtrial.testbed.tcpproxy --fd N --target-file PATH`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
from pathlib import Path

import uvloop

from loadtrial.testbed.procs import set_nodelay


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class WriterEndpoint:
    """Current target and the open connections to drop on a change."""

    def __init__(self, target_file: Path) -> None:
        self.target_file = target_file
        self.target = target_file.read_text().strip()
        self.open: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Connect the client to the current writer and pipe both ways."""
        host, port = self.target.rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        set_nodelay(writer)
        set_nodelay(up_writer)
        task = asyncio.current_task()
        assert task is not None
        self.open.add(task)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.open.discard(task)
            up_writer.close()
            writer.close()

    async def watch(self) -> None:
        """Re-read the target file; on a change, drop every open connection."""
        while True:
            await asyncio.sleep(0.2)
            with contextlib.suppress(OSError):
                target = self.target_file.read_text().strip()
                if target and target != self.target:
                    self.target = target
                    for task in list(self.open):
                        task.cancel()


async def run(args: argparse.Namespace) -> None:
    """Serve until SIGTERM/SIGINT."""
    endpoint = WriterEndpoint(Path(args.target_file))
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    server = await asyncio.start_server(endpoint.handle, sock=socket.socket(fileno=args.fd))
    watcher = asyncio.create_task(endpoint.watch())
    await done.wait()
    watcher.cancel()
    server.close()


def main() -> None:
    """Parse flags and run the endpoint on uvloop."""
    parser = argparse.ArgumentParser(description="testbed writer endpoint")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--target-file", required=True)
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
