"""Learning for the diffusion policy: the GDM off-policy algorithm and its loss.

Critics: twin ``Q_phi1, Q_phi2`` with Polyak-averaged targets, trained on n-step returns
``y = sum_{k<n} gamma^k r_{t+k} + gamma^n (min_j Q'_j(s', a') - alpha log pi(a'|s'))``, with ``a'``
drawn from the *target* actor (an EMA of the actor, as in Diffusion-QL) and the entropy term present
only in the maximum-entropy mode (Tianshou's ``ActorDualCriticsOffPolicyAlgorithm`` does the n-step
bookkeeping).

Actor: one loss whose three terms are the training modes (any combination; at least one of the
Q-gradient and BC terms):

``L = q_weight * (alpha log pi(a|s) - min_j Q_j(s, a)).mean() / |Q|.mean().detach()
    + bc_weight * L_bc``

1. **Q-gradient through the reverse chain** (GDMOPT, Du et al., IEEE COMST 2024; Diffusion-QL,
   Wang et al., ICLR 2023): ``a`` is sampled by the differentiable chain, so ``dQ/da`` reaches the
   denoiser through every step. Dividing by the detached batch mean of ``|Q|`` (Diffusion-QL's
   normalisation) makes the step size independent of the reward scale, which keeps it stable.
2. **Maximum entropy** (SAC, Haarnoja et al. 2018; DACER, Wang et al., NeurIPS 2024): the actor
   adds a learned Gaussian noise after the chain; ``log pi`` is that step's log density (the
   tractable part of the policy's entropy), and the temperature ``alpha`` is tuned so the entropy
   tracks a target (default ``-dim(A)``), so exploration is not a hand-tuned noise. DACER estimates
   the entropy by fitting a Gaussian mixture to samples instead; the last-step density costs
   nothing and needs no extra sampling. Normalising by ``|Q|`` rescales the whole soft objective by
   a positive constant, so its optimum for a given ``alpha`` is SAC's.
3. **Behaviour cloning on expert actions** (GDMOPT's expert mode): the denoising loss ``L_bc`` on
   the oracle's actions for the stored observations (``info["expert_action"]``, written by
   :class:`~lowcarbon.agents.ExpertActionWrapper` in the same row as the observation it labels);
   rows whose label holds a NaN are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tianshou.algorithm.algorithm_base import TrainingStats
from tianshou.algorithm.modelfree.td3 import ActorDualCriticsOffPolicyAlgorithm
from tianshou.algorithm.optim import OptimizerFactory
from tianshou.data import Batch
from tianshou.data.types import ActStateBatchProtocol, RolloutBatchProtocol
from torch import nn

from ..networks import FusedAdamFactory, LeanUpdateMixin
from .config import GDMConfig
from .policy import GDMPolicy

_DEFAULT = GDMConfig()

EXPERT_KEY = "expert_action"


@dataclass(kw_only=True)
class GDMTrainingStats(TrainingStats):
    """Per-update statistics; Tianshou logs the float fields under ``update/``."""

    actor_loss: float
    critic1_loss: float
    critic2_loss: float
    q_loss: float | None = None
    bc_loss: float | None = None
    q_mean: float | None = None
    alpha: float | None = None
    alpha_loss: float | None = None
    entropy: float | None = None


class Temperature(nn.Module):
    """The entropy temperature ``alpha``, stored as ``log alpha`` so it stays positive."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha), dtype=torch.float32))

    @property
    def value(self) -> float:
        return float(self.log_alpha.detach().exp())


class GDM(LeanUpdateMixin, ActorDualCriticsOffPolicyAlgorithm[GDMPolicy, ActStateBatchProtocol]):
    """Generative-diffusion-model policy optimisation on twin critics (see the module docstring).

    :param policy: the :class:`GDMPolicy` (its actor is trained).
    :param policy_optim: optimiser factory for the actor (denoiser and final noise).
    :param critic, critic2: ``(s, a) -> Q`` networks; ``critic2`` defaults to a copy of ``critic``.
    :param critic_optim, critic2_optim: their optimiser factories.
    :param tau: Polyak rate of all target networks (actor and critics), per update.
    :param gamma: discount factor in [0, 1].
    :param n_step_return_horizon: n of the n-step return.
    :param q_weight: weight of the Q-gradient term (mode 1; Diffusion-QL's eta); 0 disables it.
    :param bc_weight: weight of the behaviour-cloning term on expert actions (mode 3); 0 disables
        it.
    :param alpha: entropy temperature of the maximum-entropy mode (mode 2): ``None`` disables the
        mode; a float is the initial (``auto_alpha``) or fixed temperature. Needs an actor built
        with ``final_noise=True``.
    :param auto_alpha: tune ``alpha`` automatically towards ``target_entropy``.
    :param target_entropy: entropy target in nats; ``None`` means ``-dim(A)`` (SAC's default).
    :param alpha_optim: optimiser factory for ``log alpha`` (Adam at ``GDMConfig.alpha_lr`` by
        default).

    Defaults are :class:`~lowcarbon.agents.gdm.GDMConfig`'s.
    """

    def __init__(
        self,
        *,
        policy: GDMPolicy,
        policy_optim: OptimizerFactory,
        critic: nn.Module,
        critic_optim: OptimizerFactory,
        critic2: nn.Module | None = None,
        critic2_optim: OptimizerFactory | None = None,
        tau: float = _DEFAULT.tau,
        gamma: float = _DEFAULT.gamma,
        n_step_return_horizon: int = _DEFAULT.n_step,
        q_weight: float = _DEFAULT.q_weight,
        bc_weight: float = _DEFAULT.bc_weight,
        alpha: float | None = _DEFAULT.alpha if _DEFAULT.max_entropy else None,
        auto_alpha: bool = _DEFAULT.auto_alpha,
        target_entropy: float | None = _DEFAULT.target_entropy,
        alpha_optim: OptimizerFactory | None = None,
    ) -> None:
        if q_weight < 0 or bc_weight < 0:
            raise ValueError(f"loss weights must be >= 0, got {q_weight=}, {bc_weight=}")
        if q_weight == 0 and bc_weight == 0:
            raise ValueError("enable at least one of the Q-gradient (q_weight) and BC (bc_weight)")
        if alpha is not None:
            if policy.actor.log_sigma is None:
                raise ValueError(
                    "the maximum-entropy mode (alpha set) needs DiffusionActor(final_noise=True)"
                )
            if q_weight == 0:
                raise ValueError(
                    "the maximum-entropy mode works on the Q-gradient: set q_weight > 0, or "
                    "turn it off for pure behaviour cloning (GDMConfig(max_entropy=False))"
                )
            if alpha <= 0:
                raise ValueError(f"alpha must be > 0, got {alpha}")
        if not (
            isinstance(n_step_return_horizon, int | np.integer)
            and not isinstance(n_step_return_horizon, bool)
            and n_step_return_horizon >= 1
        ):
            raise ValueError(
                f"n_step_return_horizon must be an int >= 1, got {n_step_return_horizon}"
            )
        super().__init__(
            policy=policy,
            policy_optim=policy_optim,
            critic=critic,
            critic_optim=critic_optim,
            critic2=critic2,
            critic2_optim=critic2_optim,
            tau=tau,
            gamma=gamma,
            n_step_return_horizon=n_step_return_horizon,
        )
        self.actor_old = self._add_lagged_network(self.policy.actor)
        self.q_weight = float(q_weight)
        self.bc_weight = float(bc_weight)
        self.max_entropy = alpha is not None
        self.temperature = Temperature(alpha) if alpha is not None else None
        self.auto_alpha = bool(auto_alpha) and self.temperature is not None
        self.target_entropy = (
            float(target_entropy) if target_entropy is not None else -float(policy.actor.act_dim)
        )
        self.alpha_optim = (
            self._create_optimizer(
                self.temperature, alpha_optim or FusedAdamFactory(lr=_DEFAULT.alpha_lr)
            )
            if self.auto_alpha
            else None
        )
        policy.set_q_ranker(self._min_q)  # held weakly by the policy: no reference cycle
        self._lean_setup()

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.policy.set_q_ranker(self._min_q)  # a copy ranks with its own critics

    @property
    def alpha(self) -> float:
        """Current entropy temperature (0 when the maximum-entropy mode is off)."""
        return self.temperature.value if self.temperature is not None else 0.0

    def _min_q(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return torch.min(self.critic(obs, act), self.critic2(obs, act)).flatten()

    def _target_q_compute_action(self, obs_batch: Batch) -> ActStateBatchProtocol:
        return self.policy(obs_batch, model=self.actor_old)

    def _target_q_compute_value(
        self, obs_batch: Batch, act_batch: ActStateBatchProtocol
    ) -> torch.Tensor:
        min_q = super()._target_q_compute_value(obs_batch, act_batch)
        if self.max_entropy:
            # view_as: a critic returning (B,) instead of (B, 1) must not broadcast to (B, B)
            min_q = min_q - self.alpha * act_batch.log_prob.view_as(min_q)
        return min_q

    def _expert_targets(self, batch: RolloutBatchProtocol) -> tuple[torch.Tensor, torch.Tensor]:
        """Observations and their expert labels mapped to ``[-1, 1]`` (rows with NaN dropped)."""
        info = batch.info
        if EXPERT_KEY not in info:
            raise KeyError(
                f"bc_weight > 0 needs info[{EXPERT_KEY!r}] from the env; wrap it in"
                " lowcarbon.agents.ExpertActionWrapper"
            )
        expert = np.asarray(info[EXPERT_KEY], dtype=np.float64).reshape(len(batch), -1)
        keep = np.isfinite(expert).all(axis=1)
        expert = np.clip(self.policy.map_action_inverse(expert[keep]), -1.0, 1.0)
        obs = self.policy.obs_tensor(batch.obs[keep])
        return obs, torch.as_tensor(expert, dtype=torch.float32, device=obs.device)

    def _update_with_batch(self, batch: RolloutBatchProtocol) -> GDMTrainingStats:
        td1, critic1_loss = self._minimize_critic_squared_loss(
            batch, self.critic, self.critic_optim
        )
        td2, critic2_loss = self._minimize_critic_squared_loss(
            batch, self.critic2, self.critic2_optim
        )
        batch.weight = (td1 + td2) / 2.0  # for prioritised replay

        stats: dict[str, Any] = {}
        actor_loss = torch.zeros((), device=td1.device)
        log_prob = None
        if self.q_weight > 0:
            obs = self.policy.obs_tensor(batch.obs)
            out = self.policy.sample(obs)
            q = self._min_q(obs, out.act)
            objective = q
            if self.max_entropy:
                log_prob = out.log_prob.flatten()
                objective = q - self.alpha * log_prob
            # Diffusion-QL's normalisation; it sets the balance against the BC term (Adam makes
            # the step size itself nearly scale-free), and the floor only guards Q == 0 exactly
            q_loss = -objective.mean() / q.abs().mean().detach().clamp_min(1e-8)
            actor_loss = actor_loss + self.q_weight * q_loss
            stats.update(q_loss=q_loss.item(), q_mean=q.mean().item())
        if self.bc_weight > 0:
            obs_bc, expert = self._expert_targets(batch)
            if len(expert):
                bc_loss = self.policy.actor.bc_loss(obs_bc, expert)
                actor_loss = actor_loss + self.bc_weight * bc_loss
                stats["bc_loss"] = bc_loss.item()
        if actor_loss.requires_grad:  # BC alone on a batch without any label has nothing to do
            self.policy_optim.step(actor_loss)

        if log_prob is not None:
            entropy = -log_prob.detach()
            stats["entropy"] = entropy.mean().item()
            if self.alpha_optim is not None:
                log_alpha = self.temperature.log_alpha
                alpha_loss = -(log_alpha * (self.target_entropy - entropy)).mean()
                self.alpha_optim.step(alpha_loss)
                stats["alpha_loss"] = alpha_loss.item()
            stats["alpha"] = self.alpha

        self._update_lagged_network_weights()
        return GDMTrainingStats(
            actor_loss=actor_loss.item(),
            critic1_loss=critic1_loss.item(),
            critic2_loss=critic2_loss.item(),
            **stats,
        )

    # --- checkpoints ---
    def save(self, path: str | Path, **extra: Any) -> None:
        """Write actor, critics, target networks, optimiser states and temperature to ``path``
        (``torch.save``); ``extra`` items (e.g. the step count) are stored beside them."""
        torch.save(
            {"algorithm": self.state_dict(), "actor": self.policy.actor.signature(),
             "extra": extra},
            Path(path),
        )  # fmt: skip

    def load(self, path: str | Path) -> dict[str, Any]:
        """Restore a checkpoint written by :meth:`save` into this (identically configured)
        algorithm; returns the ``extra`` items. Loads tensors and plain containers only
        (``weights_only=True``), so a checkpoint cannot run code."""
        device = next(self.parameters()).device
        ckpt = torch.load(Path(path), map_location=device, weights_only=True)
        saved, own = ckpt.get("actor"), self.policy.actor.signature()
        if saved is not None:  # (checkpoints of earlier versions lack it)
            differ = [
                f"{len(saved['betas'])} steps, not {len(own['betas'])}"
                if len(saved["betas"]) != len(own["betas"])
                else "another beta schedule"
                if not np.allclose(saved["betas"], own["betas"], rtol=1e-6, atol=0.0)
                else "",
                f"activation {saved['activation']}, not {own['activation']}"
                if saved["activation"] != own["activation"]
                else "",
            ]
            if any(differ):
                raise ValueError(
                    f"{path} was saved by a GDM with {'; '.join(d for d in differ if d)}: "
                    "its weights would compute another chain"
                )
        try:
            self.load_state_dict(ckpt["algorithm"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ValueError(
                f"{path} does not fit this GDM: build it with the configuration it was saved"
                f" with (steps, hidden sizes, modes). {err}"
            ) from err
        return ckpt["extra"]
