"""A TCP proxy in front of PostgreSQL that a test can cut and restore: a real outage, locally."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the database; ``cut()`` kills live connections and refuses new ones."""

    def __init__(self, target_url: str):
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        credentials = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else "postgres"
        self.url = urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{self.port}"))
        self._open = True
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._open = False
            for sock in self._sockets:
                _reset(sock)
            self._sockets.clear()

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def stop(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._target, timeout=3)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                # Checked under the lock: a connection can never slip past a cut half set up.
                if not self._open:
                    _reset(client)
                    _reset(server)
                    continue
                self._sockets.update((client, server))
            for sock in (client, server):
                # Without this, Nagle plus delayed ACKs add ~40 ms to every round trip.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with RST, waking a peer blocked in a read (a plain close from another thread may not)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
