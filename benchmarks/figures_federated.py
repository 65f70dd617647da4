"""Figures of federated search (docs/federated.md): the preset as a user runs it (`federated_preset.py`), a
trial's speed with and without a kept simulation (`federated_trial_speed.py`) and the search against the
central one and a fixed model (`federated.py`)."""

from __future__ import annotations

import statistics

from federated_tables import markdown
from figures import figure, latest


@figure("federated_preset")
def federated_preset() -> str:
    rec = latest("federated", "federated_preset_2core")
    runs = [r for r in rec["runs"] if r.get("test_acc") is not None]
    if not runs:
        raise SystemExit("the newest federated_preset_2core record has no finished run")
    acc = [100 * r["test_acc"] for r in runs]
    trials = [r["trials"] for r in runs]
    per_trial = [t for r in runs for t in r["per_trial"] if t.get("rounds")]
    mb = [t["comm_bytes"] / 1e6 for t in per_trial]
    trial_s = [t["train_time"] for t in per_trial]
    split = " + ".join(
        f"{statistics.mean(r[key] for r in runs):.0f} s {what}"
        for key, what in (("search_s", "search"), ("retrain_s", "retrain"))
    )
    return (
        f"record `{rec['_file']}` (commit {rec['commit'][:7]}, `{rec['command']}`, two cores): "
        f"{len(runs)} run(s), the whole job {statistics.mean(r['wall_s'] for r in runs):.0f} s of wall time "
        f"(budget 840 s; {split}); {statistics.mean(trials):.1f} trials per search, each "
        f"{statistics.mean(trial_s):.0f} s and {statistics.mean(mb):.1f} MB exchanged on average; test accuracy "
        f"on the 18 held-out voices {', '.join(f'{a:.2f}' for a in acc)} % (mean {statistics.mean(acc):.2f} %)"
    )


@figure("federated_trial_speed")
def federated_trial_speed() -> str:
    rec = latest("federated", "federated_trial_speed_1core")
    s = rec["summary"]
    rows = []
    for mode, label in (("per_trial", "a simulation per trial (before)"), ("kept", "kept (now)")):
        m = s[mode]
        rows.append(
            f"| {label} | {m['mean_trial_s_after_first']:.1f} s | {m['mean_first_round_s_after_first']:.1f} s | "
            f"{m['mean_later_round_s']:.1f} s | {m['mean_trial_s']:.1f} s |"
        )
    return "\n".join(
        [
            f"Record `{rec['_file']}` (commit {rec['commit'][:7]}): `{rec['command']}`.",
            "",
            "| simulation | a trial after the first | its first round | a later round | mean trial, the first included |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


@figure("federated_benchmark")
def federated_benchmark() -> str:
    rec = latest("federated", "federated_1core")
    cfg = rec["config"]
    lead = (
        f"Record `{rec['_file']}` (commit {rec['commit'][:7]}, {cfg['cores']} core): `{rec['command']}`; "
        f"searches of {cfg['search_time']:.0f} s, {cfg['rounds']} rounds per federated trial, "
        f"{cfg['final_rounds']} rounds for the final models."
    )
    return lead + "\n\n" + markdown(rec)
