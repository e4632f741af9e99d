"""One page of a document drawn as an image, at a scale and a rotation: pure, no I/O.

A PDF's page is drawn by PDFium alone, without the others (a 100-page PDF's first page costs
what a one-page PDF's does); an image's frame is decoded by Pillow (a JPEG straight at a
reduced size when it is drawn smaller). Scale 1 draws a page at 72 dots per inch (a point a
pixel); whatever the scale asked, a drawing has at most MAX_PIXELS. Rotation is clockwise.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image

from tandem.documents.content import PDF, PDFIUM, size_in_points

MIN_SCALE, MAX_SCALE = 0.1, 4.0
ROTATIONS = (0, 90, 180, 270)
FORMATS = {"webp": "image/webp", "png": "image/png"}
MAX_PIXELS = 16_000_000  # of one drawing: 4,000 x 4,000
_TRANSPOSE = {
    90: Image.Transpose.ROTATE_270,  # Pillow turns counter-clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Drawing:
    """How to draw a page: which (from 1), how big, turned how far, as what."""

    number: int
    scale: float
    rotate: int = 0
    format: str = "webp"


def fitted(scale: float, width: float, height: float) -> float:
    """The scale, lowered if a page this size (in points) would need more than MAX_PIXELS."""
    if width * height * scale * scale <= MAX_PIXELS:
        return scale
    return math.sqrt(MAX_PIXELS / (width * height))


def draw(data: bytes, media_type: str, drawing: Drawing) -> bytes:
    """The page as encoded image bytes (WebP or PNG)."""
    image = _pdf_page(data, drawing) if media_type == PDF else _image_page(data, drawing)
    out = io.BytesIO()
    if drawing.format == "png":
        image.save(out, "PNG", compress_level=3)
    else:
        image.save(out, "WEBP", quality=82, method=0)
    return out.getvalue()


def _pdf_page(data: bytes, drawing: Drawing) -> Image.Image:
    with PDFIUM:
        document = pdfium.PdfDocument(data)
        try:
            page = document[drawing.number - 1]
            try:
                width, height = page.get_size()
                bitmap = page.render(
                    scale=fitted(drawing.scale, width, height),
                    rotation=drawing.rotate,
                    rev_byteorder=True,  # RGB, as Pillow takes it
                )
                try:
                    image: Image.Image = bitmap.to_pil().copy()  # its own memory
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            document.close()
    return image


def _image_page(data: bytes, drawing: Drawing) -> Image.Image:
    with Image.open(io.BytesIO(data)) as source:
        source.seek(drawing.number - 1)
        points = size_in_points(source)
        scale = fitted(drawing.scale, *points)
        size = (max(1, round(points[0] * scale)), max(1, round(points[1] * scale)))
        mode = "L" if source.mode in ("1", "L", "I", "I;16") else "RGB"
        if source.format == "JPEG":
            source.draft(mode, size)  # decoded at a reduced size straight away
        image = source.convert(mode) if source.mode != mode else source.copy()
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if drawing.rotate:
        image = image.transpose(_TRANSPOSE[drawing.rotate])
    return image
