"""The Degrade & Measure score chart, drawn with Pillow: one small panel per metric, each with its own
y range, bars labelled with their values and one legend for the columns.

Why not gr.BarPlot: one shared 0..1 axis hides the differences that matter (0.91 vs 0.93 SSIM), PSNR
(in dB) cannot share it at all, and long "metric · model" labels under every bar overlap.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PALETTE = ["#9ca3af", "#4f46e5", "#db2777", "#059669", "#d97706", "#0891b2", "#7c3aed", "#dc2626", "#65a30d"]
PANEL_W, PANEL_H = 340, 260
PER_ROW = 2  # a 390 px phone shows the chart at ~0.55x: two panels per row keep 16-20 px type above 9 px
MARGIN = 14
TOP = 56  # clear of the label gradio draws over an image's top-left corner (also at a phone's ~0.55x)
FONT_PX = {"small": 18, "normal": 20, "bold": 22}


def panel_range(values: list[float]) -> tuple[float, float]:
    """A y range that shows the differences: a little below the lowest value to a little above the highest.

    Bars then start at the bottom of the range, not at zero, so the panel says "zoomed" on its axis.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    spread = high - low
    pad = max(spread * 0.25, abs(high) * 0.01, 1e-3)
    return low - pad, high + pad


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "inf"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.3f}"


def score_chart(summary: dict[str, dict[str, tuple[float, float]]], metrics: list[str], columns: list[str],
                titles: dict[str, str]) -> np.ndarray:
    """summary: metric -> column -> (mean, std), as Evaluation.summary() gives it. Returns an RGB image."""
    metrics = [m for m in metrics if m in summary]
    rows = max(1, math.ceil(len(metrics) / PER_ROW))
    per_row = min(PER_ROW, max(1, len(metrics)))
    legend_h = TOP + 16 + 26 * math.ceil(len(columns) / 2)
    width = per_row * PANEL_W + (per_row + 1) * MARGIN
    height = legend_h + rows * (PANEL_H + MARGIN) + MARGIN
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    small, normal, bold = (_font(FONT_PX[k]) for k in ("small", "normal", "bold"))
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(columns)}

    # Legend: full column names once, so the bars need no labels of their own.
    slot = (width - 2 * MARGIN) // 2
    for i, column in enumerate(columns):
        x = MARGIN + (i % 2) * slot
        y = TOP + MARGIN + (i // 2) * 26
        draw.rectangle([x, y + 3, x + 16, y + 19], fill=colour[column])
        draw.text((x + 22, y), column, fill="#111827", font=normal)

    for k, metric in enumerate(metrics):
        left = MARGIN + (k % per_row) * (PANEL_W + MARGIN)
        top = legend_h + (k // per_row) * (PANEL_H + MARGIN)
        draw.rectangle([left, top, left + PANEL_W, top + PANEL_H], outline="#e5e7eb")
        title = titles.get(metric, metric)
        # a long title ("NIQE (no reference, lower is better)") takes the next smaller type that fits the panel
        font = next((f for f in (bold, normal, small) if draw.textlength(title, font=f) <= PANEL_W - 12), small)
        draw.text((left + 8, top + 6), title, fill="#111827", font=font)
        values = [summary[metric][c][0] for c in columns if c in summary[metric]]
        low, high = panel_range(values)
        plot_top, plot_bottom = top + 56, top + PANEL_H - 28
        axis_left, axis_right = left + 58, left + PANEL_W - 8
        draw.line([axis_left, plot_bottom, axis_right, plot_bottom], fill="#9ca3af")
        draw.text((left + 4, plot_bottom - 9), _fmt(low), fill="#6b7280", font=small)
        draw.text((left + 4, plot_top - 9), _fmt(high), fill="#6b7280", font=small)
        draw.line([axis_left - 3, plot_top, axis_left, plot_top], fill="#9ca3af")
        shown = [c for c in columns if c in summary[metric]]
        if not shown:
            continue
        slot_w = (axis_right - axis_left) / len(shown)
        bar_w = max(6, min(48, slot_w * 0.7))
        for i, column in enumerate(shown):
            value = summary[metric][column][0]
            cx = axis_left + slot_w * (i + 0.5)
            if math.isnan(value):  # not defined for these images (e.g. NIQE on small ones): no bar
                tw = draw.textlength("n/a", font=small)
                draw.text((cx - tw / 2, plot_bottom - 14), "n/a", fill="#6b7280", font=small)
                continue
            clipped = high if not math.isfinite(value) else min(max(value, low), high)
            y = plot_bottom - (clipped - low) / (high - low) * (plot_bottom - plot_top)
            cx = axis_left + slot_w * (i + 0.5)
            draw.rectangle([cx - bar_w / 2, y, cx + bar_w / 2, plot_bottom], fill=colour[column])
            text = _fmt(value)
            tw = draw.textlength(text, font=small)
            lift = 19 if tw < slot_w * 0.95 or i % 2 == 0 else 38  # crowded: every other label one line up
            draw.text((cx - tw / 2, y - lift), text, fill="#111827", font=small)
        draw.text((axis_left, plot_bottom + 4), "axis zoomed to the values", fill="#9ca3af", font=small)
    return np.asarray(img)
