#!/usr/bin/env python3
"""Summarises scripts/bench-cli.sh's runs: the median of each client in each case, a Markdown
table (printed), the medians as TSV, and an SVG chart of throughput and CPU per client.

    bench-chart.py RUNS_TSV COUNT RUNS MEDIANS_TSV CHART_SVG

RUNS_TSV lines: cluster, partitions, operation, client, wall s, CPU s, peak RSS KiB.
"""
import statistics
import sys
from html import escape

runs_path, count, runs, medians_path, svg_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
CLIENTS = ["plainkafka", "kcat", "java"]
LABEL = {"plainkafka": "plainkafka", "kcat": "kcat (librdkafka)", "java": "Kafka perf tools (Java)"}
COLOR = {"plainkafka": "#2a7ab0", "kcat": "#e08a1e", "java": "#8a8a8a"}
OPS = {
    "produce-acksall": "produce, acks=all, defaults",
    "produce-acks1": "produce, acks=1, defaults",
    "produce-none": "produce, acks=all, none for all",
    "produce-lz4": "produce, acks=all, lz4 for all",
    "consume": "consume",
}

samples = {}
for line in open(runs_path):
    cluster, parts, op, client, wall, cpu, rss = line.rstrip("\n").split("\t")
    samples.setdefault((cluster, int(parts), op, client), []).append((float(wall), float(cpu), int(rss) / 1024))

median = {k: tuple(statistics.median(s[i] for s in v) for i in range(3)) for k, v in samples.items()}
cases = []
for cluster, parts, op, _ in median:
    if (cluster, parts, op) not in cases:
        cases.append((cluster, parts, op))
cases.sort(key=lambda c: (c[0] != "one broker", list(OPS).index(c[2]) if c[2] in OPS else 9, c[1]))

with open(medians_path, "w") as f:
    f.write("cluster\tpartitions\toperation\tclient\twall_s\tcpu_s\trss_mb\tsamples\n")
    for (cluster, parts, op, client), (w, c, r) in sorted(median.items()):
        f.write(f"{cluster}\t{parts}\t{op}\t{client}\t{w:.3f}\t{c:.2f}\t{r:.1f}\t{len(samples[(cluster, parts, op, client)])}\n")


def cell(case, client):
    m = median.get(case + (client,))
    return f"{m[0]:.2f} · {m[1]:.2f} · {m[2]:.0f}" if m else "—"


def ratios(case):
    p, k = median.get(case + ("plainkafka",)), median.get(case + ("kcat",))
    if not (p and k):
        return "—"
    return f"{k[0] / p[0]:.2f}× · {p[1] / k[1]:.2f}× · {p[2] / k[2]:.2f}×"


print(f"{count:,} records of 100 B; each cell: wall s · CPU s · peak RSS MB, median of {runs} runs;")
print("the last column: plainkafka's rate, CPU and RSS against kcat's.")
print()
print("| cluster | partitions | what | plainkafka | kcat | Java perf tools | vs kcat: rate · CPU · RSS |")
print("|---|---:|---|---:|---:|---:|---:|")
for case in cases:
    cluster, parts, op = case
    print(f"| {cluster} | {parts} | {OPS.get(op, op)} | {cell(case, 'plainkafka')} | {cell(case, 'kcat')} "
          f"| {cell(case, 'java')} | {ratios(case)} |")

# The chart: one row of bars per case and client; throughput on the left, CPU on the right.
bar, gap, label_w, panel_w, top = 9, 12, 330, 330, 64
clients = [c for c in CLIENTS if any(k[3] == c for k in median)]
height = top + len(cases) * (bar * len(clients) + gap) + 20
width = label_w + 2 * panel_w + 60
max_rate = max(count / m[0] for m in median.values())
max_cpu = max(m[1] for m in median.values())
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
       f'font-family="sans-serif" font-size="11">',
       f'<rect width="{width}" height="{height}" fill="white"/>',
       f'<text x="{label_w}" y="18" font-size="13" font-weight="bold">msgs/s (wall clock, process start included)</text>',
       f'<text x="{label_w + panel_w + 30}" y="18" font-size="13" font-weight="bold">CPU seconds</text>']
x = label_w
for c in clients:
    svg.append(f'<rect x="{x}" y="30" width="10" height="10" fill="{COLOR[c]}"/>')
    svg.append(f'<text x="{x + 14}" y="39">{escape(LABEL[c])}</text>')
    x += 40 + 6 * len(LABEL[c])
y = top
for case in cases:
    cluster, parts, op = case
    group_h = bar * len(clients)
    svg.append(f'<text x="{label_w - 8}" y="{y + group_h / 2 + 4}" text-anchor="end">'
               f'{escape(f"{OPS.get(op, op)}, {parts} part., {cluster}")}</text>')
    for i, c in enumerate(clients):
        m = median.get(case + (c,))
        if not m:
            continue
        by = y + i * bar
        rate_w = panel_w * (count / m[0]) / max_rate
        cpu_w = panel_w * m[1] / max_cpu
        svg.append(f'<rect x="{label_w}" y="{by}" width="{rate_w:.1f}" height="{bar - 1}" fill="{COLOR[c]}"/>')
        svg.append(f'<text x="{label_w + rate_w + 3:.1f}" y="{by + bar - 1}" font-size="8">{count / m[0] / 1e3:,.0f}k</text>')
        cx = label_w + panel_w + 30
        svg.append(f'<rect x="{cx}" y="{by}" width="{cpu_w:.1f}" height="{bar - 1}" fill="{COLOR[c]}"/>')
        svg.append(f'<text x="{cx + cpu_w + 3:.1f}" y="{by + bar - 1}" font-size="8">{m[1]:.2f}</text>')
    y += group_h + gap
svg.append("</svg>")
with open(svg_path, "w") as f:
    f.write("\n".join(svg) + "\n")
