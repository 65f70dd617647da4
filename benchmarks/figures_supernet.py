"""Figures of docs/supernet.md: which decisions of the `cnn` space random-subnet training can share
(`benchmarks/supernet_trainability.py`)."""

from __future__ import annotations

from typing import Any

from figures import figure, latest, provenance, record, table

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


# --- ranking: supernet accuracy against stand-alone training (`benchmarks/supernet_ranking.py`) ---------------
def named(file: str) -> dict[str, Any]:
    """A ranking record by its file name under records/supernet/, ready for `provenance`."""
    return {**record(f"supernet/{file}"), "_file": file, "_area": "supernet"}


def span(values: list[float]) -> str:
    """`lo-hi %` in whole percent."""
    return f"{100 * min(values):.0f}-{100 * max(values):.0f} %"


def params_tau(run: dict[str, Any]) -> float:
    """Kendall's tau between a run's subnets' parameter counts and their stand-alone accuracy: what counting
    parameters ranks, for scale."""
    from scipy.stats import kendalltau

    subnets = run["subnets"]
    return float(kendalltau([s["params"] for s in subnets], [s["standalone_acc"] for s in subnets]).statistic)


def ranking_row(label: str, files: list[str], loss: bool = True, note: str = "") -> tuple[list[str], list[dict]]:
    """One setting's row: its records (one per seed, or one with several), the Kendall tau's mean over every
    seed (each seed's in brackets), the subnets' accuracy through the supernet and alone, and the students'
    loss in the last supernet epoch (per seed), and the tau of the parameter counts (per seed); and the
    records read."""
    recs = [named(f) for f in files]
    runs = [run for rec in recs for run in rec["runs"]]
    taus = [run["kendall_tau"] for run in runs]
    tau = f"{sum(taus) / len(taus):.2f}" + (f" ({', '.join(f'{t:.2f}' for t in taus)})" if len(taus) > 1 else "")
    subnets = [s for run in runs for s in run["subnets"]]
    names = ", ".join(f"`{f.removeprefix('supernet_ranking-')}`" for f in files)
    row = [label, names, tau, span([s["supernet_acc"] for s in subnets]), span([s["standalone_acc"] for s in subnets])]
    if loss:
        last = [run["history"][-1]["student_loss"] for run in runs]
        row.append(", ".join(f"{x:.2f}" if x >= 0.1 else f"{x:.3f}" for x in last) + note)
    row.append(", ".join(f"{params_tau(run):.2f}" for run in runs))
    return row, recs


def ranking_table(first: str, rows: list[tuple[str, list[str]]], loss: bool = True, notes: dict | None = None) -> str:
    """A table of ranking settings, each record's provenance below it."""
    built = [ranking_row(label, files, loss, (notes or {}).get(label, "")) for label, files in rows]
    head = [first, "records (`records/supernet/supernet_ranking-…`)", "Kendall tau, mean (per seed)"]
    head += ["subnets' supernet accuracy", "stand-alone accuracy"] + (["student loss, last epoch"] if loss else [])
    head.append("parameter count's tau (per seed)")
    recs = {r["_file"]: r for _, rs in built for r in rs}  # each record once, in the table's order
    return table(head, [row for row, _ in built]) + "\n\n" + "\n".join(provenance(r) for r in recs.values())


@figure("supernet_ranking_epochs")
def supernet_ranking_epochs() -> str:
    return ranking_table(
        "supernet epochs",
        [
            ("15", ["supernet_ranking-20261207T054429-97fe458105e7.json"]),
            ("40", ["supernet_ranking-20261207T062734-dd8a67edcc6f.json"]),
        ],
        loss=False,
    )


@figure("supernet_ranking_pinned_op")
def supernet_ranking_pinned_op() -> str:
    return ranking_table(
        "pinned",
        [
            (
                "nothing",
                [
                    "supernet_ranking-20261207T123058-35f189fff5c0-2.json",
                    "supernet_ranking-20261207T124205-67fbbf2ae7c6.json",
                ],
            ),
            (
                "`op=conv`",
                [
                    "supernet_ranking-20261207T123058-35f189fff5c0.json",
                    "supernet_ranking-20261207T124205-67fbbf2ae7c6-2.json",
                ],
            ),
            (
                "nothing, `--progressive-epochs 10`",
                [
                    "supernet_ranking-20261207T151126-5253d9401b84.json",
                    "supernet_ranking-20261207T155711-aa8056fe80d0.json",
                ],
            ),
        ],
    )


@figure("supernet_ranking_shortcut")
def supernet_ranking_shortcut() -> str:
    return ranking_table(
        "setting",
        [
            ("`--shortcut-epochs 15`", ["supernet_ranking-20261207T182823-60a261c750ce.json"]),
            ("`--shortcut-epochs 10 --progressive-epochs 10`", ["supernet_ranking-20261207T183222-60a261c750ce.json"]),
            ("`--fix residual=true` (seed 0 only)", ["supernet_ranking-20261207T183537-6aaade6abf22.json"]),
            ("`--no-distill` (students on the labels)", ["supernet_ranking-20261207T185246-b6f5c03fb29c.json"]),
        ],
        notes={"`--no-distill` (students on the labels)": " (cross-entropy)"},
    )


@figure("supernet_ranking_fashion_and_pins")
def supernet_ranking_fashion_and_pins() -> str:
    return ranking_table(
        "dataset, setting",
        [
            (
                "Fashion-MNIST subset, `--shortcut-epochs 10 --progressive-epochs 10`",
                [
                    "supernet_ranking-20261207T183938-6aaade6abf22.json",
                    "supernet_ranking-20261207T185954-de8fed998162.json",
                ],
            ),
            ("Fashion-MNIST subset, default OFA (seed 0)", ["supernet_ranking-20261207T185533-c4ad91513406.json"]),
            (
                "digits, `--fix residual=true --fix downsample=conv` (seed 0)",
                ["supernet_ranking-20261207T214421-d98bcb850dc5.json"],
            ),
            (
                "Fashion-MNIST subset, `--fix residual=true --fix downsample=conv` (seed 0)",
                ["supernet_ranking-20261207T214843-49f8d66f3175.json"],
            ),
        ],
    )
