"""Charts drawn on the server as inline SVG (pygal): no script, nothing fetched. One style
for the console, and the charts drawn twice where a phone needs its own (CSS shows one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from pygal.style import Style


def style(colours: Sequence[str]) -> Style:
    """The console's chart style, with the series' colours (each at least 3:1 on white)."""
    return Style(
        background="white",
        plot_background="white",
        foreground="#1b1f24",
        foreground_strong="#1b1f24",
        foreground_subtle="#4b5563",
        guide_stroke_color="#d0d7de",
        major_guide_stroke_color="#8c959f",
        colors=tuple(colours),
        font_family="system-ui, sans-serif",
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        title_font_size=16,
        value_font_size=12,
        tooltip_font_size=13,
        opacity=".85",
        stroke_width="2.5",
    )


# A chart drawn twice: for a wide screen, and for a phone (fewer, shorter labels); CSS shows
# one. The legend is the page's own (HTML wraps long names on any screen; pygal's would cut).
SIZES = {"wide": (960, 320), "narrow": (420, 380)}


@dataclass(frozen=True)
class Chart:
    svg: Markup
    legend: list[tuple[str, str, bool]]  # each series: its name, colour, and if dashed


def svg(chart: Any, label: str, size: str | None = None) -> Markup:
    """The chart as inline SVG, named for screen readers (and its size for CSS)."""
    drawn: str = chart.render(is_unicode=True)
    sized = f' data-size="{size}"' if size else ""
    return Markup(  # noqa: S704 - pygal escapes its text; the data are numbers and labels
        drawn.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}"{sized} ', 1)
    )


def options(title: str, size: str, **more: Any) -> dict[str, Any]:
    """pygal's options for one of the SIZES, without its legend or its script."""
    width, height = SIZES[size]
    narrow = size == "narrow"
    return {
        "js": [],  # pygal's tooltips load a script from the internet: none here
        "disable_xml_declaration": True,
        "width": width,
        "height": height,
        "title": title,
        "show_legend": False,
        "truncate_label": 20 if narrow else 44,
        "x_label_rotation": 30 if narrow else 0,
        "margin": 12,
        **more,
    }
