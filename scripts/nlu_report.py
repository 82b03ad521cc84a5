"""Print per-intent F1 from Rasa's intent report and fail below a floor (a regression gate)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", type=Path)
    parser.add_argument("--min-weighted-f1", type=float, default=0.0)
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    print(f"{'intent':<22}{'F1':>7}{'support':>9}")
    for intent, scores in sorted(report.items()):
        if isinstance(scores, dict) and "support" in scores and intent not in {"macro avg", "weighted avg", "micro avg"}:
            print(f"{intent:<22}{scores['f1-score']:>7.3f}{scores['support']:>9}")
    weighted = report["weighted avg"]["f1-score"]
    print(f"{'weighted avg':<22}{weighted:>7.3f}{report['weighted avg']['support']:>9}")
    print(f"{'macro avg':<22}{report['macro avg']['f1-score']:>7.3f}")
    if weighted < args.min_weighted_f1:
        print(f"weighted F1 {weighted:.3f} is below the floor {args.min_weighted_f1:.2f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
