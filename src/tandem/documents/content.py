"""What a document is, told by its content, never by its name: pure, no I/O.

A document is accepted when its first bytes say PDF, TIFF, JPEG or PNG and it then opens as
that and decodes: a PDF through PDFium (every page's size read, the first page drawn small),
an image through Pillow (every frame of a TIFF decoded). Before anything is decoded, its size
is checked, and an image's (or frame's) pixels, from its header, against the limits: a
decompression bomb (a few kilobytes that would decode into gigabytes) is refused unopened.
Whatever a decoder raises on broken input is a refusal naming what is wrong, never a crash.

PDFium is not thread-safe (not even across documents): every call into it holds `PDFIUM`.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image

PDF, TIFF, JPEG, PNG = "application/pdf", "image/tiff", "image/jpeg", "image/png"
MEDIA_TYPES = (PDF, TIFF, JPEG, PNG)
EXTENSIONS = {PDF: "pdf", TIFF: "tiff", JPEG: "jpg", PNG: "png"}
# Pillow's name for each image format, which it must also find when it opens the bytes.
_PILLOW = {TIFF: "TIFF", JPEG: "JPEG", PNG: "PNG"}
# The PDF specification's largest page side (200 inches, in points).
MAX_PAGE_POINTS = 14_400.0
# An image without a resolution is taken at this many dots per inch.
DEFAULT_DPI = 72.0

PDFIUM = threading.Lock()


class Refused(Exception):
    """The document is not accepted; the message says why (a sentence about "the document")."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int
    max_pixels: int  # of one image, or one frame of a TIFF


# The settings' defaults (tandem.core.config: TANDEM_DOCUMENT_MAX_*), for callers without them.
DEFAULT_LIMITS = Limits(max_bytes=20 * 1024 * 1024, max_pages=500, max_pixels=60_000_000)


@dataclass(frozen=True)
class Checked:
    """A document that passed: what it is, by its content."""

    media_type: str
    pages: int
    size: int
    sha256: str
    width: float  # the first page, in points (1/72 inch)
    height: float


def sniff(data: bytes) -> str | None:
    """The media type the first bytes announce, or None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def check(data: bytes, limits: Limits) -> Checked:
    """The document, checked; Refused with the reason otherwise."""
    if not data:
        raise Refused("the document is empty")
    if len(data) > limits.max_bytes:
        raise Refused(f"the document is larger than the {limits.max_bytes:,} bytes accepted")
    media_type = sniff(data)
    if media_type is None:
        raise Refused(
            "the document is not a PDF, TIFF, JPEG or PNG file (told by its content, "
            "whatever its name says)"
        )
    if media_type == PDF:
        pages, width, height = _pdf(data, limits)
    else:
        pages, width, height = _image(data, media_type, limits)
    return Checked(media_type, pages, len(data), hashlib.sha256(data).hexdigest(), width, height)


def _pdf(data: bytes, limits: Limits) -> tuple[int, float, float]:
    if b"%%EOF" not in data[-1024:]:
        raise Refused("the PDF is truncated: it does not end with %%EOF")
    with PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise Refused("the PDF is password-protected: send it unlocked") from None
            raise Refused(f"the PDF cannot be read: {_reason(exc)}") from None
        except Exception as exc:  # whatever else broken input makes it raise
            raise Refused(f"the PDF cannot be read: {_reason(exc)}") from None
        try:
            pages = len(document)
            if pages < 1:
                raise Refused("the PDF has no pages")
            if pages > limits.max_pages:
                raise Refused(f"the PDF has {pages} pages: at most {limits.max_pages} are accepted")
            sizes = [document.get_page_size(index) for index in range(pages)]
            for number, (width, height) in enumerate(sizes, start=1):
                if not (0 < width <= MAX_PAGE_POINTS and 0 < height <= MAX_PAGE_POINTS):
                    raise Refused(f"page {number} of the PDF has an impossible size")
            page = document[0]  # the first page is drawn, small: it must decode
            try:
                page.render(scale=min(1.0, 100 / max(sizes[0]))).close()
            finally:
                page.close()
        except Refused:
            raise
        except Exception as exc:
            raise Refused(f"the PDF cannot be read: {_reason(exc)}") from None
        finally:
            document.close()
    return pages, float(sizes[0][0]), float(sizes[0][1])


def _image(data: bytes, media_type: str, limits: Limits) -> tuple[int, float, float]:
    kind = name = _PILLOW[media_type]
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice its bound refuses) on images bigger than it likes:
            # refused here too, whatever our own bound.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                if image.format != kind:
                    raise Refused(f"the document is not a {name} image")
                frames = int(getattr(image, "n_frames", 1)) if media_type == TIFF else 1
                if frames > limits.max_pages:
                    raise Refused(
                        f"the TIFF has {frames} pages: at most {limits.max_pages} are accepted"
                    )
                first = size_in_points(image)
                for index in range(frames):
                    image.seek(index)
                    width, height = image.size
                    if width < 1 or height < 1:
                        raise Refused(f"page {index + 1} of the image is empty")
                    if width * height > limits.max_pixels:
                        raise Refused(
                            f"page {index + 1} of the image has {width}x{height} pixels: at "
                            f"most {limits.max_pixels:,} are decoded"
                        )
                    image.load()  # decodes the whole frame: a truncated file fails here
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused("the image has too many pixels to decode") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, ... on bad input
        raise Refused(f"the {name} image cannot be read: {_reason(exc)}") from None
    return frames, first[0], first[1]


def size_in_points(image: Image.Image) -> tuple[float, float]:
    """An image's size at its resolution, in points (as a PDF page's)."""
    dpi = image.info.get("dpi")
    try:
        across, down = (float(dpi[0]), float(dpi[1])) if dpi else (DEFAULT_DPI, DEFAULT_DPI)
    except (TypeError, ValueError, IndexError):
        across = down = DEFAULT_DPI
    across = across if 36 <= across <= 2400 else DEFAULT_DPI
    down = down if 36 <= down <= 2400 else DEFAULT_DPI
    width, height = image.size
    return width * 72 / across, height * 72 / down


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:200]
    return text or type(exc).__name__
