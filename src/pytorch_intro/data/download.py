"""Verified downloads from a list of mirrors, with retries and no half files.

``download_file`` streams a file into a temporary ``.part`` file beside its
destination, hashing while it writes, and gives it its final name only once the
size and the SHA-256 digest check out. Transient network errors are retried on
the same mirror with exponential backoff; anything else moves on to the next
mirror. Only the standard library (``urllib``) and ``tqdm`` are used, so this
module can be imported without Kedro or MLflow.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

logger = logging.getLogger(__name__)

USER_AGENT = (
    f"pytorch_intro-download Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"
)
_CHUNK_SIZE = 1 << 16
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


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
        urls: The same file at several mirrors, tried in order.
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
        FileExistsError: ``destination`` already exists; it is left untouched.
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
    """Fetch ``url`` once into a temp file and move it onto ``destination`` if valid.

    Raises ``_AttemptFailed`` for problems with the mirror; local errors (disk
    full, permissions) and interruptions propagate, since another mirror would
    not help. The temp file is removed whatever happens.
    """
    fd, tmp = _create_part_file(destination)
    try:
        with os.fdopen(fd, "wb") as out:
            received, length, actual = _stream(
                url, out, timeout, progress, destination.name
            )
            out.flush()
            # Make the bytes durable before the rename makes them visible.
            os.fsync(out.fileno())
        if length is not None and received != length:
            raise _AttemptFailed(
                _truncated(received, length), transient=received < length
            )
        if actual != sha256:
            raise _AttemptFailed(
                f"sha256 mismatch: got {actual}, expected {sha256}", transient=False
            )
        # Someone may have created the file while we downloaded; os.replace would
        # silently overwrite it, so check once more (a tiny race window remains).
        if os.path.lexists(destination):
            raise FileExistsError(f"{destination} appeared during the download")
        os.replace(tmp, destination)
    except BaseException:
        # Including KeyboardInterrupt: never leave a .part file behind.
        tmp.unlink(missing_ok=True)
        raise


def _create_part_file(destination: Path) -> tuple[int, Path]:
    """Create a unique hidden ``.part`` file beside ``destination``; return (fd, path).

    Like ``tempfile.mkstemp``, but with mode 0o666 filtered by the umask, so the
    finished file gets the permissions of any other new file instead of 0600.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = destination.with_name(f".{destination.name}.{os.urandom(6).hex()}.part")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a unique .part file for {destination}")


def _stream(
    url: str, out: BinaryIO, timeout: float, progress: bool, label: str
) -> tuple[int, int | None, str]:
    """Copy the body of ``url`` into ``out``.

    Returns:
        (bytes received, Content-Length or None, SHA-256 hex digest of the bytes).
    """
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the open response
        transient = error.code == 429 or error.code >= 500
        raise _AttemptFailed(
            f"HTTP {error.code} {error.reason}".rstrip(), transient=transient
        ) from error
    except urllib.error.URLError as error:
        # A reason that is an OSError is a network problem (refused, DNS, timeout);
        # a string reason is a bad URL (unknown scheme...), which retrying won't fix.
        # A host name that does not resolve (no network, no DNS) will not resolve
        # a second later either: go straight to the next mirror.
        transient = isinstance(error.reason, OSError) and not isinstance(
            error.reason, socket.gaierror
        )
        raise _AttemptFailed(_describe(error.reason), transient=transient) from error
    except (ValueError, http.client.InvalidURL) as error:
        raise _AttemptFailed(f"invalid URL: {error}", transient=False) from error
    except (OSError, http.client.HTTPException) as error:
        # getresponse() runs outside urllib's URLError wrapper, so a read timeout
        # or a dropped connection before the status line arrives bare.
        raise _AttemptFailed(_describe(error), transient=True) from error

    with response:
        length = _content_length(response)
        digest = hashlib.sha256()
        received = 0
        with tqdm(
            total=length,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label,
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                # Only the network read is guarded: a failed write is a local
                # problem and must not be mistaken for a flaky mirror.
                try:
                    chunk = response.read(_CHUNK_SIZE)
                except http.client.IncompleteRead as error:
                    received += len(error.partial)
                    reason = (
                        _truncated(received, length)
                        if length is not None
                        else f"truncated after {received} bytes"
                    )
                    raise _AttemptFailed(reason, transient=True) from error
                except (OSError, http.client.HTTPException) as error:
                    raise _AttemptFailed(_describe(error), transient=True) from error
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    return received, length, digest.hexdigest()


def _content_length(response) -> int | None:
    """The Content-Length header as an int, or None if absent or unparsable."""
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _truncated(received: int, length: int) -> str:
    if received < length:
        return f"truncated: {received} of {length} bytes"
    return f"too long: {received} bytes, Content-Length said {length}"


def _describe(error: object) -> str:
    """A short, stable reason for a network error (used in logs and DownloadError)."""
    if isinstance(error, TimeoutError):  # socket.timeout is an alias since 3.10
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, BaseException):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)
