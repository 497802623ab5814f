"""PSCA ablation summary: CA_t + PSCA_v vs CA_t + CA_v vs no visual cross-attention.

The three runs are trained with equal budgets (same cache, steps, batch, seed, schedule):

    foleystudio train flowley --data runs/fw-train --clip runs/clip-tiny --audio runs/audio-tiny \\
        --out runs/abl-VA --train-clips 800 --steps 2500 --no-mix --visual-attention VA

(VA = psca | plain | none), each EMA is bundled, and each bundle is measured with
``benchmarks/sync.py --model BUNDLE --data runs/fw-train --clips 40 --no-novel --cfg 1
--out benchmarks/results/ablation_VA.json``. This script reads those results and the runs'
logs and writes ``benchmarks/results/ablation.json`` with a table on stdout.

Run ``python benchmarks/ablation.py [--runs DIR]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = ("psca", "plain", "none")


def _last(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return [e for e in events if e.get("event") == name][-1]


def summarise(runs: Path) -> dict[str, Any]:
    """Per variant: training (steps, seconds, final validation flow loss) and the held-out sync
    metrics with their 95 % intervals, from the files named in the module docstring."""
    rows: dict[str, Any] = {}
    machine = None
    for variant in VARIANTS:
        result = json.loads((RESULTS / f"ablation_{variant}.json").read_text())
        machine = result["machine"]
        events = [
            json.loads(line) for line in (runs / f"abl-{variant}" / "log.jsonl").read_text().splitlines()
        ]
        heldout = result["sets"]["heldout"]
        systems, diffs = heldout["systems"], heldout["differences"]
        rows[variant] = {
            "steps": _last(events, "stop")["steps"],
            "train_seconds": _last(events, "stop")["elapsed_seconds"],
            "val_flow": _last(events, "val")["val_flow"],
            "parameters": _last(events, "start")["parameters"],
            "clips": heldout["clips"],
            "onset_f1": systems["generated"]["onset_f1"],
            "aa_align": systems["generated"]["aa_align"],
            "av_align": systems["generated"]["av_align"],
            "shifted_onset_f1": systems["shifted"]["onset_f1"],
            "generated_minus_shifted_onset_f1": diffs["generated-shifted"]["onset_f1"],
            "ssms_top1": result["ssms"]["heldout"]["top1"]["generated"]
            if result["ssms"]["heldout"].get("computed")
            else None,
        }
    return {"benchmark": "psca_ablation", "machine": machine, "variants": rows}


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        "variant  params   val_flow  onset F1 [95% CI]      AA-Align  AV-Align  F1 - shifted [95% CI]   SSMS@1"
    ]
    for name, r in summary["variants"].items():
        f1, diff = r["onset_f1"], r["generated_minus_shifted_onset_f1"]
        lines.append(
            f"{name:<8} {r['parameters']:>7}  {r['val_flow']:.4f}    {f1['mean']:.3f} {f1['ci95']}  "
            f"{r['aa_align']['mean']:.3f}     {r['av_align']['mean']:.3f}     {diff['mean']:+.3f} {diff['ci95']}   "
            f"{r['ssms_top1'] if r['ssms_top1'] is not None else '-'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder holding runs/abl-{psca,plain,none}")
    args = parser.parse_args(argv)
    try:
        summary = summarise(Path(args.runs))
    except (OSError, KeyError, IndexError, ValueError) as exc:
        print(f"ablation summary: error: missing or malformed input: {exc}", file=sys.stderr)
        return 2
    (RESULTS / "ablation.json").write_text(json.dumps(summary, indent=1))
    print(format_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
