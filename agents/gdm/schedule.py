"""Noise schedules of the DDPM reverse chain used by the diffusion actor.

A schedule is the sequence ``beta_1 .. beta_T`` of per-step noise variances; everything the
sampler and the denoising loss need follows from it (Ho, Jain and Abbeel, "Denoising Diffusion
Probabilistic Models", NeurIPS 2020, eqs. 4, 6, 7 and 11):

* ``alpha_t = 1 - beta_t`` and ``alpha_bar_t = prod_{s <= t} alpha_s``;
* forward process ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``;
* posterior ``q(x_{t-1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, beta~_t I)`` with
  ``beta~_t = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)``,
  ``c1_t = beta_t sqrt(alpha_bar_{t-1}) / (1 - alpha_bar_t)`` and
  ``c2_t = (1 - alpha_bar_{t-1}) sqrt(alpha_t) / (1 - alpha_bar_t)``.

Three schedules are provided. Arrays are indexed from 0, so index ``i`` holds step ``t = i + 1``.

* ``vp`` (default): the discretised variance-preserving SDE with ``beta(s)`` linear from
  ``beta_min = 0.1`` to ``beta_max = 10`` (Song et al., ICLR 2021), in the form Diffusion-QL
  (Wang, Hunt and Zhou, ICLR 2023) and GDMOPT (Du et al., IEEE COMST 2024) use for few steps:
  ``alpha_t = exp(-beta_min / T - (beta_max - beta_min) (2t - 1) / (2 T^2))``. Its product is
  ``alpha_bar_T = exp(-beta_min - (beta_max - beta_min) / 2) ~ 6.4e-3`` whatever ``T``, so the chain
  always starts from (almost) pure noise, which is why it suits 1 to 20 steps.
* ``linear``: ``beta`` evenly spaced from ``1e-4`` to ``2e-2`` (Ho et al. 2020's end points, as in
  Diffusion-QL's option). With few steps it stays far from pure noise (``alpha_bar_5 ~ 0.95``):
  the reverse chain then starts from a distribution the denoiser never sees in the BC loss.
* ``cosine``: ``alpha_bar(t) = f(t) / f(0)``, ``f(t) = cos^2(pi/2 (t/T + s) / (1 + s))``,
  ``s = 0.008``, betas clipped to 0.999 (Nichol and Dhariwal, ICML 2021).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("vp", "linear", "cosine")
MIN_STEPS, MAX_STEPS = 1, 20


def vp_betas(steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> np.ndarray:
    """Betas of the discretised variance-preserving SDE (see the module docstring)."""
    t = np.arange(1, steps + 1, dtype=np.float64)
    alphas = np.exp(-beta_min / steps - 0.5 * (beta_max - beta_min) * (2 * t - 1) / steps**2)
    return 1.0 - alphas


def linear_betas(steps: int, beta_start: float = 1e-4, beta_end: float = 2e-2) -> np.ndarray:
    """Evenly spaced betas from ``beta_start`` to ``beta_end`` (one step: ``beta_end``)."""
    if steps == 1:
        return np.array([beta_end])
    return np.linspace(beta_start, beta_end, steps, dtype=np.float64)


def cosine_betas(steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Betas of the cosine schedule of Nichol and Dhariwal (2021), clipped to ``max_beta``."""
    t = np.arange(steps + 1, dtype=np.float64) / steps
    f = np.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 0.0, max_beta)


_BETAS = {"vp": vp_betas, "linear": linear_betas, "cosine": cosine_betas}


@dataclass(frozen=True)
class DiffusionSchedule:
    """All per-step coefficients of a ``steps``-step DDPM, as float64 arrays of shape ``(steps,)``.

    Build one with :meth:`make`; index ``i`` is diffusion step ``t = i + 1``.
    """

    kind: str
    betas: np.ndarray
    alphas: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    sqrt_alphas_cumprod: np.ndarray
    sqrt_one_minus_alphas_cumprod: np.ndarray
    sqrt_recip_alphas_cumprod: np.ndarray
    sqrt_recipm1_alphas_cumprod: np.ndarray
    posterior_variance: np.ndarray
    posterior_log_variance_clipped: np.ndarray
    posterior_mean_coef1: np.ndarray
    posterior_mean_coef2: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.betas)

    @classmethod
    def make(cls, kind: str = "vp", steps: int = 5) -> DiffusionSchedule:
        """Schedule ``kind`` (one of :data:`SCHEDULES`) with ``steps`` denoising steps (1 to 20)."""
        if kind not in _BETAS:
            raise ValueError(f"unknown beta schedule {kind!r}; choose one of {SCHEDULES}")
        is_int = isinstance(steps, int | np.integer) and not isinstance(steps, bool)
        if not is_int or not MIN_STEPS <= steps <= MAX_STEPS:
            raise ValueError(
                f"the number of denoising steps must be an integer in [{MIN_STEPS}, {MAX_STEPS}],"
                f" got {steps!r}"
            )
        betas = _BETAS[kind](int(steps))
        alphas = 1.0 - betas
        ab = np.cumprod(alphas)
        ab_prev = np.r_[1.0, ab[:-1]]
        post_var = betas * (1.0 - ab_prev) / (1.0 - ab)
        # the first step's posterior variance is 0; DDPM clips its log to the next step's
        # (only used for t > 1 by the sampler, kept finite for logging)
        post_log = np.log(np.r_[post_var[1], post_var[1:]] if steps > 1 else np.r_[betas[0]])
        return cls(
            kind=kind,
            betas=betas,
            alphas=alphas,
            alphas_cumprod=ab,
            alphas_cumprod_prev=ab_prev,
            sqrt_alphas_cumprod=np.sqrt(ab),
            sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - ab),
            sqrt_recip_alphas_cumprod=np.sqrt(1.0 / ab),
            sqrt_recipm1_alphas_cumprod=np.sqrt(1.0 / ab - 1.0),
            posterior_variance=post_var,
            posterior_log_variance_clipped=post_log,
            posterior_mean_coef1=betas * np.sqrt(ab_prev) / (1.0 - ab),
            posterior_mean_coef2=(1.0 - ab_prev) * np.sqrt(alphas) / (1.0 - ab),
        )
