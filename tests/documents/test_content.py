"""A document is told by its content, not its name, refused clearly when it is broken,
oversized or a decompression bomb, and drawn a page at a time at any scale and rotation."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tandem.documents import pages
from tandem.documents.content import JPEG, PDF, PNG, TIFF, Limits, Refused, check, sniff
from tests.documents import samples
from tests.documents.samples import LIMITS


@pytest.mark.parametrize(
    ("data", "media_type", "count"),
    [
        (samples.pdf(3), PDF, 3),
        (samples.image("PNG"), PNG, 1),
        (samples.image("JPEG"), JPEG, 1),
        (samples.image("TIFF", frames=2), TIFF, 2),
    ],
)
def test_each_kind_is_told_by_its_content_with_its_pages(
    data: bytes, media_type: str, count: int
) -> None:
    checked = check(data, LIMITS)
    assert (checked.media_type, checked.pages, checked.size) == (media_type, count, len(data))
    assert (checked.width, checked.height) == (200.0, 260.0)  # points, at 72 dpi
    assert len(checked.sha256) == 64


def test_the_name_does_not_count_a_png_sent_as_a_pdf_is_a_png() -> None:
    assert sniff(samples.image("PNG")) == PNG  # nothing of a name is ever asked
    assert check(samples.image("PNG"), LIMITS).media_type == PNG


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"MZ\x90\x00" + b"\x00" * 200, "not a PDF, TIFF, JPEG or PNG"),  # a program
        (b"%PDF-1.7\n" + b"\x00" * 100 + b"%%EOF", "cannot be read"),  # the magic, nothing else
        (samples.pdf()[:-300], "truncated"),
        (samples.image("JPEG")[:-300], "truncated"),
        (samples.image("PNG")[:-100], "truncated"),
        (samples.image("TIFF", frames=2)[:-500], "truncated"),
        (samples.png_bomb(), "too many pixels"),  # past Pillow's own bound
        (samples.png_bomb(3_000, 3_000), "3000x3000 pixels"),  # past ours, not Pillow's
    ],
)
def test_broken_and_hostile_files_are_refused_saying_why(data: bytes, says: str) -> None:
    with pytest.raises(Refused, match=says):
        check(data, LIMITS)


def test_size_and_page_count_are_bounded() -> None:
    small = Limits(max_bytes=10_000, max_pages=2, max_pixels=LIMITS.max_pixels)
    with pytest.raises(Refused, match="larger than the 10,000 bytes accepted"):
        check(samples.image("PNG") + b"\x00" * 10_000, small)
    roomy = Limits(max_bytes=1_000_000, max_pages=2, max_pixels=LIMITS.max_pixels)
    with pytest.raises(Refused, match="3 pages: at most 2"):
        check(samples.pdf(3), roomy)


def _drawn(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_one_page_is_drawn_at_a_scale_and_rotation() -> None:
    document = samples.pdf(3)
    first = _drawn(pages.draw(document, PDF, pages.Drawing(1, 1.0)))
    assert (first.format, first.size) == ("WEBP", (200, 260))
    third = _drawn(pages.draw(document, PDF, pages.Drawing(3, 2.0, 90, "png")))
    assert (third.format, third.size) == ("PNG", (520, 400))  # twice as large, turned
    # Page 3's bar of ink is 30 points longer than page 1's: the page asked for is drawn.
    first_large = _drawn(pages.draw(document, PDF, pages.Drawing(1, 2.0)))
    assert _ink(third) - _ink(first_large) > 30 * 20 * 4 * 0.8
    tiff = samples.image("TIFF", frames=2)
    second = _drawn(pages.draw(tiff, TIFF, pages.Drawing(2, 0.5, 180)))
    assert second.size == (100, 130)
    jpeg = _drawn(pages.draw(samples.image("JPEG"), JPEG, pages.Drawing(1, 1.5, 270)))
    assert jpeg.size == (390, 300)


def test_a_drawing_never_exceeds_its_pixel_bound() -> None:
    assert pages.fitted(4.0, 14_400, 14_400) * 14_400 <= 4_000  # 16 megapixels at most
    assert pages.fitted(1.5, 612, 792) == 1.5


def _ink(image: Image.Image) -> int:
    return sum(image.convert("L").histogram()[:100])
