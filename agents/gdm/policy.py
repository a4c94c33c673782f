"""Acting with the diffusion actor: a Tianshou 2.x :class:`~tianshou.algorithm.Policy`."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any, Literal, cast

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm.modelfree.ddpg import ContinuousPolicyWithExplorationNoise
from tianshou.data import Batch
from tianshou.data.batch import BatchProtocol
from tianshou.data.types import ActStateBatchProtocol, ObsBatchProtocol
from tianshou.exploration import BaseNoise

from .networks import ActorOutput, DiffusionActor

EvalMode = Literal["deterministic", "stochastic", "best_of_n"]
EVAL_MODES: tuple[str, ...] = ("deterministic", "stochastic", "best_of_n")
QRanker = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GDMPolicy(ContinuousPolicyWithExplorationNoise):
    """Policy whose actions are denoised by a :class:`DiffusionActor`.

    The actor works in ``[-1, 1]^A``; the policy maps its actions affinely onto the env's ``Box``
    (``action_scaling=True``, ``action_bound_method="clip"``).

    Acting never builds an autograd graph: :meth:`forward` samples under ``torch.no_grad()``
    (Tianshou's collector does not disable gradients itself). The algorithm's update calls
    :meth:`sample`, which is differentiable.

    :param actor: the diffusion actor.
    :param action_space: the env's action space (a ``Box``).
    :param observation_space: the env's observation space.
    :param eval_mode: how to act outside a training step: ``"deterministic"`` (noise-free chain
        from ``x_T = 0``), ``"stochastic"`` (as in training) or ``"best_of_n"`` (draw
        ``eval_candidates`` actions per observation, keep the one the critics value most, as in
        Diffusion-QL's evaluation; needs the critics, so build the policy through :class:`GDM`).
    :param eval_candidates: N of best-of-N.
    :param exploration_noise: extra noise added to actions while collecting for training (the
        buffer then stores the noisy action, which may leave ``[-1, 1]``; the env gets it
        clipped); ``None`` by default, since the reverse chain (and the learned final noise of the
        maximum-entropy mode) already explore.
    """

    def __init__(
        self,
        *,
        actor: DiffusionActor,
        action_space: gym.Space,
        observation_space: gym.Space | None = None,
        eval_mode: EvalMode = "deterministic",
        eval_candidates: int = 16,
        exploration_noise: BaseNoise | None = None,
    ) -> None:
        if not isinstance(action_space, gym.spaces.Box):
            raise TypeError(f"GDMPolicy needs a Box action space, got {action_space}")
        if int(np.prod(action_space.shape)) != actor.act_dim:
            raise ValueError(
                f"actor.act_dim={actor.act_dim} does not match action space {action_space.shape}"
            )
        if eval_mode not in EVAL_MODES:
            raise ValueError(f"eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}")
        if eval_candidates < 1:
            raise ValueError(f"eval_candidates must be >= 1, got {eval_candidates}")
        super().__init__(
            exploration_noise=exploration_noise,
            action_space=action_space,
            observation_space=observation_space,
            action_scaling=True,
            action_bound_method="clip",
        )
        self.actor = actor
        self.eval_mode = eval_mode
        self.eval_candidates = int(eval_candidates)
        # a callable, not a module: the policy's optimiser must not see critic parameters
        self._q_ranker: Callable[[], QRanker | None] | None = None

    def set_q_ranker(self, ranker: QRanker | None) -> None:
        """Set the function ``(obs, act) -> Q`` that best-of-N evaluation ranks candidates by.

        A bound method (the algorithm's) is held through a weak reference, so the policy does not
        keep its algorithm alive, nor drag it along when copied or pickled."""
        if inspect.ismethod(ranker):
            self._q_ranker = weakref.WeakMethod(ranker)
        else:
            self._q_ranker = (lambda: ranker) if ranker is not None else None

    def __getstate__(self) -> dict:
        # a copied or pickled policy leaves its ranker behind (GDM re-attaches its own)
        state = dict(super().__getstate__())
        state["_q_ranker"] = None
        return state

    @property
    def q_ranker(self) -> QRanker | None:
        return self._q_ranker() if self._q_ranker is not None else None

    def obs_tensor(self, obs: Any) -> torch.Tensor:
        """Observations as a float32 tensor on the actor's device, flattened to (B, obs_dim)."""
        return torch.as_tensor(obs, dtype=torch.float32, device=self.actor.device).flatten(1)

    def sample(
        self,
        obs: torch.Tensor,
        *,
        deterministic: bool = False,
        model: torch.nn.Module | None = None,
    ) -> ActorOutput:
        """Differentiable actions in ``[-1, 1]`` (and log densities, if any) for ``obs``."""
        actor = self.actor if model is None else model
        return cast(ActorOutput, actor(obs, deterministic=deterministic))

    def _best_of_n(self, obs: torch.Tensor, model: torch.nn.Module | None) -> torch.Tensor:
        ranker = self.q_ranker
        if ranker is None:
            raise RuntimeError(
                "eval_mode='best_of_n' ranks candidates with the critics: build the policy through"
                " GDM (or call set_q_ranker)"
            )
        n, k = obs.shape[0], self.eval_candidates
        obs_rep = obs.repeat_interleave(k, dim=0)
        act = self.sample(obs_rep, model=model).act
        q = ranker(obs_rep, act).view(n, k)
        best = q.argmax(dim=1)
        return act.view(n, k, -1)[torch.arange(n, device=obs.device), best]

    def forward(
        self,
        batch: ObsBatchProtocol,
        state: dict | BatchProtocol | np.ndarray | None = None,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> ActStateBatchProtocol:
        """Actions for ``batch.obs``: stochastic within a training step, else per ``eval_mode``.

        :param model: a replacement actor (the algorithm passes its target actor here).
        :return: a ``Batch`` with ``act`` (B, A) in ``[-1, 1]``, ``state`` and, when the actor
            learns a final noise and acts stochastically, ``log_prob`` (B, 1).
        """
        obs = self.obs_tensor(batch.obs)
        with torch.no_grad():
            if self.is_within_training_step or self.eval_mode == "stochastic":
                out = self.sample(obs, model=model)
            elif self.eval_mode == "deterministic":
                out = self.sample(obs, deterministic=True, model=model)
            else:
                out = ActorOutput(self._best_of_n(obs, model), None)
        result = Batch(act=out.act, state=state)
        if out.log_prob is not None:
            result.log_prob = out.log_prob
        return cast(ActStateBatchProtocol, result)
