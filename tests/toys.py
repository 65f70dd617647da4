"""Small spaces and evaluators with known optima, shared by the tests (importable by worker processes)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasforge.evaluators import BaseEvaluator, EvalContext
from nasforge.space import InputChoice, LayerChoice, ModelSpace, Repeat, choice, hparam


class ToySpace(ModelSpace):
    """x, y in 0..4 and an op with a nested choice; the optimum is x=3, y=1, op='b', k=2 (score 0)."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.x = choice("x", [0, 1, 2, 3, 4])
        self.y = choice("y", [0, 1, 2, 3, 4])
        self.op = LayerChoice(
            {
                "a": lambda: nn.Linear(width, width),
                "b": lambda: nn.Sequential(nn.Linear(width, width), nn.ReLU()),
            },
            label="op",
        )
        self.k = 0
        self.extra = LayerChoice({"none": nn.Identity, "k": lambda: _KModule(choice("k", [0, 1, 2]))}, label="extra")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extra(self.op(x))


class _KModule(nn.Module):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.k


def toy_score(arch: Mapping[str, Any]) -> float:
    score = -((arch["x"] - 3) ** 2) - (arch["y"] - 1) ** 2
    score -= 0 if arch["op"] == "b" else 1
    score -= 0 if arch["extra"] == "k" and arch.get("k") == 2 else 1
    return float(score)


class ToyEvaluator(BaseEvaluator):
    """Scores an arch without training; optional sleep, and failures for chosen x values."""

    def __init__(self, sleep: float = 0.0, fail_x: tuple[int, ...] = (), nan_x: tuple[int, ...] = ()) -> None:
        self.sleep = sleep
        self.fail_x = fail_x
        self.nan_x = nan_x

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        if self.sleep:
            time.sleep(self.sleep)
        if ctx.arch["x"] in self.fail_x:
            raise RuntimeError(f"boom for x={ctx.arch['x']}")
        score = toy_score(ctx.arch)
        ctx.report(1, {"score": score})
        if ctx.arch["x"] in self.nan_x:
            return {"score": math.nan}
        return {"score": score, "pid": float(os.getpid())}


class CrashEvaluator(BaseEvaluator):
    """Kills its own process for x == 0 (a worker dying mid-trial)."""

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        if ctx.arch["x"] == 0:
            os._exit(17)
        return {"score": toy_score(ctx.arch)}


class SlowEvaluator(BaseEvaluator):
    """Reports its process id (and the GPUs it may see) at step 0, then takes `seconds`; with `block_alarm` it
    ignores the in-process timeout alarm, as a trial stuck in C code would."""

    def __init__(self, seconds: float = 1.0, block_alarm: bool = False) -> None:
        self.seconds = seconds
        self.block_alarm = block_alarm

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        import signal

        gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        seen = {"pid": float(os.getpid()), "gpu": float(gpus) if gpus and gpus.isdigit() else -1.0}
        ctx.report(0, seen)
        if self.block_alarm:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            time.sleep(0.02)
        return {"score": toy_score(ctx.arch), **seen}


class NodeEvaluator(BaseEvaluator):
    """Reports its process id and session id at step 0, then takes `seconds`. On the Ray cluster of
    tests/ray_cluster.py every node is a session of its own, so the session says which node ran the trial."""

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        seen = {"pid": float(os.getpid()), "sid": float(os.getsid(0))}
        ctx.report(0, seen)
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            time.sleep(0.02)
        return {"score": toy_score(ctx.arch), **seen}


class NaNLossSpace(ModelSpace):
    """A network whose output is NaN when `poison` is chosen: training must fail cleanly."""

    def __init__(self, input_shape: Any = (1, 8, 8), num_classes: int = 10) -> None:
        super().__init__()
        hparam("learning_rate", [0.05])
        n = int(math.prod(input_shape))
        self.poison = choice("poison", [False, True])
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(n, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(x)
        return out * float("nan") if self.poison else out


class CellSpace(ModelSpace):
    """Uses every primitive: Repeat over cells with an InputChoice and LayerChoice each."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Linear(4, width)
        self.cells = Repeat(lambda i: _Cell(width), (1, 2, 3), label="cells")
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))


class _Cell(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.a = LayerChoice({"lin": lambda: nn.Linear(width, width), "id": nn.Identity}, label="a")
        self.b = LayerChoice([nn.ReLU(), nn.Tanh()], label="b")
        self.pick = InputChoice(3, 2, label="pick", reduction="mean")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a(x)
        return self.pick([x, a, self.b(a)])
