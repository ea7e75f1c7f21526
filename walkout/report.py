"""The evaluation report: a terminal table, and ``report.md`` with PNG plots.

Drawing and formatting only; every number comes from :mod:`walkout.evaluate`. matplotlib is
imported on first use (it comes with ultralytics) with the non-interactive Agg backend.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from .evaluate import Evaluation
from .io import write_text_atomic

COLUMNS = (("clips", "clips", "{:d}"), ("receipt_precision", "P", "{:.3f}"),
           ("receipt_recall", "R", "{:.3f}"), ("receipt_f1", "F1", "{:.3f}"),
           ("exact_receipt_rate", "exact", "{:.3f}"), ("event_precision", "evP", "{:.3f}"),
           ("event_recall", "evR", "{:.3f}"), ("attribution_accuracy", "attr", "{:.3f}"),
           ("flagged_rate", "flagged", "{:.3f}"), ("hota", "HOTA", "{:.3f}"),
           ("idf1", "IDF1", "{:.3f}"), ("mota", "MOTA", "{:.3f}"))


def score_text(v, fmt: str = "{:.3f}") -> str:
    """A score for a table: ``n/a`` when there was nothing to count (None or NaN)."""
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def table_rows(summary: dict, per_clip: bool = False) -> list[tuple[str, dict]]:
    rows = [(tag, s) for tag, s in summary["per_tag"].items()]
    if per_clip:  # a clip folder may be named like its tag ("pair"): say which row is which
        rows = [(name, s) for name, s in summary["per_clip"].items()] + \
            [(f"tag {tag}", s) for tag, s in rows]
    return [*rows, ("overall", summary)]


def terminal_table(summary: dict, per_clip: bool = False) -> str:
    """A compact fixed-width table: one row per tag (and clip), then the overall row."""
    rows = table_rows(summary, per_clip)
    w = max(8, *(len(n) for n, _ in rows))
    head = f"{'':<{w}} " + " ".join(f"{h:>7}" for _, h, _ in COLUMNS)
    out = [head]
    for name, s in rows:
        out.append(f"{name:<{w}} " + " ".join(f"{score_text(s[k], f):>7}" for k, _, f in COLUMNS))
    return "\n".join(out)


def _md_table(rows: list[tuple[str, dict]], first: str) -> list[str]:
    out = [f"| {first} | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
           "|---" * (len(COLUMNS) + 1) + "|"]
    for name, s in rows:
        out.append(f"| {name} | " + " | ".join(score_text(s[k], f) for k, _, f in COLUMNS) + " |")
    return out


def _items(d: dict) -> str:
    return ", ".join(f"{s} x{q}" for s, q in sorted(d.items())) or "-"


def write_report(ev: Evaluation, out: str | Path, worst: int = 10) -> Path:
    """Write ``out/report.md`` and its plots; returns the report path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = ev.summary()
    md = ["# walkout eval report", "",
          f"{summary['clips']} clip(s). Metric definitions: `walkout/evaluate.py`.", "",
          "## Scores", ""]
    md += _md_table([("overall", summary)], "")
    md += ["", "### Per tag", "", *_md_table(list(summary["per_tag"].items()), "tag")]
    md += ["", "### Per clip", "", *_md_table(list(summary["per_clip"].items()), "clip")]
    md += ["", "![receipt F1 per clip](f1_per_clip.png)", ""]
    _plot_f1(summary, out / "f1_per_clip.png")

    # worst receipts
    diffs = [(r.name, d) for r in ev.results for d in r.diffs if d["errors"]]
    diffs.sort(key=lambda x: (-x[1]["errors"], x[0], str(x[1]["true_shopper"])))
    md += ["## Worst receipts", ""]
    if not diffs:
        md += ["Every receipt is exactly right.", ""]
    else:
        md += ["| clip | true shopper | predicted shopper | missing | extra | "
               "went to another shopper |", "|---|---|---|---|---|---|"]
        for name, d in diffs[:worst]:
            other = "; ".join(f"{s} -> {', '.join(v)}" for s, v in
                              sorted(d["to_other_shopper"].items())) or "-"
            md.append(f"| {name} | {d['true_shopper'] or '(none)'} | "
                      f"{d['pred_shopper'] or '(none)'} | {_items(d['missing'])} | "
                      f"{_items(d['extra'])} | {other} |")
        if len(diffs) > worst:
            md.append(f"\n...and {len(diffs) - worst} more receipt(s) with errors.")
        md.append("")

    # sku confusion
    conf = Counter(c for r in ev.results for c in r.confusions)
    md += ["## Wrong identifications", "",
           "Events on the right shelf, with the right sign and within 1.5 s, but the wrong sku.",
           ""]
    if conf:
        md += ["| true sku | predicted sku | events |", "|---|---|---|"]
        md += [f"| {t} | {p} | {n} |" for (t, p), n in sorted(conf.items(),
                                                              key=lambda x: (-x[1], x[0]))]
    else:
        md.append("None.")
    md.append("")
    unknown = sorted({(r.name, s) for r in ev.results for s in r.unknown_skus})
    if unknown:
        md += ["## Unknown skus in predictions", "",
               "Not in the clip's catalogue; counted as false positives.", ""]
        md += [f"- {name}: `{s}`" for name, s in unknown] + [""]

    # timelines
    md += ["## Event timelines", "",
           "True events (filled) and predicted cart events (hollow) by shopper; "
           "picks up, put-backs down.", ""]
    for r in ev.results:
        png = f"timeline_{r.name}.png"
        _plot_timeline(r, out / png)
        md += [f"![{r.name}]({png})", ""]
    path = out / "report.md"
    write_text_atomic(path, "\n".join(md) + "\n")
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_f1(summary: dict, path: Path) -> None:
    plt = _pyplot()
    names = list(summary["per_clip"])
    def bars(key: str) -> list[float]:  # n/a draws no bar
        return [math.nan if summary["per_clip"][n][key] is None else summary["per_clip"][n][key]
                for n in names]

    f1, exact = bars("receipt_f1"), bars("exact_receipt_rate")
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(names) + 2), 3.5))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], f1, 0.4, label="receipt F1", color="#3b7dd8")
    ax.bar([i + 0.2 for i in x], exact, 0.4, label="exact receipts", color="#9cc3f0")
    ax.set_xticks(list(x), names, rotation=45 if len(names) > 6 else 0, ha="right"
                  if len(names) > 6 else "center", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Receipt accuracy per clip")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_timeline(r, path: Path) -> None:
    plt = _pyplot()
    tl = r.timeline
    to_true = {p: t for t, p in tl["shoppers"].items()}
    rows = sorted({e["shopper"] for e in tl["true"]} | set(tl["shoppers"]))
    extra = sorted({e["shopper"] for e in tl["pred"]} - set(to_true))
    labels = [f"shopper {s}" for s in rows] + [f"pred {s} (unmatched)" for s in extra]
    y_of = {("t", s): i for i, s in enumerate(rows)}
    y_of.update({("p", s): len(rows) + i for i, s in enumerate(extra)})
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(labels), 2) + 1.2))
    for e in tl["true"]:
        ax.scatter(e["t"], y_of[("t", e["shopper"])] + 0.1, marker="^" if e["qty"] > 0 else "v",
                   color="#2a9d4b" if e["qty"] > 0 else "#d9822b", s=40)
    for e in tl["pred"]:
        s = to_true.get(e["shopper"])
        y = y_of[("t", s)] - 0.1 if s is not None else y_of[("p", e["shopper"])]
        ax.scatter(e["t"], y, marker="^" if e["qty"] > 0 else "v", facecolors="none",
                   edgecolors="#2a9d4b" if e["qty"] > 0 else "#d9822b", s=40)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{r.name}: true (filled) vs predicted (hollow) events")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
