"""Figures of docs/supernet.md: which decisions of the `cnn` space random-subnet training can share
(`benchmarks/supernet_trainability.py`)."""

from __future__ import annotations

from typing import Any

from figures import figure, latest, provenance, table

#: the groups of decisions drawn at random, as the page names them
GROUPS = {
    "none": "nothing (the largest alone)",
    "entangled": "widths, kernels, depths, stem width, expansion",
    "op": "`op`",
    "residual": "`residual`",
    "downsample": "`downsample`",
    "op+residual": "`op` and `residual`",
    "op+downsample": "`op` and `downsample`",
    "residual+downsample": "`residual` and `downsample`",
    "all": "everything",
}


def trainability(plain: bool = False, steps: int = 150, perturbed: bool | None = None) -> dict[str, Any]:
    """The newest trainability record of this kind: the plain-PyTorch reference or the supernet, at `steps`,
    with or without the one-change part."""

    def fits(r: dict[str, Any]) -> bool:
        c = r["config"]
        kind = bool(c.get("plain")) == plain and c.get("steps") == steps
        return kind and (perturbed is None or (not c.get("skip_perturbed")) == perturbed)

    return latest("supernet", "supernet_trainability", where=fits)


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def spread(accs: list[float]) -> str:
    """`min-max (mean)` in percent, or the one value when they are all equal."""
    lo, hi, mean = min(accs), max(accs), sum(accs) / len(accs)
    if round(100 * lo) == round(100 * hi):
        return pct(mean)
    return f"{100 * lo:.0f}-{100 * hi:.0f} % ({pct(mean)})"


@figure("supernet_trainability_groups")
def supernet_trainability_groups() -> str:
    rec, plain = trainability(perturbed=True), trainability(plain=True)
    runs = {r["group"]: r for r in rec["runs"] if r["part"] == "groups"}
    rows = [[GROUPS[g], f"{r['loss_last50']:.3g}", spread(r["random_acc"])] for g, r in runs.items()]
    ref = {r["group"]: r for r in plain["runs"]}
    alone = [g for g in ("op", "residual", "downsample") if g in ref]
    rows.append(
        [
            "plain: " + " / ".join(f"`{g}`" for g in alone),
            " / ".join(f"{ref[g]['loss_last50']:.2g}" for g in alone),
            " / ".join(pct(sum(ref[g]["random_acc"]) / len(ref[g]["random_acc"])) for g in alone),
        ]
    )
    if "op+residual" in ref:
        r = ref["op+residual"]
        rows.append(["plain: `op` and `residual`", f"{r['loss_last50']:.3g}", spread(r["random_acc"])])
    head = ["drawn at random (the rest as the largest has it)", "training loss, last 50 steps", "random subnets"]
    return f"{table(head, rows)}\n\n{provenance(rec)}\n{provenance(plain)}"


@figure("supernet_trainability_longer")
def supernet_trainability_longer() -> str:
    rec = trainability(steps=600)
    runs = {r["group"]: r for r in rec["runs"]}
    parts = [
        f"{GROUPS[g]} drawn together: loss {runs[g]['loss_last50']:.2f} over the last 50 steps, random subnets "
        f"{spread(runs[g]['random_acc'])}"
        for g in ("op+residual", "all")
        if g in runs
    ]
    return f"With {rec['config']['steps']} steps instead of 150: " + "; ".join(parts) + f". {provenance(rec)}"


@figure("supernet_one_change")
def supernet_one_change() -> str:
    rec = trainability(perturbed=True)
    r = next(r for r in rec["runs"] if r["part"] == "perturbed")
    one = r["one_change_acc"]
    stage = r["stage_width_acc"]
    rows = [
        ["largest / smallest subnet", f"{pct(r['largest_acc'])} / {pct(r['smallest_acc'])}"],
        [f"{len(r['random_acc'])} random subnets", spread(r["random_acc"])],
        [
            "one kernel / depth / `op` / dropout changed",
            " / ".join(spread(one[k]) for k in ("kernel", "blocks", "op", "dropout")),
        ],
        ["one residual turned off", spread(one["residual"])],
        ["one block's width lowered", spread(one["width"])],
        ["one stage's downsampling changed (to a pool)", spread(one["downsample"])],
    ]
    rows += [[f"every block of {k.replace('stage', 'stage ').replace('=', ' at ')}", pct(v)] for k, v in stage.items()]
    rows += [
        ["random subnets, batch norms recalibrated on 1 batch", spread(r["random_acc_calib_1_batch"])],
        ["random subnets, recalibrated on the whole training split", spread(r["random_acc_calib_whole_train"])],
    ]
    return f"{table(['', 'accuracy through the supernet'], rows)}\n\n{provenance(rec)}"
