"""SPOS on a space of shared sizes: the weight-entangled supernet trained one uniform subnet per step (OFA
without the sandwich rule), searched with recalibrated batch norms, resumed exactly; and from a config on the
main job's `cnn` space with nothing pinned, where the found arch chooses its widths."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nasforge.config import build_experiment, load_preset
from nasforge.errors import ConfigError, SpaceError
from nasforge.oneshot import OFA, SPOS, OneShotStrategy
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.oneshot.supernet import Supernet
from nasforge.trial import TrialState
from tests.oneshot.test_ofa import SMALL, tiny
from tests.oneshot.toys import Separable


def test_spos_shares_widths_kernels_and_depths_where_the_space_has_them() -> None:
    space, _ = tiny()
    assert isinstance(SPOS().supernet(space), EntangledSupernet)
    assert type(SPOS().supernet(Separable())) is Supernet  # layer choices only: the supernet of paths, as before
    assert isinstance(SPOS(shared=True).supernet(Separable()), EntangledSupernet)
    assert type(SPOS(fixed="defaults").supernet(space)) is Supernet  # every size pinned: nothing to share
    with pytest.raises(SpaceError, match="Pin it with"):
        SPOS(shared=False).supernet(space)  # sizes it may not share must be pinned, as before
    with pytest.raises(ConfigError, match=r"`shared` of SPOS .* true, false or 'auto'.* got 'yes'"):
        SPOS(shared="yes")
    with pytest.raises(ConfigError, match="`calib_batches` of SPOS must be an int >= 1"):
        SPOS(calib_batches=0)


def test_spos_on_shared_sizes_trains_one_subnet_per_step_and_resumes_exactly(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    space, data = tiny()
    whole = SPOS(**SMALL).search(space, data, data, checkpoint=tmp_path / "whole.pt")
    path = tmp_path / "parts.pt"
    assert SPOS(**SMALL).search(space, data, data, checkpoint=path, should_stop=lambda: True) is None
    second = SPOS(**SMALL).search(space, data, data, checkpoint=path)
    assert whole is not None and second is not None
    assert second.arch == whole.arch and second.info == whole.info
    assert [h["train_loss"] for h in second.history] == [h["train_loss"] for h in whole.history]
    # no largest subnet teaches: the training loss is the drawn subnet's own, on the labels
    assert all(h["train_loss"] == h["student_loss"] > 0 for h in whole.history)
    assert whole.pinned == {"learning_rate": 0.05, "batch_size": 128, "weight_decay": 5e-4}  # the sizes searched
    assert space.validate(whole.arch) == whole.arch and whole.info["derive_evaluated"] >= 4
    # the same training as OFA without the sandwich rule, one random subnet a step, on the labels
    ofa = OFA(**SMALL, weight_decay=3e-4, sandwich=False, random_subnets=1, distill=False).search(space, data, data)
    assert ofa is not None and [h["train_loss"] for h in ofa.history] == [h["train_loss"] for h in whole.history]
    with pytest.raises(ConfigError, match=r"Without the sandwich rule OFA .* `distill` false"):
        OFA(sandwich=False)


@pytest.mark.slow  # a search and a trial of the digits preset
def test_a_config_runs_spos_on_the_unpinned_cnn_space_and_the_arch_chooses_its_widths(tmp_path: Path) -> None:
    cfg = load_preset("digits")
    cfg["strategy"] = {"name": "spos", "epochs": 1, "population": 4, "generations": 2, "eval_size": 200}
    cfg["evaluator"] = {"epochs": 1}
    cfg["storage"] = str(tmp_path / "nas.db")
    exp = build_experiment(cfg)
    exp.run(max_trials=3)
    assert [t.state for t in exp.trials] == [TrialState.COMPLETE]
    assert isinstance(exp.strategy, OneShotStrategy) and isinstance(exp.strategy.method, SPOS)
    assert set(exp.strategy.result["pinned"]) == {"learning_rate", "batch_size", "weight_decay"}
    widths = {k: v for k, v in exp.trials[0].arch.items() if k.endswith("width")}
    assert widths and set(widths) <= set(exp.space.validate(exp.trials[0].arch))
