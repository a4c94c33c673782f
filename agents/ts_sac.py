"""Tianshou 2.x Soft Actor-Critic built on the same networks as the GDM agent.

It is the closest classic counterpart of :mod:`lowcarbon.agents.gdm`: same twin critics, same
hidden widths and activation, same optimiser settings, an automatic temperature with the same
target entropy (``-dim(A)``; SAC starts it at 0.2, GDM at 0.05); only the actor differs (a
tanh-squashed Gaussian, Haarnoja et al., arXiv:1812.05905).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
from tianshou.algorithm.modelfree.sac import SAC, AutoAlpha, SACPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.utils.net.common import Net
from tianshou.utils.net.continuous import ContinuousActorProbabilistic

from .networks import TwinCriticConfig, activation_class, space_dims, twin_critic_kwargs


@dataclass
class SACConfig(TwinCriticConfig):
    """Hyperparameters of Tianshou SAC (Haarnoja et al. 2018 defaults)."""

    alpha: float = 0.2
    """Initial (auto_alpha) or fixed entropy temperature."""
    auto_alpha: bool = True
    alpha_lr: float = 3e-4
    target_entropy: float | None = None
    """Entropy target in nats; ``None``: ``-dim(A)``."""


def make_sac(
    observation_space: gym.Space, action_space: gym.Space, config: SACConfig | None = None
) -> SAC:
    """Build Tianshou's :class:`~tianshou.algorithm.SAC` with this project's critics."""
    cfg = config or SACConfig()
    obs_dim, act_dim = space_dims(observation_space, action_space)
    act_cls = activation_class(cfg.activation)
    actor = ContinuousActorProbabilistic(
        preprocess_net=Net(state_shape=obs_dim, hidden_sizes=cfg.hidden_sizes, activation=act_cls),
        action_shape=act_dim,
        unbounded=True,
        conditioned_sigma=True,
    )
    policy = SACPolicy(actor=actor, action_space=action_space, observation_space=observation_space)
    target = cfg.target_entropy if cfg.target_entropy is not None else -float(act_dim)
    alpha = (
        AutoAlpha(target, math.log(cfg.alpha), AdamOptimizerFactory(lr=cfg.alpha_lr))
        if cfg.auto_alpha
        else cfg.alpha
    )
    return SAC(policy=policy, **twin_critic_kwargs(obs_dim, act_dim, cfg), alpha=alpha)
