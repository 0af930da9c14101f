"""The ONNX coverage table, generated from the registry: which ops lower, at which opsets, and
through which ONNX ops.

    python -m ember.onnx.coverage            # Markdown table
    python -m ember.onnx.coverage --missing  # only the ops without a lowering
"""
from __future__ import annotations

import argparse
import sys

from .._ops.registry import REGISTRY
from .lowering import OPSETS, attach_all, lowering_of

# Ops that only compute gradients: never part of an exported inference graph.
TRAINING_ONLY = "backward pass only"


def _family(opdef) -> str:
    return opdef.__module__.rsplit(".", 1)[-1]


def _is_training_only(name: str) -> bool:
    return name.endswith("_backward") or name == "conv_weight_grad"


def rows() -> list[dict]:
    """One row per registry op: name, family, lowers (bool), opsets, via, note."""
    attach_all()
    out = []
    for name in sorted(REGISTRY):
        opdef = REGISTRY[name]
        low = lowering_of(opdef)
        row = {"op": name, "family": _family(opdef), "lowers": low is not None,
               "opsets": None, "via": "", "note": ""}
        if low is not None:
            row["opsets"] = low.opsets
            row["via"] = low.via
        elif _is_training_only(name):
            row["note"] = TRAINING_ONLY
        else:
            row["note"] = "no ONNX operator or decomposition"
        out.append(row)
    return out


def table(missing_only: bool = False) -> str:
    """The coverage table as Markdown, with a summary line."""
    opsets = range(OPSETS[0], OPSETS[1] + 1)
    head = "| op | family | " + " | ".join(str(v) for v in opsets) + " | lowered via / note |"
    lines = [head, "|" + "---|" * (len(opsets) + 3)]
    all_rows = rows()
    for row in all_rows:
        if missing_only and row["lowers"]:
            continue
        if row["lowers"]:
            lo, hi = row["opsets"]
            marks = ["yes" if lo <= v <= hi else "-" for v in opsets]
            note = row["via"]
        else:
            marks = ["-"] * len(opsets)
            note = row["note"]
        lines.append(f"| {row['op']} | {row['family']} | " + " | ".join(marks) + f" | {note} |")
    exportable = [r for r in all_rows if not _is_training_only(r["op"])]
    done = sum(r["lowers"] for r in exportable)
    lines.append("")
    lines.append(f"{done} of {len(exportable)} inference ops lower to ONNX "
                 f"({len(all_rows) - len(exportable)} backward-only ops are not exported); "
                 f"opsets {OPSETS[0]} to {OPSETS[1]}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ember.onnx.coverage",
                                     description="Which ember ops export to ONNX.")
    parser.add_argument("--missing", action="store_true", help="list only ops without a lowering")
    args = parser.parse_args(argv)
    sys.stdout.write(table(args.missing) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
