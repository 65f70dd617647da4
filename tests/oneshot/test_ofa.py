"""OFA: sandwich training of a weight-entangled supernet, a search that keeps to its budget, exact resume,
and the method from a config on the main job's `cnn` space with nothing pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nasforge.config import build_experiment, load_preset
from nasforge.cost.flops import count_flops, count_params
from nasforge.data import ArrayData
from nasforge.errors import ConfigError, StorageError
from nasforge.oneshot import OFA, OneShotStrategy
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.oneshot.ofa import sample_near, subnet_accuracy
from nasforge.strategies import STRATEGIES
from nasforge.trial import TrialState
from nasforge.zoo.cnn import SmallImageCNN

SMALL: dict[str, Any] = {"epochs": 2, "batch_size": 8, "population": 4, "generations": 2, "device": "cpu"}


def tiny() -> tuple[SmallImageCNN, ArrayData]:
    gen = torch.Generator().manual_seed(0)
    data = ArrayData(torch.randn(32, 1, 8, 8, generator=gen), torch.randint(0, 10, (32,), generator=gen))
    space = SmallImageCNN(input_shape=(1, 8, 8), depths=(1, 2), widths=((4, 8), (8, 12)), stem_widths=(4, 8))
    return space, data


def test_sandwich_training_moves_the_shared_weights_and_reports_both_losses() -> None:
    torch.set_num_threads(1)
    space, data = tiny()
    method = OFA(**SMALL)
    start = {k: v.clone() for k, v in method.supernet(space).state_dict().items()}
    result = method.search(space, data, data)
    assert result is not None and len(result.history) == 2
    assert all(h["train_loss"] > 0 and h["student_loss"] > 0 for h in result.history)
    assert result.pinned == {"learning_rate": 0.05, "batch_size": 128, "weight_decay": 5e-4}
    assert result.info["derive_evaluated"] >= 4 and 0 <= result.info["derive_best_supernet_acc"] <= 1
    assert set(result.arch) == set(space.validate(result.arch)) and start  # a valid arch of the space


@pytest.mark.parametrize("budget", ["max_subnet_params", "max_subnet_flops"])
def test_the_found_subnet_keeps_to_the_budget(budget: str) -> None:
    torch.set_num_threads(1)
    space, data = tiny()
    nets = [space.freeze(space.random(i)) for i in range(12)]
    costs = sorted(count_params(n) if budget == "max_subnet_params" else count_flops(n, (1, 8, 8)) for n in nets)
    limit = costs[3]  # most random subnets are over it
    options: dict[str, Any] = {**SMALL, "epochs": 1, budget: limit}
    result = OFA(**options).search(space, data, data)
    assert result is not None
    found = space.freeze(result.arch)
    assert (count_params(found) if budget == "max_subnet_params" else count_flops(found, (1, 8, 8))) <= limit
    assert result.info["derive_params"] == count_params(found)


def test_a_budget_below_the_smallest_subnet_is_a_clear_error_before_training() -> None:
    space, data = tiny()
    with pytest.raises(ConfigError, match=r"No subnet fits the budget of OFA \(max_subnet_params=10.*smallest has \d+"):
        OFA(**SMALL, max_subnet_params=10).search(space, data, data)
    with pytest.raises(ConfigError, match="`max_subnet_flops` of OFA must be an int >= 1"):
        OFA(max_subnet_flops=0)
    with pytest.raises(ConfigError, match="`distill` of OFA must be true or false"):
        OFA(distill="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("extra", [{"kernel_transform": True}, {"progressive_epochs": 2}])
def test_a_stopped_search_resumes_to_the_same_result(tmp_path: Path, extra: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    space, data = tiny()
    options = {**SMALL, **extra}
    whole = OFA(**options).search(space, data, data, checkpoint=tmp_path / "whole.pt")
    path = tmp_path / "parts.pt"
    assert OFA(**options).search(space, data, data, checkpoint=path, should_stop=lambda: True) is None
    second = OFA(**options).search(space, data, data, checkpoint=path)
    assert whole is not None and second is not None
    assert second.arch == whole.arch and second.info == whole.info
    keep = ("epoch", "train_loss", "student_loss", "spread")
    assert [{k: h[k] for k in keep} for h in second.history] == [{k: h[k] for k in keep} for h in whole.history]
    # the trained supernet is read back for specialising without training again: the same weights both ways
    a, b = (OFA(**options).load_supernet(space, p).state_dict() for p in (tmp_path / "whole.pt", path))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(StorageError, match="Cannot load an OFA supernet of this space"):
        OFA(**options).load_supernet(SmallImageCNN(input_shape=(1, 8, 8), depths=(1,)), path)


def test_progressive_epochs_ramp_the_random_subnets_in_from_the_largest() -> None:
    space, _ = tiny()
    supernet = EntangledSupernet(space, fixed={"stage0/blocks": 2})
    largest = supernet.extreme(largest=True)
    rng = np.random.default_rng(0)
    assert all(sample_near(supernet, largest, 0.0, rng) == largest for _ in range(5))
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert sample_near(supernet, largest, 1.0, a) == supernet.sample(b)  # the uniform draw itself
    differ = [sum(v != largest.get(k) for k, v in sample_near(supernet, largest, 0.3, rng).items()) for _ in range(30)]
    assert 0 < np.mean(differ) < len(largest) / 2
    assert all(sample_near(supernet, largest, 0.5, rng)["stage0/blocks"] == 2 for _ in range(10))  # pins hold
    method = OFA(epochs=4, progressive_epochs=2)
    assert [method.spread(step, 10) for step in (0, 9, 19, 20, 39)] == [0.05, 0.5, 1.0, 1.0, 1.0]
    assert OFA(epochs=4).spread(0, 10) == 1.0
    with pytest.raises(ConfigError, match="`progressive_epochs` of OFA must be at most `epochs` \\(4\\), but got 5"):
        OFA(epochs=4, progressive_epochs=5)
    with pytest.raises(ConfigError, match="`progressive_epochs` of OFA must be an int >= 0"):
        OFA(progressive_epochs=-1)


def test_ofa_is_a_strategy_with_checked_options() -> None:
    strategy = STRATEGIES.create("ofa", epochs=2, max_subnet_params=5000)
    assert isinstance(strategy, OneShotStrategy) and isinstance(strategy.method, OFA)
    with pytest.raises(ConfigError, match="Did you mean 'max_subnet_params'"):
        STRATEGIES.create("ofa", max_param=5000)


@pytest.mark.slow
def test_a_config_searches_the_unpinned_cnn_space_and_the_arch_chooses_its_widths(tmp_path: Path) -> None:
    cfg = load_preset("digits")
    cfg["strategy"] = {"name": "ofa", "epochs": 1, "population": 4, "generations": 2, "eval_size": 200}
    cfg["evaluator"] = {"epochs": 1}
    cfg["storage"] = str(tmp_path / "nas.db")
    exp = build_experiment(cfg)
    exp.run(max_trials=3)
    assert [t.state for t in exp.trials] == [TrialState.COMPLETE]
    assert isinstance(exp.strategy, OneShotStrategy)
    pinned = exp.strategy.result["pinned"]
    assert set(pinned) == {"learning_rate", "batch_size", "weight_decay"}  # every width, kernel, depth searched


def quadrants(n: int, seed: int) -> ArrayData:
    """4 classes: which quadrant of an 8 x 8 image is bright, under noise (learnable in a few steps)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=gen)
    x = torch.randn(n, 1, 8, 8, generator=gen) * 0.5
    for i, label in enumerate(y.tolist()):
        r, c = divmod(label, 2)
        x[i, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 1.5
    return ArrayData(x, y)


def test_a_trained_supernet_scores_its_subnets_as_their_extracted_networks_do(tmp_path: Path) -> None:
    """The scoring path of the ranking benchmark: the largest subnet scores far above chance after a short
    training, and a subnet's recalibrated accuracy through the supernet is that of its extracted network."""
    torch.set_num_threads(1)
    space = SmallImageCNN(
        input_shape=(1, 8, 8), num_classes=4, depths=(1, 2), widths=((4, 8), (8, 12)), stem_widths=(4, 8)
    )
    train, valid = quadrants(256, 0), quadrants(128, 1)
    method = OFA(**{**SMALL, "epochs": 3, "batch_size": 16, "generations": 1})
    method.search(space, train, valid, checkpoint=tmp_path / "supernet.pt")
    supernet = method.load_supernet(space, tmp_path / "supernet.pt")
    calibration = [train.x[i : i + 32] for i in range(0, 128, 32)]
    assert subnet_accuracy(supernet, supernet.extreme(largest=True), calibration, valid) > 0.6  # chance: 0.25
    for seed in range(3):
        arch = supernet.sample(np.random.default_rng(seed))
        stats = supernet.eval().recalibrate(arch, calibration)
        with torch.no_grad():
            alone = float((supernet.extract(arch, stats).eval()(valid.x).argmax(1) == valid.y).float().mean())
        assert subnet_accuracy(supernet, arch, calibration, valid) == pytest.approx(alone)
