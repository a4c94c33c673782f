"""Network builders shared by the Tianshou agents, so GDM and SAC compare on equal critics."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
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
