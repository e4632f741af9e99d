"""Documents made for the tests: small PDFs, images and broken or hostile files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

from tandem.documents.content import Limits

LIMITS = Limits(max_bytes=2_000_000, max_pages=50, max_pixels=4_000_000)


def page(number: int, size: tuple[int, int] = (200, 260)) -> Image.Image:
    """A page of a form: white, a frame and its number in large dark blocks."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, size[0] - 10, size[1] - 10), outline="black", width=3)
    draw.text((20, 20), f"Application page {number}", fill="black")
    draw.rectangle((20, 60, 20 + 15 * number, 80), fill="black")  # which page it is, in ink
    return image


def pdf(pages: int = 3, size: tuple[int, int] = (200, 260)) -> bytes:
    """A PDF of `pages` pages, each `size` points (at 72 dots per inch)."""
    images = [page(n, size) for n in range(1, pages + 1)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return out.getvalue()


def image(kind: str = "PNG", size: tuple[int, int] = (200, 260), frames: int = 1) -> bytes:
    out = io.BytesIO()
    images = [page(n, size) for n in range(1, frames + 1)]
    if frames > 1:
        images[0].save(out, kind, save_all=True, append_images=images[1:])
    else:
        images[0].save(out, kind)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG of a few hundred bytes that says it has width x height pixels (its one row of
    data compressed from zeros): decoded, it would take gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    data = zlib.compress(b"\x00" * (1 + width // 8), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )
