"""Network builders shared by the Tianshou agents, so GDM and SAC compare on equal critics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.utils.net.common import Net
from tianshou.utils.net.continuous import ContinuousCritic
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "mish": nn.Mish,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def activation_class(name: str) -> type[nn.Module]:
    """The ``torch.nn`` activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def space_dims(observation_space: gym.Space, action_space: gym.Space) -> tuple[int, int]:
    """Flat observation and action sizes; both spaces must be ``Box``."""
    for name, space in (("observation", observation_space), ("action", action_space)):
        if not isinstance(space, gym.spaces.Box):
            raise TypeError(f"the {name} space must be a gymnasium Box, got {space}")
    return int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))


def make_critic(
    obs_dim: int, act_dim: int, hidden_sizes: Sequence[int], activation: type[nn.Module]
) -> ContinuousCritic:
    """``Q(s, a)``: an MLP over the concatenated observation and action, one output."""
    return ContinuousCritic(
        preprocess_net=Net(
            state_shape=obs_dim,
            action_shape=act_dim,
            hidden_sizes=list(hidden_sizes),
            activation=activation,
            concat=True,
        )
    )


@dataclass
class TwinCriticConfig:
    """Hyperparameters every twin-critic agent here shares (GDM and Tianshou SAC), so the two
    are compared on equal critics and optimisers."""

    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden widths of the actor (or denoiser) and of each critic."""
    activation: str = "relu"
    """Hidden activation of the actor and critics. Diffusion-QL and GDMOPT use ``mish``; on a
    2-core CPU it made updates about 1.7x slower than ``relu`` and learned our two-peak bandit
    more slowly, so ``relu`` is the default (see benchmarks/README.md)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of each critic."""
    tau: float = 0.005
    """Polyak rate of the target networks, per update."""
    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 1
    """n of the n-step return."""


def twin_critic_kwargs(obs_dim: int, act_dim: int, cfg: TwinCriticConfig) -> dict[str, Any]:
    """The arguments every twin-critic Tianshou algorithm here shares: Adam for the actor, two
    fresh critics with their Adam optimisers, Polyak rate and returns."""
    act_cls = activation_class(cfg.activation)
    return dict(
        policy_optim=AdamOptimizerFactory(lr=cfg.actor_lr),
        critic=make_critic(obs_dim, act_dim, cfg.hidden_sizes, act_cls),
        critic_optim=AdamOptimizerFactory(lr=cfg.critic_lr),
        critic2=make_critic(obs_dim, act_dim, cfg.hidden_sizes, act_cls),
        critic2_optim=AdamOptimizerFactory(lr=cfg.critic_lr),
        tau=cfg.tau,
        gamma=cfg.gamma,
        n_step_return_horizon=cfg.n_step,
    )
