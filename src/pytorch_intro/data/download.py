"""Verified downloads from a list of mirrors, with retries and no half files.

pooch does the transfer (``HTTPDownloader``, on ``requests``), the temporary file
and the SHA-256 check. Ours is the policy: mirrors are tried in order, transient
network errors are retried on the same mirror with exponential backoff, anything
else moves on to the next mirror, and each failure gets a short, stable reason.
pooch would replace a file in its way, so each attempt downloads into a private
hidden folder beside the destination, and the verified file is then linked into
place, which fails rather than replace anything. Only the standard library,
pooch, requests and tqdm are used: no Kedro or MLflow.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pooch
import requests
from tqdm import tqdm

logger = logging.getLogger(__name__)
# pooch would announce each transfer again; this module logs its own lines.
pooch.get_logger().setLevel(logging.WARNING)

USER_AGENT = f"pytorch_intro-download pooch/{pooch.__version__.lstrip('v')}"
# requests would ask for gzip and silently unpack a .gz file that a server sends
# with Content-Encoding: gzip; ask for the bytes as stored, as urllib did.
_REQUEST = {
    "chunk_size": 1 << 16,
    "headers": {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
}
_BAR_STYLE = {"unit": "B", "unit_scale": True, "unit_divisor": 1024, "leave": False}
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_POOCH_MISMATCH = re.compile(r"but got ([0-9a-f]+)")  # pooch's hash_matches message


class DownloadError(OSError):
    """No mirror delivered a verified file; the message lists each URL tried and what went wrong.

    Attributes:
        destination: The file that could not be downloaded.
        failures: ``(url, reason)`` for each mirror, in the order tried.
    """

    def __init__(self, destination: str | Path, failures: Sequence[tuple[str, str]]):
        self.destination = Path(destination)
        self.failures = list(failures)
        lines = [f"could not download {self.destination} from any mirror:"]
        lines += [f"  {url}: {reason}" for url, reason in self.failures]
        super().__init__("\n".join(lines))

    def __reduce__(self):
        # The default pickling would call __init__ with the message alone; keep the
        # error picklable so it survives multiprocessing and parallel runners.
        return type(self), (self.destination, self.failures)


class _AttemptFailed(Exception):
    """One attempt on one mirror failed; ``transient`` says whether to retry it."""

    def __init__(self, reason: str, *, transient: bool):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class _ProgressBar(tqdm):
    """A bar pooch always drives: it skips a falsy one, and tqdm's bool() is total > 0."""

    def __bool__(self) -> bool:
        return True


def sha256_of(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks.

    Args:
        path: The file to hash.
        chunk_size: Bytes read at a time, so large files never sit in memory.

    Returns:
        The lowercase hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    urls: Sequence[str],
    destination: str | Path,
    sha256: str,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool | None = None,
) -> Path:
    """Download one file from the first mirror that delivers it intact.

    Args:
        urls: The same file at several HTTP(S) mirrors, tried in order.
        destination: Where the file goes; its parent is created if needed.
        sha256: The expected hex digest; the file is verified before it gets its
            final name.
        timeout: Seconds allowed for connecting and for each read (a slow but
            steady transfer is not cut off).
        retries: Attempts per mirror for transient errors (at least 1).
        backoff: Seconds before retry ``k`` is ``backoff * 2**(k-1)``.
        progress: Show a tqdm bar; ``None`` shows one only when stderr is a TTY.

    Returns:
        ``destination`` as a ``Path``.

    Raises:
        FileExistsError: ``destination`` already exists (or appeared during the
            download); it is left untouched.
        DownloadError: No mirror delivered a file with the expected digest.
        ValueError: No URLs, a malformed digest, or ``retries`` below 1.
    """
    urls, expected = _check_arguments(urls, sha256, retries)
    destination = Path(destination)
    # lexists also catches a dangling symlink, which we must not replace either.
    if os.path.lexists(destination):
        raise FileExistsError(f"{destination} already exists; not overwriting it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if progress is None:
        stderr = sys.stderr
        progress = bool(stderr is not None and stderr.isatty())

    failures: list[tuple[str, str]] = []
    for url in urls:
        reason = ""
        for attempt in range(1, retries + 1):
            if attempt > 1 and backoff > 0:
                time.sleep(backoff * 2 ** (attempt - 2))
            logger.info(
                "Downloading %s -> %s (attempt %d of %d)",
                url,
                destination,
                attempt,
                retries,
            )
            try:
                _attempt(url, destination, expected, timeout, progress)
            except _AttemptFailed as failure:
                logger.warning("Download from %s failed: %s", url, failure.reason)
                reason = failure.reason
                if attempt > 1:
                    reason += f" (after {attempt} attempts)"
                if not failure.transient:
                    # A 404 or wrong bytes will not change on retry: next mirror.
                    break
            else:
                logger.info("Verified %s (sha256 %s)", destination, expected)
                return destination
        failures.append((url, reason))
    raise DownloadError(destination, failures)


def _check_arguments(
    urls: Sequence[str], sha256: str, retries: int
) -> tuple[list[str], str]:
    """Validate before touching the disk or network; return (urls, lowercase digest)."""
    if isinstance(urls, str):
        # A lone string is a sequence of characters; treat it as a single mirror.
        urls = [urls]
    if not urls:
        raise ValueError("download_file needs at least one URL")
    expected = sha256.strip().lower()
    if not _SHA256_HEX.fullmatch(expected):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    if retries < 1:
        raise ValueError(f"retries must be at least 1, got {retries}")
    return list(urls), expected


def _attempt(
    url: str, destination: Path, sha256: str, timeout: float, progress: bool
) -> None:
    """Fetch ``url`` once; if the digest matches, give the file its final name.

    Raises ``_AttemptFailed`` for problems with the mirror; local errors (disk full,
    permissions) and interruptions propagate. The private folder goes, whatever
    happens (KeyboardInterrupt included), with anything pooch left in it.
    """
    with tempfile.TemporaryDirectory(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    ) as private:
        part = Path(private) / destination.name
        bar = _ProgressBar(desc=destination.name, disable=not progress, **_BAR_STYLE)
        with bar:
            downloader = pooch.HTTPDownloader(bar, timeout=timeout, **_REQUEST)
            try:
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{sha256}",
                    fname=part.name,
                    path=part.parent,
                    downloader=downloader,
                )
            except (ValueError, requests.RequestException) as error:
                raise _failure(error, sha256) from error
        _publish(part, destination)


def _publish(part: Path, destination: Path) -> None:
    """Move the verified ``part`` onto ``destination``, never replacing a file there.

    pooch's temporary file has mode 0600: give it the mode of any new file here,
    and make its bytes durable before they become visible.
    """
    probe = os.open(part.with_name(".mode"), os.O_WRONLY | os.O_CREAT, 0o666)
    mode = stat.S_IMODE(os.fstat(probe).st_mode)  # 0o666 less the umask
    os.close(probe)
    os.chmod(part, mode)
    with open(part, "rb+") as stream:
        os.fsync(stream.fileno())
    appeared = f"{destination} appeared during the download; not overwriting it"
    try:
        # Unlike a rename, a hard link fails if the name is taken.
        os.link(part, destination)
    except FileExistsError:
        raise FileExistsError(appeared) from None
    except OSError:
        # No hard links on this file system: check, then rename (a tiny race remains).
        if os.path.lexists(destination):
            raise FileExistsError(appeared) from None
        os.rename(part, destination)


def _failure(error: Exception, sha256: str) -> _AttemptFailed:
    """A short, stable reason for what pooch or requests raised, and whether to retry."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        response = error.response
        response.close()  # it holds the connection
        code = response.status_code
        reason = f"HTTP {code} {response.reason}".rstrip()
        return _AttemptFailed(reason, transient=code == 429 or code >= 500)
    if not isinstance(error, requests.RequestException):
        # pooch's digest check (it has already deleted the file).
        got = _POOCH_MISMATCH.search(str(error))
        reason = (
            f"sha256 mismatch: got {got[1]}, expected {sha256}" if got else str(error)
        )
        return _AttemptFailed(reason, transient=False)
    if isinstance(error, ValueError):  # MissingSchema, InvalidSchema, InvalidURL
        return _AttemptFailed(f"invalid URL: {error}", transient=False)
    causes = list(_causes(error))
    for kind, describe, transient in _NETWORK_REASONS:
        cause = next((cause for cause in causes if isinstance(cause, kind)), None)
        if cause is not None:
            return _AttemptFailed(describe(cause), transient=transient)
    return _AttemptFailed(_describe(causes[-1]), transient=True)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, then what it wraps: requests and urllib3 keep the underlying error
    in ``args``, in ``reason`` (``MaxRetryError``) or in ``__cause__``."""
    yield error
    for inner in (*error.args, getattr(error, "reason", None), error.__cause__):
        if isinstance(inner, BaseException) and inner is not error:
            yield from _causes(inner)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _truncated(short: http.client.IncompleteRead) -> str:
    # urllib3 counts the bytes it read; http.client keeps them.
    received = short.partial if isinstance(short.partial, int) else len(short.partial)
    if short.expected is None:
        return f"truncated after {received} bytes"
    return f"truncated: {received} of {received + short.expected} bytes"


# What a network error wraps, most telling first: (kind, reason, retry the mirror?).
# A host name that does not resolve (no network, no DNS) will not resolve a second
# later either: go straight to the next mirror.
_NETWORK_REASONS = (
    (ConnectionRefusedError, lambda _: "connection refused", True),
    (socket.gaierror, _describe, False),
    ((TimeoutError, requests.Timeout), lambda _: "timed out", True),
    (http.client.IncompleteRead, _truncated, True),
)
