"""The report's two files: Markdown (a document written there, its figures
by relative path) and a self-contained HTML page, both previewed in Kedro-Viz."""

from __future__ import annotations

from pathlib import Path

from kedro_datasets._typing import HTMLPreview
from kedro_datasets.text import TextDataset

from pytorch_intro.internals import save_path, save_unwrapped
from pytorch_intro.reporting.document import Document, to_markdown


class MarkdownReportDataset(TextDataset):
    """A :class:`~pytorch_intro.reporting.document.Document` saved as Markdown
    that refers to its figures' files by their path relative to its own (its
    version's folder): an earlier version still shows the figures it was written
    with, and the folder can move as a whole. Loads the text; the options are
    ``TextDataset``'s.
    """

    def save(self, data: Document) -> None:  # type: ignore[override]
        folder = Path(str(save_path(self))).parent
        # TextDataset's own save, unwrapped: the wrapped one, inside this (also
        # wrapped) save, would pick a second save version
        save_unwrapped(TextDataset, self, to_markdown(data, folder))

    def preview(self) -> HTMLPreview:
        """Kedro-Viz's preview: the Markdown (it renders it); ``None`` while
        none is saved."""
        return HTMLPreview(self.load()) if self.exists() else None


class HTMLReportDataset(TextDataset):
    """The report as one HTML page (``TextDataset``), previewed in Kedro-Viz."""

    def preview(self) -> HTMLPreview:
        """Kedro-Viz's preview: the page; ``None`` while none is saved."""
        return HTMLPreview(self.load()) if self.exists() else None
