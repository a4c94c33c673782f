"""The reverse chain compiled with numba, for acting on the CPU without gradients.

At batch size 1 the chain is a few dozen tiny tensor operations, and PyTorch's per-operation
dispatch (several microseconds each on a small CPU) costs far more than the arithmetic: about
1 ms per decision for 5 steps. This kernel does the same arithmetic in one compiled call (BLAS
for the products), about ten times faster at batch 1. At large batches PyTorch's threaded
GEMMs are as fast or faster, so the actor uses the kernel only up to a batch of 32.
:class:`~lowcarbon.agents.gdm.networks.DiffusionActor` uses it whenever gradients are off and the
actor lives on the CPU; tests check that it matches the PyTorch chain to float32 rounding given the
same noise.
"""

from __future__ import annotations

import logging

import numpy as np
import threadpoolctl
from numba import njit
from numba.typed import List
from torch import nn

logger = logging.getLogger(__name__)
_blas_limited = False


def single_threaded_blas() -> None:
    """Limit the BLAS libraries that NumPy and SciPy load (OpenBLAS) to one thread, once per
    process; the kernel's products go through them.

    OpenBLAS's worker threads spin after each call and compete with PyTorch's OpenMP threads for
    the cores: on 2 cores, GDM trained 2.5x slower with 8 env copies (batch-8 decisions, threaded
    products) than with the limit. The kernel's products (batch <= 32) gain nothing from threads,
    and PyTorch's own thread pool is untouched. The limit is process-wide (``threadpoolctl``).
    """
    global _blas_limited
    if not _blas_limited:
        threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        _blas_limited = True
        logger.debug("NumPy/SciPy BLAS limited to one thread (see fast_chain.single_threaded_blas)")


# activation codes understood by the kernel (exact classes: a subclass may compute otherwise)
ACTIVATION_CODES: dict[type[nn.Module], int] = {
    nn.ReLU: 0,
    nn.Mish: 1,
    nn.Tanh: 2,
    nn.ELU: 3,
    nn.SiLU: 4,
}


@njit(cache=True)
def _activate(h: np.ndarray, code: int) -> None:
    """Apply activation ``code`` to the 2-D float32 array ``h`` in place (torch's definitions;
    ELU with alpha = 1; Mish as ``v tanh(softplus(v))`` written with one exponential)."""
    rows, cols = h.shape
    for r in range(rows):
        for c in range(cols):
            v = h[r, c]
            if code == 0:
                h[r, c] = max(v, 0.0)
            elif code == 1:
                if v < 20.0:  # beyond 20 softplus(v) = v and tanh(v) = 1 in float32
                    e = np.exp(v)
                    n = e * (e + 2.0)
                    h[r, c] = v * n / (n + 2.0)
            elif code == 2:
                h[r, c] = np.tanh(v)
            elif code == 3:
                h[r, c] = v if v > 0.0 else np.expm1(v)
            else:
                h[r, c] = v / (1.0 + np.exp(-v))


@njit(cache=True)
def reverse_chain(
    obs: np.ndarray,
    noise: np.ndarray,
    freqs: np.ndarray,
    time_w1: np.ndarray,
    time_b1: np.ndarray,
    time_w2: np.ndarray,
    time_b2: np.ndarray,
    w_t: np.ndarray,
    w_obs: np.ndarray,
    w_x: np.ndarray,
    b_x: np.ndarray,
    weights: List,
    biases: List,
    coefs: np.ndarray,
    act_code: int,
) -> np.ndarray:
    """DDPM reverse chain with the MLP denoiser of ``networks.Denoiser``; returns ``x_0`` (n, A).

    ``obs`` (n, O); ``noise`` (T, n, A): ``noise[0]`` is ``x_T`` and ``noise[i]``, ``i >= 1``, the
    posterior noise added at step index ``i`` (all zeros for a deterministic chain). Step
    embedding: ``freqs`` and the time MLP ``time_w1/b1``, ``time_w2/b2``; first layer
    ``x w_x' + e(t) w_t' + s w_obs' + b_x``; then ``weights[k]`` and ``biases[k]`` with the
    activation before each. ``coefs`` (5, T): ``1/sqrt(ab)``, ``sqrt(1/ab - 1)``, the two posterior
    mean coefficients and the posterior standard deviation. Every weight is a torch
    ``nn.Linear.weight`` as it is stored, ``(out, in)`` and C-contiguous (views, no copies), and is
    used transposed here, which BLAS does without copying.
    """
    steps = noise.shape[0]
    lo, hi = np.float32(-1.0), np.float32(1.0)
    half = freqs.shape[0]
    emb = np.empty((steps, 2 * half), dtype=np.float32)
    for i in range(steps):
        for j in range(half):
            arg = np.float32(i + 1) * freqs[j]
            emb[i, j] = np.sin(arg)
            emb[i, half + j] = np.cos(arg)
    th = np.dot(emb, time_w1.T) + time_b1
    _activate(th, act_code)
    step_parts = np.dot(np.dot(th, time_w2.T) + time_b2, w_t.T) + b_x
    cond = np.dot(obs, w_obs.T)
    x = noise[0].copy()
    for j in range(steps):
        i = steps - 1 - j
        h = np.dot(x, w_x.T) + cond + step_parts[i]
        for k in range(len(weights)):
            _activate(h, act_code)
            h = np.dot(h, weights[k].T) + biases[k]
        x0 = np.minimum(np.maximum(coefs[0, i] * x - coefs[1, i] * h, lo), hi)
        if i == 0:
            x = x0
        else:
            x = coefs[2, i] * x0 + coefs[3, i] * x + coefs[4, i] * noise[i]
    return x
