#!/usr/bin/env python3
"""One SVG of the runs tools/normalization_free_study.sh made in OUT_DIR: validation accuracy after
every epoch, one line per model (colour: plain / bn / fixup / fixup + AGC) and depth (dash: 8, 32,
128 blocks). Runs that diverged have no report and no line (the legend says so).
Usage: normalization_free_plot.py OUT_DIR SVG [TITLE]   (no plotting library needed)"""
import glob
import json
import os
import sys

COLOURS = {"plain": "#7f7f7f", "bn": "#1f77b4", "fixup": "#d62728", "fixup-agc": "#2ca02c"}
LABELS = {"plain": "plain", "bn": "BN", "fixup": "Fixup", "fixup-agc": "Fixup + AGC"}
DASHES = {8: "", 32: "6,3", 128: "2,3"}
W, H, LEFT, RIGHT, TOP, BOTTOM = 760, 440, 60, 240, 40, 50


def main(out, svg_path, title="Validation accuracy per epoch"):
    runs = {}
    for path in glob.glob(os.path.join(out, "*.log")):
        name = os.path.basename(path)[:-4]
        variant, blocks = name.rsplit("-", 1)
        report = os.path.join(out, name + ".json")
        runs[(variant, int(blocks))] = json.load(open(report))["history"]["val_accuracy"] if os.path.exists(report) else None
    curves = {k: v for k, v in runs.items() if v}
    epochs = max(len(v) for v in curves.values())
    lo = min(min(v) for v in curves.values())
    lo = max(0.0, int(lo * 20) / 20)
    hi = min(1.0, int(max(max(v) for v in curves.values()) * 20 + 1) / 20)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    x = lambda e: LEFT + pw * (e - 1) / max(1, epochs - 1)
    y = lambda a: TOP + ph * (hi - a) / (hi - lo)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{LEFT}" y="22" font-size="14">{title}</text>',
             f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>']
    for e in range(1, epochs + 1):
        parts.append(f'<text x="{x(e):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{e}</text>')
    parts.append(f'<text x="{LEFT + pw / 2}" y="{H - 12}" text-anchor="middle">epoch</text>')
    steps = round((hi - lo) / 0.05)
    for i in range(steps + 1):
        a = lo + 0.05 * i
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(a):.1f}" y2="{y(a):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(a) + 4:.1f}" text-anchor="end">{a:.2f}</text>')
    legend_y = TOP
    for variant in COLOURS:
        for blocks in DASHES:
            if (variant, blocks) not in runs:
                continue
            label = f"{LABELS[variant]}, {blocks} blocks"
            values = runs[(variant, blocks)]
            style = f'stroke="{COLOURS[variant]}" stroke-width="2" fill="none"' + (
                f' stroke-dasharray="{DASHES[blocks]}"' if DASHES[blocks] else "")
            if values:
                points = " ".join(f"{x(e + 1):.1f},{y(v):.1f}" for e, v in enumerate(values))
                parts.append(f'<polyline points="{points}" {style}/>')
            else:
                label += " (diverged)"
            lx = W - RIGHT + 12
            parts.append(f'<line x1="{lx}" x2="{lx + 28}" y1="{legend_y}" y2="{legend_y}" {style}/>')
            parts.append(f'<text x="{lx + 34}" y="{legend_y + 4}">{label}</text>')
            legend_y += 18
    parts.append("</svg>")
    open(svg_path, "w").write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
