"""Networks of the diffusion actor: the denoiser and the DDPM reverse chain around it.

The denoiser ``eps_theta(x_t, t, s)`` predicts the noise in a noisy action ``x_t`` at diffusion
step ``t`` given the observation ``s``, as in Diffusion-QL (Wang et al., ICLR 2023) and GDMOPT
(Du et al., IEEE COMST 2024): an MLP over ``[x_t, e(t), s]`` where ``e(t)`` is a sinusoidal step
embedding passed through a small MLP.

:class:`DiffusionActor` runs the reverse chain: ``x_T ~ N(0, I)``; for ``t = T .. 1`` reconstruct
``x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)``, clip it to ``[-1, 1]``, and draw
``x_{t-1}`` from the DDPM posterior. The last reconstruction is the action, so actions always lie in
``[-1, 1]``. The chain is written so that the observation's share of the denoiser's first layer is
computed once per chain and the step embeddings once per call, not once per step; the maths is the
same as calling :meth:`Denoiser.forward` at every step (a test checks it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from numba.typed import List
from torch import nn

from ..networks import activation_class
from .config import GDMConfig
from .fast_chain import ACTIVATION_CODES, reverse_chain, single_threaded_blas
from .schedule import DiffusionSchedule

_DEFAULT = GDMConfig()  # the defaults below are GDMConfig's
_DEFAULT_ACTIVATION = activation_class(_DEFAULT.activation)
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -5.0, 1.0
_LOG_SIGMA_MID, _LOG_SIGMA_HALF = (
    (LOG_SIGMA_MAX + LOG_SIGMA_MIN) / 2,
    (LOG_SIGMA_MAX - LOG_SIGMA_MIN) / 2,
)


class _InwardClip(torch.autograd.Function):
    """Clip to ``[-1, 1]``; let a gradient through where it would move a clipped value back in."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        # a descent step moves x by -grad: keep it inside, or where it points back inside
        keep = ((x >= -1.0) & (x <= 1.0)) | ((x > 1.0) & (grad > 0)) | ((x < -1.0) & (grad < 0))
        return grad * keep


def inward_clip(x: torch.Tensor) -> torch.Tensor:
    """``x.clamp(-1, 1)`` in value. In gradient, a plain clamp is flat outside the range, so an
    actor whose output saturates at a bound never learns to leave it even when the critic says the
    optimum is inside (the failure we saw on a bandit whose optimum is interior). Here the gradient
    passes where following it moves the value back into range, and is zeroed where it would push
    further out, in the spirit of the bounded-action "inverting gradients" of Hausknecht and Stone
    (ICLR 2016)."""
    return _InwardClip.apply(x)


class SinusoidalEmbedding(nn.Module):
    """Transformer-style embedding of a (step) number: ``[sin(k w_j), cos(k w_j)]``,
    ``w_j = 10000^(-j / (dim/2 - 1))`` (Vaswani et al. 2017; Ho et al. 2020)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError(f"embedding dim must be an even number >= 4, got {dim}")
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, k: torch.Tensor) -> torch.Tensor:
        arg = k.float()[:, None] * self.freqs[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


def mlp(sizes: Sequence[int], activation: type[nn.Module]) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Denoiser(nn.Module):
    """``eps_theta(x_t, t, s)``: noise prediction from noisy action, step index and observation.

    The first layer acts on the concatenation ``[x_t, e(t), s]``; it is stored as three blocks
    (``x_in`` with the bias, ``t_in``, ``obs_in``) so that a reverse chain can compute the
    observation's and the steps' shares once instead of at every step.

    :param obs_dim: observation size (flattened).
    :param act_dim: action size.
    :param hidden_sizes: widths of the hidden layers (at least one).
    :param time_dim: size of the step embedding.
    :param activation: hidden activation (``GDMConfig.activation`` by default).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: Sequence[int] = tuple(_DEFAULT.hidden_sizes),
        time_dim: int = _DEFAULT.time_dim,
        activation: type[nn.Module] = _DEFAULT_ACTIVATION,
    ) -> None:
        super().__init__()
        if not hidden_sizes:
            raise ValueError("the denoiser needs at least one hidden layer")
        self.obs_dim, self.act_dim, self.time_dim = obs_dim, act_dim, time_dim
        self.time_mlp = nn.Sequential(
            SinusoidalEmbedding(time_dim),
            nn.Linear(time_dim, 2 * time_dim),
            activation(),
            nn.Linear(2 * time_dim, time_dim),
        )
        width = hidden_sizes[0]
        self.x_in = nn.Linear(act_dim, width)
        self.t_in = nn.Linear(time_dim, width, bias=False)
        self.obs_in = nn.Linear(obs_dim, width, bias=False)
        self.tail = nn.Sequential(activation(), mlp([*hidden_sizes, act_dim], activation))

    def forward(self, x: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """Predicted noise for noisy actions ``x`` (B, A) at step indices ``t`` (B,) (0-based)."""
        h = self.x_in(x) + self.t_in(self.time_mlp(t + 1)) + self.obs_in(obs)
        return self.tail(h)

    def step_parts(self, steps: int) -> torch.Tensor:
        """Shares of the step embeddings (and the first bias) in the first layer for step indices
        ``0 .. steps-1``: (T, H)."""
        k = torch.arange(1, steps + 1, device=self.x_in.weight.device)
        return self.t_in(self.time_mlp(k)) + self.x_in.bias


class ActorOutput(NamedTuple):
    """Action in ``[-1, 1]`` (B, A) and, where the actor has a learned final noise, the log
    density of the final Gaussian step (B, 1), else ``None``."""

    act: torch.Tensor
    log_prob: torch.Tensor | None


class DiffusionActor(nn.Module):
    """Diffusion policy ``pi_theta(a | s)`` sampled by a ``steps``-step DDPM reverse chain.

    :param obs_dim: observation size (flattened).
    :param act_dim: action size; actions live in ``[-1, 1]^act_dim``.
    :param steps: number of denoising steps ``T`` (1 to 20).
    :param schedule: beta schedule, ``"vp"``, ``"linear"`` or ``"cosine"``.
    :param hidden_sizes, time_dim, activation: denoiser architecture (:class:`Denoiser`).
    :param final_noise: learn a state-independent Gaussian noise added to the chain's output,
        ``a = clip(x_0 + sigma z)``. Its log density given ``x_0`` is tractable, so the
        maximum-entropy mode uses it as the entropy term: ``H(a|s) >= H(a|s, x_0)``, the
        entropy of this Gaussian (exact away from the bounds; the clip is ignored). It shapes
        ``sigma`` only: the chain itself is trained by the Q-gradient and BC terms.
    :param init_log_sigma: initial ``log sigma`` of that noise, in ``(-5, 1)``; ``log sigma`` is
        kept in that range by a tanh reparameterisation (a hard clamp would trap it at a bound,
        where its gradient vanishes).
    """

    compiled_max_batch = 32
    """Largest batch sampled by the compiled kernel (at batch 256 PyTorch's threaded GEMMs win,
    and mixing the two thread pools makes both slower)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        *,
        steps: int = _DEFAULT.steps,
        schedule: str = _DEFAULT.schedule,
        hidden_sizes: Sequence[int] = tuple(_DEFAULT.hidden_sizes),
        time_dim: int = _DEFAULT.time_dim,
        activation: type[nn.Module] = _DEFAULT_ACTIVATION,
        final_noise: bool = _DEFAULT.max_entropy,
        init_log_sigma: float = _DEFAULT.init_log_sigma,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.schedule = DiffusionSchedule.make(schedule, steps)
        self.activation_name = getattr(activation, "__name__", repr(activation))
        self.denoiser = Denoiser(obs_dim, act_dim, hidden_sizes, time_dim, activation)
        if final_noise and not LOG_SIGMA_MIN < init_log_sigma < LOG_SIGMA_MAX:
            bounds = f"({LOG_SIGMA_MIN}, {LOG_SIGMA_MAX})"
            raise ValueError(f"init_log_sigma must lie in {bounds}, got {init_log_sigma}")
        # log sigma = mid + half * tanh(raw): smooth, bounded, never stuck at a bound
        u = (init_log_sigma - _LOG_SIGMA_MID) / _LOG_SIGMA_HALF
        self.log_sigma = (
            nn.Parameter(torch.full((act_dim,), math.atanh(u))) if final_noise else None
        )
        sch = self.schedule
        # Python floats: multiplying by a float is cheaper than indexing a tensor per step
        self._recip = sch.sqrt_recip_alphas_cumprod.tolist()
        self._recipm1 = sch.sqrt_recipm1_alphas_cumprod.tolist()
        self._c1 = sch.posterior_mean_coef1.tolist()
        self._c2 = sch.posterior_mean_coef2.tolist()
        self._sigma = [math.exp(0.5 * v) for v in sch.posterior_log_variance_clipped]
        self._coefs = np.array(
            [self._recip, self._recipm1, self._c1, self._c2, self._sigma], dtype=np.float32
        )
        self._act_code = ACTIVATION_CODES.get(activation, -1)
        self._kernel_args: tuple | None = None
        # the modules (not parameters, which may be replaced) that the kernel reads, found once:
        # walking the module tree costs more than the kernel at batch 1
        den = self.denoiser
        emb, lin1, _, lin2 = den.time_mlp
        tail = tuple(m for m in den.tail.modules() if isinstance(m, nn.Linear))
        self._kernel_modules = (emb, lin1, lin2, den.t_in, den.obs_in, den.x_in, tail)
        self.register_buffer(
            "sqrt_ab", torch.tensor(sch.sqrt_alphas_cumprod, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "sqrt_1m_ab",
            torch.tensor(sch.sqrt_one_minus_alphas_cumprod, dtype=torch.float32),
            persistent=False,
        )

    @property
    def steps(self) -> int:
        return self.schedule.steps

    @property
    def device(self) -> torch.device:
        return self.denoiser.x_in.weight.device

    def __getstate__(self) -> dict:
        # the kernel's parameter views belong to this instance's storage: never copy them
        state = dict(super().__getstate__())
        state["_kernel_args"] = None
        return state

    def signature(self) -> dict[str, Any]:
        """What defines the chain beyond the weights' shapes (a checkpoint must match it):
        the beta schedule (its steps and kind) and the activation."""
        return {"betas": [float(b) for b in self.schedule.betas],
                "activation": self.activation_name}  # fmt: skip

    def sigma(self) -> torch.Tensor | None:
        """Scale of the learned final noise (A,), or ``None`` when the actor has none."""
        if self.log_sigma is None:
            return None
        return (_LOG_SIGMA_MID + _LOG_SIGMA_HALF * torch.tanh(self.log_sigma)).exp()

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> ActorOutput:
        """Run the reverse chain for observations ``obs`` (B, obs_dim).

        Stochastic: ``x_T ~ N(0, I)`` and posterior noise at every step (all drawn from torch's
        generator, so ``torch.manual_seed`` fixes them). Deterministic: start at ``x_T = 0`` and
        add no noise, a fixed map from observation to action. Differentiable in the actor's
        parameters when gradients are on. With gradients off, on the CPU, for batches up to
        :attr:`compiled_max_batch` and the activations of
        :data:`~lowcarbon.agents.gdm.fast_chain.ACTIVATION_CODES`, the compiled kernel of
        :mod:`.fast_chain` does the same arithmetic with the same noise, faster.
        """
        obs = obs.flatten(1)
        n, steps = obs.shape[0], self.steps
        if deterministic:
            noise = obs.new_zeros(steps, n, self.act_dim)
        else:
            # x_T (index 0) and the posterior noise of step indices 1 .. T-1 in one draw
            noise = torch.randn(steps, n, self.act_dim, device=obs.device, dtype=obs.dtype)
        if (
            not torch.is_grad_enabled()
            and obs.device.type == "cpu"
            and self._act_code >= 0
            and n <= self.compiled_max_batch
        ):
            x = self._chain_compiled(obs, noise)
        else:
            x = self._chain_torch(obs, noise)
        sigma = None if deterministic else self.sigma()
        if sigma is None:
            return ActorOutput(x, None)
        z = torch.randn_like(x)
        log_prob = (-0.5 * z.pow(2) - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(
            -1, keepdim=True
        )
        return ActorOutput(inward_clip(x + sigma * z), log_prob)

    def _chain_torch(self, obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        den = self.denoiser
        # first layer = x_in(x) + [t_in(e(t)) + bias] + obs_in(s): the bracket and obs_in(s) do
        # not change along the chain, so they are summed once for all steps
        conds = (den.obs_in(obs).unsqueeze(0) + den.step_parts(self.steps).unsqueeze(1)).unbind(0)
        w_x = den.x_in.weight.t()
        x = noise[0]
        for i in range(self.steps - 1, -1, -1):
            eps = den.tail(torch.addmm(conds[i], x, w_x))
            x0 = inward_clip(torch.add(self._recip[i] * x, eps, alpha=-self._recipm1[i]))
            if i == 0:
                x = x0  # the first step's posterior mean is x0 itself, with no noise
            else:
                x = torch.add(self._c1[i] * x0, x, alpha=self._c2[i])
                x = torch.add(x, noise[i], alpha=self._sigma[i])
        return x

    def _chain_compiled(self, obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        tensors = self._kernel_tensors()
        key = tuple(map(torch.Tensor.data_ptr, tensors))
        if self._kernel_args is None or self._kernel_args[0] != key:
            single_threaded_blas()
            # zero-copy views: in-place updates (optimiser steps, Polyak averaging, a default
            # load_state_dict) show through; a replaced or moved tensor changes the key
            weights, biases = List(), List()
            n_tail = (len(tensors) - 9) // 2
            for t in tensors[9 : 9 + n_tail]:
                weights.append(t.detach().numpy())
            for t in tensors[9 + n_tail :]:
                biases.append(t.detach().numpy())
            views = tuple(t.detach().numpy() for t in tensors[:9])
            self._kernel_args = (key, (*views, weights, biases, self._coefs))
        return torch.from_numpy(
            reverse_chain(obs.numpy(), noise.numpy(), *self._kernel_args[1], self._act_code)
        )

    def _kernel_tensors(self) -> list[torch.Tensor]:
        """The tensors the kernel reads, in its argument order, read off the modules afresh each
        call (so a parameter replaced by ``load_state_dict(assign=True)`` is seen): freqs, time
        MLP, first layer, then the tail's weights and biases."""
        emb, lin1, lin2, t_in, obs_in, x_in, tail = self._kernel_modules
        return [
            emb.freqs, lin1.weight, lin1.bias, lin2.weight, lin2.bias, t_in.weight,
            obs_in.weight, x_in.weight, x_in.bias,
            *(m.weight for m in tail), *(m.bias for m in tail),
        ]  # fmt: skip

    def bc_loss(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Denoising (behaviour-cloning) loss ``E ||eps - eps_theta(x_t, t, s)||^2`` with ``t``
        uniform and ``x_t`` the forward-noised target action ``act`` in ``[-1, 1]`` (Ho et al.
        2020, eq. 14; Diffusion-QL's ``L_d``)."""
        obs = obs.flatten(1)
        t = torch.randint(0, self.steps, (obs.shape[0],), device=obs.device)
        eps = torch.randn_like(act)
        x_t = self.sqrt_ab[t, None] * act + self.sqrt_1m_ab[t, None] * eps
        return (self.denoiser(x_t, t, obs) - eps).pow(2).mean()
