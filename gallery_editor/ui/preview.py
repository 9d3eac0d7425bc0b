"""A dialog that shows one image large, fetched without the API key off the GUI thread."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from gallery_editor.ui.workers import JobRunner

logger = logging.getLogger(__name__)

MAX_PREVIEW_BYTES = 50 * 2**20
PREVIEW_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_PREVIEW_EDGE = 1600


class PreviewError(Exception):
    """Fetching or decoding the full image failed; the message gives the reason."""


@dataclass(frozen=True, slots=True)
class FullImage:
    """A decoded full-size image with what the dialog shows about it."""

    image: QImage
    width: int
    height: int
    format: str
    byte_count: int


def check_preview_url(url: str) -> None:
    """Raise `PreviewError` unless `url` is https, or plain http to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise PreviewError(
        f"Refused to fetch {url!r}: images are fetched over https, or plain http on this computer only."
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_full_image(url: str) -> FullImage:
    """Download and decode the image at `url` (runs on a worker thread).

    Uses a fresh httpx client without credentials, because images come from media hosts
    that must never see the API key. Raises `PreviewError` with a short reason.
    """
    check_preview_url(url)
    body = _download(url)
    return _decode(url, body)


def _download(url: str) -> bytes:
    chunks: list[bytes] = []
    received = 0
    try:
        with httpx.Client(timeout=PREVIEW_TIMEOUT, follow_redirects=False) as http:
            with http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise PreviewError(f"The image server returned HTTP {response.status_code} for {url}.")
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > MAX_PREVIEW_BYTES:
                        raise PreviewError(f"The image at {url} is larger than {MAX_PREVIEW_BYTES // 2**20} MB.")
                    chunks.append(chunk)
    except httpx.HTTPError as error:
        raise PreviewError(f"Downloading {url} failed: {error}. Check the connection and try again.") from None
    return b"".join(chunks)


def _decode(url: str, body: bytes) -> FullImage:
    data = QByteArray(body)
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    image_format = bytes(reader.format().data()).decode("ascii", "replace").upper()
    size = reader.size()
    image = reader.read()
    if image.isNull():
        raise PreviewError(f"The file at {url} could not be decoded: {reader.errorString()}.")
    if max(image.width(), image.height()) > MAX_PREVIEW_EDGE:
        image = image.scaled(
            MAX_PREVIEW_EDGE,
            MAX_PREVIEW_EDGE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    width = size.width() if size.isValid() else image.width()
    height = size.height() if size.isValid() else image.height()
    return FullImage(image, width, height, image_format or "unknown", len(body))


class PreviewDialog(QDialog):
    """Shows an image large with its pixel size, format and URL."""

    def __init__(self, title: str, url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.url = url
        self.setWindowTitle(f"Preview — {title}")
        self.image_label = QLabel("Loading the full image…", self)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setAccessibleName("Full image")
        self.details = QLabel(self)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setWordWrap(True)
        self.details.setText(f"URL: {url}")
        self._runner = JobRunner(parent=self)
        self._build()
        self.resize(900, 700)

    def _build(self) -> None:
        scroll = QScrollArea(self)
        scroll.setWidget(self.image_label)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.details)
        layout.addWidget(buttons)

    def start(self) -> None:
        """Start fetching the full image in the background."""
        url = self.url
        self._runner.start(lambda: fetch_full_image(url), self._show_image, self._show_error, name="preview")

    def _show_image(self, full: FullImage) -> None:
        self.image_label.setPixmap(QPixmap.fromImage(full.image))
        kilobytes = max(1, round(full.byte_count / 1024))
        self.details.setText(
            f"{full.width} × {full.height} pixels, {full.format}, {kilobytes} KB\nURL: {self.url}"
        )

    def _show_error(self, error: BaseException) -> None:
        logger.warning("Preview of %s failed: %s", self.url, error)
        self.image_label.setWordWrap(True)
        self.image_label.setText(str(error) if isinstance(error, PreviewError) else f"Preview failed: {error!r}")
