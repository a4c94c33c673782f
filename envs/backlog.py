"""Deferrable work with deadlines, shared by the environments that schedule it.

A backlog is a row of buckets per copy: ``backlog[j]`` is the work due in ``j`` slots (``j = 0`` is
due now). Each slot the env decodes an amount to run (:func:`batch_amount`), places it on sites
(:func:`place`), serves it earliest deadline first and drops what is due and still waiting
(:func:`serve_edf`). :func:`draw_jobs` draws a day of arrivals, and :func:`add_job_flows` writes
the matching class flows into an oracle's program. Work due after the day is still waiting at
its end; the envs charge it a terminal cost, so that the horizon is not a free deadline.

Earliest deadline first is what makes the oracles exact: for fixed per-slot totals it drops no
more work than any other order, so replaying an oracle's totals attains its class flows' value.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .oracles import Program

#: a slot's arrivals are capped at this multiple of their mean (a bounded Gamma tail)
ARRIVAL_CAP = 4.0


def draw_jobs(
    rng: np.random.Generator, batch: int, horizon: int, mean: float | np.ndarray,
    slack: tuple[int, int], shape: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A day of deferrable work: arrivals (batch, horizon) and their due slots.

    Arrivals are ``Gamma(shape, mean / shape)`` (``mean`` may vary by slot), capped at
    ``ARRIVAL_CAP`` times the mean; deadline slack is uniform on ``{lo..hi}`` slots. Deadlines may
    fall after the day: such work is still waiting at the end and the env charges it a terminal
    cost (what running it later costs). At most ``hi - lo + 1`` slots' arrivals fall due in any
    one slot.
    """
    lo, hi = slack
    mean = np.broadcast_to(np.asarray(mean, float), (horizon,))
    g = rng.gamma(shape, 1.0 / shape, size=(batch, horizon)) * mean
    arrivals = np.minimum(g, ARRIVAL_CAP * mean)
    due = np.arange(horizon)[None, :] + rng.integers(lo, hi + 1, size=(batch, horizon))
    return arrivals, due


@njit(cache=True)
def batch_amount(a, row):
    """Work to run from action ``a`` in [-1, 1] given one copy's backlog ``row``.

    Work due now always runs; ``a = 0`` runs the even pace ``sum_j row[j] / (j + 1)`` (every job
    spread evenly up to its deadline), ``a = -1`` only the work due now, ``a = +1`` everything;
    linear in between.
    """
    total = 0.0
    pace = 0.0
    for j in range(row.shape[0]):
        total += row[j]
        pace += row[j] / (j + 1)
    must = row[0]
    if a <= 0.0:
        return must + (pace - must) * (1.0 + a)
    return pace + (total - pace) * a


def amount_score(want: float, row: np.ndarray) -> float:
    """The action that :func:`batch_amount` decodes to ``want`` (clipped to what it can reach)."""
    total = float(row.sum())
    pace = float((row / np.arange(1, row.size + 1)).sum())
    must = float(row[0])
    if want <= pace:
        if pace <= must:
            return -1.0
        return float(np.clip((want - must) / (pace - must) - 1.0, -1.0, 0.0))
    return float(np.clip((want - pace) / (total - pace), 0.0, 1.0)) if total > pace else 1.0


@njit(cache=True)
def place(amount, room, scores, out):
    """Split ``amount`` over sites: in proportion to ``room * (scores + 1) / 2`` (to ``room`` if
    every score is -1), each capped at its room; what does not fit goes to the sites with room
    left, in proportion to it. Writes ``out`` and returns the amount placed (``<= sum(room)``)."""
    n = room.shape[0]
    spare = 0.0
    wsum = 0.0
    for i in range(n):
        spare += room[i]
        wsum += room[i] * (scores[i] + 1.0) * 0.5
    amount = min(amount, spare)
    placed = 0.0
    for i in range(n):
        if wsum > 0.0:
            f = room[i] * (scores[i] + 1.0) * 0.5 / wsum
        else:
            f = room[i] / spare if spare > 0.0 else 0.0
        out[i] = min(amount * f, room[i])
        placed += out[i]
    left = amount - placed
    free = spare - placed
    if left > 1e-12 and free > 0.0:
        for i in range(n):
            extra = left * (room[i] - out[i]) / free
            out[i] += extra
            placed += extra
    return placed


@njit(cache=True)
def serve_edf(row, amount, next_arrival, next_slack, has_next):
    """Run ``amount`` of one copy's backlog earliest deadline first, drop what is due now and
    still waiting, shift the buckets a slot and add the next slot's arrival. Returns
    ``(dropped, backlog left)``."""
    d = row.shape[0]
    rest = amount
    for j in range(d):
        take = min(row[j], rest)
        row[j] -= take
        rest -= take
    dropped = row[0]
    left = 0.0
    for j in range(d - 1):
        row[j] = row[j + 1]
        left += row[j]
    row[d - 1] = 0.0
    if has_next:
        row[next_slack] += next_arrival
        left += next_arrival
    return dropped, left


# -- the same three steps for every copy at once ---------------------------------------------
# Each loop over copies is innermost and branch-free, so that it vectorises when the copies are
# adjacent in memory (``backlog`` stored bucket-major, per-site arrays site-major); the
# arithmetic of each copy is that of the one-copy functions above, operation for operation, so
# the results are bit-identical to them (tested).


@njit(cache=True, error_model="numpy")
def backlog_totals(backlog, total, pace):
    """Per copy, from ``backlog`` (B, D): the total work waiting and its even pace
    ``sum_j backlog_j / (j + 1)``, written into ``total`` and ``pace`` (B,)."""
    B, D = backlog.shape
    total[:] = 0.0
    pace[:] = 0.0
    for j in range(D):
        for b in range(B):
            x = backlog[b, j]
            total[b] += x
            pace[b] += x / (j + 1)


@njit(cache=True, error_model="numpy")
def batch_amounts(a, backlog, out):
    """:func:`batch_amount` of every copy: ``a`` (B,), ``backlog`` (B, D); writes ``out`` (B,)."""
    B = backlog.shape[0]
    total = np.zeros(B)
    pace = np.zeros(B)
    backlog_totals(backlog, total, pace)
    for b in range(B):
        must = backlog[b, 0]
        x = a[b]
        lo = must + (pace[b] - must) * (1.0 + x)
        hi = pace[b] + (total[b] - pace[b]) * x
        out[b] = lo if x <= 0.0 else hi


@njit(cache=True, error_model="numpy")
def place_all(amount, room, scores, out, placed):
    """:func:`place` of every copy: ``amount`` (B,), ``room`` and ``scores`` (n, B); writes
    ``out`` (n, B) and the amounts placed, ``placed`` (B,)."""
    n, B = room.shape
    spare = np.zeros(B)
    wsum = np.zeros(B)
    for i in range(n):
        for b in range(B):
            spare[b] += room[i, b]
            wsum[b] += room[i, b] * (scores[i, b] + 1.0) * 0.5
    amt = np.empty(B)
    for b in range(B):
        amt[b] = min(amount[b], spare[b])
        placed[b] = 0.0
    for i in range(n):
        for b in range(B):
            by_score = room[i, b] * (scores[i, b] + 1.0) * 0.5 / wsum[b]
            by_room = room[i, b] / spare[b] if spare[b] > 0.0 else 0.0
            f = by_score if wsum[b] > 0.0 else by_room
            x = min(amt[b] * f, room[i, b])
            out[i, b] = x
            placed[b] += x
    left = np.empty(B)
    free = np.empty(B)
    for b in range(B):
        left[b] = amt[b] - placed[b]
        free[b] = spare[b] - placed[b]
    for i in range(n):
        for b in range(B):
            extra = left[b] * (room[i, b] - out[i, b]) / free[b]
            ok = (left[b] > 1e-12) & (free[b] > 0.0)
            out[i, b] = out[i, b] + extra if ok else out[i, b]
            placed[b] = placed[b] + extra if ok else placed[b]


@njit(cache=True, error_model="numpy")
def serve_edf_all(backlog, amount, next_arrival, next_slack, has_next, dropped, left):
    """:func:`serve_edf` of every copy: ``backlog`` (B, D), ``amount``, ``next_arrival`` and
    ``next_slack`` (B,); writes ``dropped`` and ``left`` (B,)."""
    B, D = backlog.shape
    rest = amount.copy()
    for b in range(B):
        take = min(backlog[b, 0], rest[b])
        dropped[b] = backlog[b, 0] - take
        rest[b] -= take
        left[b] = 0.0
    for j in range(1, D):  # serve bucket j, then shift it down a slot
        for b in range(B):
            take = min(backlog[b, j], rest[b])
            x = backlog[b, j] - take
            rest[b] -= take
            backlog[b, j - 1] = x
            left[b] += x
    for b in range(B):
        backlog[b, D - 1] = 0.0
    if has_next:
        for b in range(B):
            backlog[b, next_slack[b]] += next_arrival[b]
            left[b] += next_arrival[b]


def add_job_flows(
    prog: Program, arrivals: np.ndarray, due: np.ndarray, n_sites: int, gain: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Class flows ``y[i, site]`` of one copy's day in ``prog``: work of class ``a`` (the slot it
    arrived in) run in slot ``t``, ``a <= t <= min(due[a], horizon - 1)``, with
    ``sum_{t, site} y <= arrivals[a]``.

    ``gain[a]`` is the objective's gain per unit of class ``a`` served within the day: the drop
    penalty it avoids, or the terminal cost of work still waiting at the end. Leaving everything
    unserved is charged to ``prog.offset``. Returns ``(y, slot)``, with ``slot[i]`` the slot of
    row ``i`` of ``y`` (shape ``(n_flows, n_sites)``).
    """
    horizon = arrivals.shape[0]
    last = np.minimum(due, horizon - 1)
    parts = [(np.full(last[a] - a + 1, a), np.arange(a, last[a] + 1)) for a in range(horizon)]
    cls = np.concatenate([c for c, _ in parts])
    slot = np.concatenate([s for _, s in parts])
    gain = np.asarray(gain, float)
    y = prog.variables((cls.size, n_sites), gain=gain[cls][:, None])
    prog.offset -= float((gain * arrivals).sum())
    per_class = prog.constraints(-np.inf, arrivals)
    prog.coefficients(per_class[cls][:, None], y)
    return y, slot


def proportional_scores(weights: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Scores ``a`` in [-1, 1] such that ``prior * (a + 1) / 2`` is proportional to ``weights``
    along the last axis (the inverse of the proportional decoders; all -1 where weights are 0)."""
    ratio = np.divide(weights, prior, out=np.zeros_like(weights, dtype=float), where=prior > 0)
    top = ratio.max(-1, keepdims=True)
    scaled = np.divide(ratio, top, out=np.zeros_like(ratio), where=top > 0)
    return np.where(top > 0, 2.0 * scaled - 1.0, -1.0)
