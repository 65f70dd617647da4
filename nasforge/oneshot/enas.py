"""ENAS (Pham et al., 2018): a single-path supernet whose paths are drawn by a learnt policy.

Each epoch trains the shared weights on paths drawn from the policy, then updates the policy by REINFORCE
on the supernet's accuracy on validation batches (moving-average baseline, entropy bonus). The policy here
is factorised, one categorical distribution per label held in the supernet's alphas, instead of the
paper's LSTM controller: on spaces whose decisions are shared across cells (NAS-Bench-201) the two
parametrise the same set of distributions up to the correlations between labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.data import ArrayData
from nasforge.oneshot.base import BaseOneShot, SearchContext, check_float, check_int
from nasforge.oneshot.darts import supernet_accuracy
from nasforge.oneshot.supernet import Supernet
from nasforge.space.arch import Value

__all__ = ["ENAS"]


class ENAS(BaseOneShot):
    """Efficient NAS by parameter sharing with a factorised REINFORCE policy."""

    kind = "path"

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        policy_learning_rate: float = 0.05,
        policy_steps: int = 20,
        entropy_weight: float = 1e-3,
        baseline_decay: float = 0.9,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
        device: str = "auto",
        augment: str = "none",
    ) -> None:
        super().__init__(epochs, batch_size, seed, fixed, device, augment)
        owner = type(self).__name__
        self._weight_settings(learning_rate, momentum, weight_decay)
        self.policy_learning_rate = check_float(owner, "policy_learning_rate", policy_learning_rate, strict=True)
        self.policy_steps = check_int(owner, "policy_steps", policy_steps)
        self.entropy_weight = check_float(owner, "entropy_weight", entropy_weight)
        self.baseline_decay = check_float(owner, "baseline_decay", baseline_decay)

    def _sample(self, supernet: Supernet, gen: torch.Generator) -> torch.Tensor:
        """Draw a path from the policy, route the supernet through it; return its log-probability."""
        logp = torch.zeros(())
        for label, alpha in supernet.state.alphas.items():
            probs = F.softmax(alpha, -1)
            i = int(torch.multinomial(probs.detach().cpu(), 1, generator=gen))  # the generator is a CPU one
            supernet.state.path[label] = i
            logp = logp + torch.log(probs[i])
        return logp

    def _init(self, ctx: SearchContext) -> None:
        self._weight_optimizer(ctx)
        ctx.optimizers["policy"] = torch.optim.Adam(ctx.supernet.arch_parameters(), lr=self.policy_learning_rate)
        ctx.extra["baseline"] = None

    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        supernet = ctx.supernet
        p_opt = ctx.optimizers["policy"]
        gen = ctx.generator(epoch, stream=2)  # the policy's draws
        train_it, valid_it = ctx.batches("train", epoch), ctx.batches("valid", epoch)
        supernet.train()
        total = 0.0
        for _ in range(ctx.steps):
            with torch.no_grad():
                self._sample(supernet, gen)
            x, y = next(train_it)
            total += self._weight_step(ctx, F.cross_entropy(supernet(x), y))
        rewards = []
        baseline: float | None = ctx.extra["baseline"]
        for _ in range(self.policy_steps):
            logp = self._sample(supernet, gen)
            xv, yv = next(valid_it)
            reward = supernet_accuracy(supernet, ArrayData(xv, yv))
            baseline = (
                reward if baseline is None else self.baseline_decay * baseline + (1 - self.baseline_decay) * reward
            )
            entropy = sum(torch.distributions.Categorical(logits=a).entropy() for a in supernet.arch_parameters())
            p_loss = -(reward - baseline) * logp - self.entropy_weight * entropy
            p_opt.zero_grad(set_to_none=True)
            p_loss.backward(inputs=supernet.arch_parameters())
            p_opt.step()
            rewards.append(reward)
        ctx.extra["baseline"] = baseline
        return {"train_loss": total / ctx.steps, "mean_reward": float(np.mean(rewards))}
