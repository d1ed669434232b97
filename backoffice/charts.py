"""Charts drawn on the server as accessible SVG (no script, no CDN), each with the table it
is drawn from and a CSV of the same figures."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 220, 56, 28, 12
# Colour-blind-safe (Okabe-Ito), each with a pattern-free but distinct lightness.
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    columns: list[tuple[str, str]]  # (key, label)
    months: list[str]  # labels, oldest first
    rows: list[list[int]]  # one per month, one value per column
    cell: Callable[[int], str]  # how a value reads in the table
    csv_months: list[str]  # ISO months, for the CSV
    csv_cell: Callable[[int], str] = str

    def svg(self) -> SafeString:
        peak = max((v for row in self.rows for v in row), default=0) or 1
        plot_w = WIDTH - PAD_LEFT - 8
        plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
        group = plot_w / max(len(self.months), 1)
        bar = max(group * 0.8 / max(len(self.columns), 1), 1)
        shapes = []
        for m, (label, row) in enumerate(zip(self.months, self.rows, strict=True)):
            x0 = PAD_LEFT + m * group + group * 0.1
            for c, value in enumerate(row):
                h = plot_h * value / peak
                shapes.append(
                    format_html(
                        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                        "<title>{} — {}: {}</title></rect>",
                        _n(x0 + c * bar),
                        _n(PAD_TOP + plot_h - h),
                        _n(bar),
                        _n(h),
                        COLOURS[c % len(COLOURS)],
                        label,
                        self.columns[c][1],
                        self.cell(value),
                    )
                )
            shapes.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
                    _n(PAD_LEFT + m * group + group / 2),
                    HEIGHT - 10,
                    label,
                )
            )
        axis = format_html(
            '<text x="4" y="{}" font-size="10">{}</text><text x="4" y="{}" font-size="10">0</text>'
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#6b7280"/>',
            PAD_TOP + 10,
            self.cell(peak),
            PAD_TOP + plot_h,
            PAD_LEFT,
            PAD_TOP + plot_h,
            WIDTH - 8,
            PAD_TOP + plot_h,
        )
        legend = format_html_join(
            "",
            '<tspan fill="{}">■</tspan> <tspan>{}</tspan>  ',
            ((COLOURS[c % len(COLOURS)], label) for c, (_, label) in enumerate(self.columns)),
        )
        return format_html(
            '<svg role="img" aria-labelledby="chart-{}-title" viewBox="0 0 {} {}" '
            'width="100%" class="metrics-chart" data-width="{}" xmlns="http://www.w3.org/2000/svg">'
            '<title id="chart-{}-title">{}</title>{}{}'
            '<text x="{}" y="10" font-size="10">{}</text></svg>',
            self.slug,
            WIDTH,
            HEIGHT + 4,
            WIDTH,
            self.slug,
            self.title,
            axis,
            SafeString("".join(shapes)),
            PAD_LEFT,
            legend,
        )

    def table_rows(self) -> list[tuple[str, list[str]]]:
        return [
            (label, [self.cell(v) for v in row])
            for label, row in zip(self.months, self.rows, strict=True)
        ]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["month", *(label for _, label in self.columns)])
        for label, row in zip(self.csv_months, self.rows, strict=True):
            writer.writerow([label, *(self.csv_cell(v) for v in row)])
        return out.getvalue()
