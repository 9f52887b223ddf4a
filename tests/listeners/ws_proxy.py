"""A real websocket relay between a listener and anvil that a test can misbehave through:
drop every open socket (`kill`), or keep sockets open while silently swallowing their
subscription notifications (`mute_open`: a provider that lost the subscription)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve


@dataclass
class _Pipe:
    client: ServerConnection
    muted: bool = False


@dataclass
class WsProxy:
    upstream: str
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    _pipes: list[_Pipe] = field(default_factory=list)
    _server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> WsProxy:
        self._server = await serve(self._handle, self.host, self.port, max_size=None)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def kill(self) -> None:
        for pipe in list(self._pipes):
            await pipe.client.close()

    def mute_open(self) -> None:
        for pipe in self._pipes:
            pipe.muted = True

    async def _handle(self, client: ServerConnection) -> None:
        self.connections += 1
        pipe = _Pipe(client)
        self._pipes.append(pipe)
        try:
            async with connect(self.upstream, max_size=None) as upstream:

                async def down() -> None:
                    async for message in upstream:
                        if pipe.muted and '"eth_subscription"' in str(message):
                            continue
                        await client.send(message)

                async def up() -> None:
                    async for message in client:
                        await upstream.send(message)

                tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
                _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in pending:
                    t.cancel()
                    with contextlib.suppress(BaseException):
                        await t
        except Exception:  # noqa: BLE001 - the relay just ends the client's socket
            pass
        finally:
            self._pipes.remove(pipe)
            await client.close()
