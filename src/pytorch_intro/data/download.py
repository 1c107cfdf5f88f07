"""Verified downloads from a list of mirrors, tried in order, on pooch.

pooch downloads into a temporary file beside the destination, checks its SHA-256
and only then gives it its name (the temporary file goes, whatever happens).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pooch
import requests

logger = logging.getLogger(__name__)
# pooch prints each transfer to stderr past the logging setup; we log our own line.
pooch.get_logger().setLevel(logging.WARNING)

# requests would ask for gzip and silently unpack a .gz file that a server sends
# with Content-Encoding: gzip; ask for the bytes as stored.
HEADERS = {
    "User-Agent": f"pytorch_intro pooch/{pooch.__version__.lstrip('v')}",
    "Accept-Encoding": "identity",
}


class DownloadError(OSError):
    """No mirror delivered a verified file; the message lists each URL tried and why.

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
        # The default would call __init__ with the message alone; keep the error
        # picklable so it survives multiprocessing and parallel runners.
        return type(self), (self.destination, self.failures)


def download_file(
    urls: Sequence[str],
    destination: str | Path,
    sha256: str,
    *,
    timeout: float = 30.0,
    progress: bool | None = None,
) -> Path:
    """Download one file from the first mirror that delivers it intact.

    Args:
        urls: The same file at several HTTP(S) mirrors, tried in order, once each.
        destination: Where the file goes; its parent is created if needed.
        sha256: The expected hex digest, checked before the file gets its name.
        timeout: Seconds allowed for connecting and for each read.
        progress: Show a tqdm bar on stderr; ``None``: only when stderr is a TTY.

    Raises:
        FileExistsError: ``destination`` exists; it is left untouched (pooch
            would replace a file whose digest differs).
        DownloadError: No mirror delivered a file with the expected digest.
        ValueError: No URLs.
    """
    destination = Path(destination)
    if not urls:
        raise ValueError("download_file needs at least one URL")
    if destination.exists():
        raise FileExistsError(f"{destination} already exists; not overwriting it")
    if progress is None:
        progress = sys.stderr is not None and sys.stderr.isatty()
    downloader = pooch.HTTPDownloader(
        progressbar=progress, chunk_size=1 << 16, timeout=timeout, headers=HEADERS
    )
    failures = []
    for url in urls:
        try:
            pooch.retrieve(
                url,
                f"sha256:{sha256}",
                fname=destination.name,
                path=destination.parent,
                downloader=downloader,
            )
        except (ValueError, requests.RequestException) as error:
            # ValueError: pooch's digest check (the file is gone) or a bad URL.
            if getattr(error, "response", None) is not None:
                error.response.close()  # pooch leaves an HTTP error's connection open
            logger.warning("Download from %s failed: %s", url, error)
            failures.append((url, str(error)))
        else:
            # pooch's temporary file was private (0600): give it a new file's mode
            probe = destination.with_name(f".{destination.name}.mode")
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT, 0o666))
            destination.chmod(probe.stat().st_mode & 0o777)
            probe.unlink()
            logger.info("Verified %s (sha256 %s) from %s", destination, sha256, url)
            return destination
    raise DownloadError(destination, failures)
