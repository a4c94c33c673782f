"""Network builders shared by the Tianshou agents, so GDM and SAC compare on equal critics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.utils.lagged_network import EvalModeModuleWrapper
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
    """Flat observation and action sizes; both spaces must be ``Box``, the action space a 1-D
    one with finite bounds (the policies map [-1, 1] onto it, which an infinite bound turns into
    NaN; a 2-D action would need a reshape that Tianshou's ``map_action`` does not do)."""
    for name, space in (("observation", observation_space), ("action", action_space)):
        if not isinstance(space, gym.spaces.Box):
            raise TypeError(f"the {name} space must be a gymnasium Box, got {space}")
    if len(action_space.shape) != 1:
        raise ValueError(
            f"the action space must be a 1-D Box, got shape {action_space.shape}: flatten it "
            "(e.g. a gymnasium ActionWrapper that reshapes a flat action)"
        )
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        raise ValueError(
            f"the action space needs finite bounds to map [-1, 1] onto, got {action_space}: "
            "clip it (gymnasium.wrappers.RescaleAction or ClipAction)"
        )
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

    def __post_init__(self) -> None:
        checks = [
            (len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
             "hidden_sizes", "needs at least one layer, each of width >= 1"),
            (self.actor_lr > 0, "actor_lr", "must be > 0"),
            (self.critic_lr > 0, "critic_lr", "must be > 0"),
            (0 < self.tau <= 1, "tau", "must be in (0, 1]"),
            (0 <= self.gamma <= 1, "gamma", "must be in [0, 1]"),
            (self.n_step >= 1, "n_step", "must be >= 1"),
        ]  # fmt: skip
        for ok, key, message in checks:
            if not ok:
                raise ValueError(f"{key}: {message}, got {getattr(self, key)!r}")


class FusedAdamFactory(AdamOptimizerFactory):
    """Tianshou's Adam factory with PyTorch's fused kernel: one kernel for all parameters instead
    of a dozen small ops per tensor (a 5x cheaper step for these networks on a 2-core CPU; the
    same arithmetic)."""

    def _create_optimizer_for_params(self, params: Any) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps,
                                weight_decay=self.weight_decay, fused=True)  # fmt: skip


class EvalTarget(nn.Module):
    """A target network kept in evaluation mode. Tianshou's ``EvalModeModuleWrapper`` does the
    same by walking the whole network with ``eval()`` on every forward call; here ``train()``
    simply leaves the wrapped network alone. The attribute is named ``module`` as there, so state
    dicts are unchanged."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        module.eval()
        self.module = module

    def train(self, mode: bool = True) -> EvalTarget:
        self.training = mode
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)


class LeanUpdateMixin:
    """Cuts the per-update bookkeeping of a Tianshou algorithm with Polyak-averaged targets,
    leaving its arithmetic alone (measured in benchmarks/README.md):

    * targets are :class:`EvalTarget` instead of ``EvalModeModuleWrapper``;
    * ``train(mode)`` sets the mode from a flat list of modules made once (``nn.Module.train``
      recurses through the tree, and Tianshou's update switches modes twice per update);
    * the Polyak averaging of every target is one ``torch._foreach_lerp_`` call.

    Call :meth:`_lean_setup` at the end of ``__init__``.
    """

    def _lean_setup(self) -> None:
        for name, child in list(self.named_children()):  # type: ignore[attr-defined]
            if isinstance(child, EvalModeModuleWrapper):
                setattr(self, name, EvalTarget(child.module))
        flat: list[nn.Module] = []

        def walk(m: nn.Module) -> None:
            flat.append(m)
            if not isinstance(m, EvalTarget):
                for c in m.children():
                    walk(c)

        walk(self)  # type: ignore[arg-type]
        self._lean_modules = tuple(flat)

    def train(self, mode: bool = True) -> Any:
        for m in self._lean_modules:
            m.training = mode
        return self

    def _update_lagged_network_weights(self) -> None:
        pairs = self._lagged_networks._lagged_network_pairs  # type: ignore[attr-defined]
        targets = [p for pair in pairs for p in pair.target.parameters()]
        sources = [p for pair in pairs for p in pair.source.parameters()]
        with torch.no_grad():
            torch._foreach_lerp_(targets, sources, self.tau)  # type: ignore[attr-defined]


def twin_critic_kwargs(obs_dim: int, act_dim: int, cfg: TwinCriticConfig) -> dict[str, Any]:
    """The arguments every twin-critic Tianshou algorithm here shares: (fused) Adam for the actor,
    two fresh critics with their Adam optimisers, Polyak rate and returns."""
    act_cls = activation_class(cfg.activation)
    return dict(
        policy_optim=FusedAdamFactory(lr=cfg.actor_lr),
        critic=make_critic(obs_dim, act_dim, cfg.hidden_sizes, act_cls),
        critic_optim=FusedAdamFactory(lr=cfg.critic_lr),
        critic2=make_critic(obs_dim, act_dim, cfg.hidden_sizes, act_cls),
        critic2_optim=FusedAdamFactory(lr=cfg.critic_lr),
        tau=cfg.tau,
        gamma=cfg.gamma,
        n_step_return_horizon=cfg.n_step,
    )
