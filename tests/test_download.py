"""download_file against a local HTTP server on 127.0.0.1; never the internet."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from pytorch_intro.data import download
from pytorch_intro.data.download import DownloadError, download_file

PAYLOAD = random.Random(0).randbytes(200_000)
OTHER = random.Random(1).randbytes(len(PAYLOAD))
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
TRUNCATED_AT = 1000
# Generous: a loaded machine never times out a local server that answers. The
# timeout tests wait for /slow, which never answers, for SLOW_TIMEOUT.
TIMEOUT, SLOW_TIMEOUT = 30.0, 2.0


def _send(handler: BaseHTTPRequestHandler, body: bytes, length: int | None = None):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)


def _status(code: int) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def _truncated(handler: BaseHTTPRequestHandler) -> None:
    # Promise the whole payload, send a piece, then the server closes the socket.
    _send(handler, PAYLOAD[:TRUNCATED_AT], length=len(PAYLOAD))
    handler.close_connection = True


def _slow(handler: BaseHTTPRequestHandler) -> None:
    # Say nothing until the test ends; the client must time out on its own.
    handler.server.stop.wait(10)  # type: ignore[attr-defined]


ROUTES: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
    "/good": lambda h: _send(h, PAYLOAD),
    "/other": lambda h: _send(h, OTHER),
    "/404": _status(404),
    "/500": _status(500),
    "/truncated": _truncated,
    "/slow": _slow,
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        with server.lock:  # type: ignore[attr-defined]
            server.hits[self.path] += 1  # type: ignore[attr-defined]
            server.agents.append(self.headers.get("User-Agent"))  # type: ignore[attr-defined]
        ROUTES.get(self.path, _status(404))(self)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean


@dataclass
class Server:
    base: str
    hits: Counter = field(default_factory=Counter)
    agents: list = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.stop = threading.Event()  # type: ignore[attr-defined]
    httpd.lock = threading.Lock()  # type: ignore[attr-defined]
    state = Server(f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.hits = state.hits  # type: ignore[attr-defined]
    httpd.agents = state.agents  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.stop.set()  # release /slow handlers so server_close can join them
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A URL on 127.0.0.1 whose port is bound but not listening: connection refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/file.bin"
    finally:
        sock.close()


def _fetch(urls: list[str], destination: Path, **kwargs) -> Path:
    kwargs = {"timeout": TIMEOUT, "progress": False, **kwargs}
    return download_file(urls, destination, DIGEST, **kwargs)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_mirror_writes_a_verified_file(server, tmp_path, caplog):
    destination = tmp_path / "nested" / "dir" / "data.bin"
    with caplog.at_level(logging.INFO, logger=download.__name__):
        result = _fetch([server.url("/good")], destination)
    assert result == destination
    assert destination.read_bytes() == PAYLOAD
    assert hashlib.sha256(destination.read_bytes()).hexdigest() == DIGEST
    assert _leftovers(destination.parent) == ["data.bin"]  # no temporary file
    # the mode of any new file here (pooch's temporary file was private)
    umask = os.umask(0o022)
    os.umask(umask)
    assert destination.stat().st_mode & 0o777 == 0o666 & ~umask
    assert server.hits == Counter({"/good": 1})
    assert server.agents[0] and "pytorch_intro" in server.agents[0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("Verified" in m and str(destination) in m for m in messages)
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


def test_progress_bar_does_not_change_the_result(server, tmp_path, capsys):
    destination = tmp_path / "data.bin"
    _fetch([server.url("/good")], destination, progress=True)
    assert destination.read_bytes() == PAYLOAD
    assert "100%" in capsys.readouterr().err  # tqdm drew to stderr


def test_404_moves_on_to_the_next_mirror(server, tmp_path, caplog):
    destination = tmp_path / "data.bin"
    with caplog.at_level(logging.WARNING, logger=download.__name__):
        _fetch([server.url("/404"), server.url("/good")], destination)
    assert destination.read_bytes() == PAYLOAD
    assert server.hits == Counter({"/404": 1, "/good": 1})
    assert any("404" in r.getMessage() for r in caplog.records)


def test_500_moves_on_to_the_next_mirror(server, tmp_path, caplog):
    destination = tmp_path / "data.bin"
    with caplog.at_level(logging.WARNING, logger=download.__name__):
        _fetch([server.url("/500"), server.url("/good")], destination)
    assert destination.read_bytes() == PAYLOAD
    assert server.hits == Counter({"/500": 1, "/good": 1})  # each mirror once
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "500 Server Error" in warnings[0].getMessage()
    assert _leftovers(tmp_path) == ["data.bin"]


def test_truncated_transfer_fails_and_leaves_nothing(server, tmp_path):
    destination = tmp_path / "data.bin"
    with pytest.raises(DownloadError) as caught:
        _fetch([server.url("/truncated")], destination)
    expected = len(PAYLOAD) - TRUNCATED_AT
    assert f"IncompleteRead({TRUNCATED_AT} bytes read, {expected} more expected)" in (
        str(caught.value)
    )
    assert server.hits == Counter({"/truncated": 1})
    assert not destination.exists()
    assert _leftovers(tmp_path) == []


def test_wrong_checksum_names_both_digests_and_leaves_nothing(server, tmp_path):
    destination = tmp_path / "data.bin"
    with pytest.raises(DownloadError) as caught:
        _fetch([server.url("/other")], destination)
    message = str(caught.value)
    assert "does not match the known hash" in message
    assert hashlib.sha256(OTHER).hexdigest() in message and DIGEST in message
    assert server.hits == Counter({"/other": 1})
    assert not destination.exists()
    assert _leftovers(tmp_path) == []


def test_unreachable_mirror_then_good_one(server, closed_port, tmp_path, caplog):
    destination = tmp_path / "data.bin"
    with caplog.at_level(logging.WARNING, logger=download.__name__):
        _fetch([closed_port, server.url("/good")], destination)
    assert destination.read_bytes() == PAYLOAD
    refused = [r for r in caplog.records if "Connection refused" in r.getMessage()]
    assert len(refused) == 1


def test_error_lists_every_mirror_and_its_reason(server, closed_port, tmp_path):
    destination = tmp_path / "data.bin"
    urls = [server.url("/404"), server.url("/500"), closed_port]
    with pytest.raises(DownloadError) as caught:
        _fetch(urls, destination)
    error = caught.value
    assert isinstance(error, OSError)
    assert str(destination) in str(error)
    reasons = dict(error.failures)
    assert list(reasons) == urls
    assert reasons[urls[0]].startswith("404 Client Error")
    assert reasons[urls[1]].startswith("500 Server Error")
    assert "Connection refused" in reasons[urls[2]]
    for url, reason in error.failures:
        assert f"{url}: {reason}" in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    assert not destination.exists() and _leftovers(tmp_path) == []


def test_existing_destination_is_never_overwritten(server, tmp_path):
    destination = tmp_path / "data.bin"
    destination.write_bytes(b"the user's own file")
    with pytest.raises(FileExistsError):
        _fetch([server.url("/good")], destination)
    assert destination.read_bytes() == b"the user's own file"
    assert server.hits == Counter()  # not even a request
    assert _leftovers(tmp_path) == ["data.bin"]


def test_timeout_moves_on_to_the_next_mirror(server, tmp_path, caplog):
    destination = tmp_path / "data.bin"
    with caplog.at_level(logging.WARNING, logger=download.__name__):
        _fetch(
            [server.url("/slow"), server.url("/good")],
            destination,
            timeout=SLOW_TIMEOUT,
        )
    assert destination.read_bytes() == PAYLOAD
    assert server.hits == Counter({"/slow": 1, "/good": 1})
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "timed out" in warnings[0]


def test_timeout_on_every_mirror_says_timed_out(server, tmp_path):
    destination = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match="timed out"):
        _fetch([server.url("/slow")], destination, timeout=SLOW_TIMEOUT)
    assert not destination.exists() and _leftovers(tmp_path) == []


def test_interrupt_mid_transfer_leaves_no_temporary_file(server, tmp_path, monkeypatch):
    iter_content = requests.Response.iter_content

    def interrupted(self, *args, **kwargs):
        yield next(iter_content(self, *args, **kwargs))
        self.close()  # as the end of the program would
        raise KeyboardInterrupt

    monkeypatch.setattr(requests.Response, "iter_content", interrupted)
    destination = tmp_path / "data.bin"
    with pytest.raises(KeyboardInterrupt):
        _fetch([server.url("/good")], destination)
    assert not destination.exists() and _leftovers(tmp_path) == []


def test_no_urls_is_rejected_before_any_request(tmp_path):
    with pytest.raises(ValueError, match="at least one URL"):
        download_file([], tmp_path / "data.bin", DIGEST)
    assert _leftovers(tmp_path) == []


def test_a_host_that_does_not_resolve_is_tried_once(tmp_path, monkeypatch):
    calls = []

    def no_dns(host, port, *args, **kwargs):
        calls.append(host)
        raise socket.gaierror(-2, "Name or service not known")

    # The lookup requests (urllib3) makes for each connection attempt.
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DownloadError, match="Name or service not known"):
        _fetch(["http://mirror.invalid/f"], tmp_path / "f")
    assert calls == ["mirror.invalid"]  # one attempt, no retries
    assert not (tmp_path / "f").exists()
