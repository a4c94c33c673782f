"""The LLM + RAG formulator: a request in plain words -> a validated :class:`ProblemSpec`.

The paper's front end (Wen et al., "Generative AI for Low-Carbon Artificial Intelligence of
Things with Large Language Models"): a pluggable language model with retrieval-augmented
generation formulates the carbon optimisation problem that the GDM agent then solves.

    >>> from lowcarbon.agents.formulator import formulate
    >>> spec = formulate("minimise the carbon of AIGC offloading for 20 VR users on 3 edge "
    ...                  "servers in California and Poland, latency under 2 s")
    >>> spec.env_id, spec.env_kwargs["n_users"]
    ('LowCarbon/MetaverseOffload-v1', 20)

Parts: :mod:`.knowledge` (passages and the closed vocabulary), :mod:`.places` (places -> carbon
signals), :mod:`.retrieval` (BM25 + optional dense, reciprocal-rank fusion), :mod:`.rules` (the
offline backend), :mod:`.llm` (``openai`` and ``local`` backends), :mod:`.compile` (grounding and
units), :mod:`.validation` (the oracle solve), :mod:`.pipeline` (retries, fallback, refinement).
"""

from .compile import FormulationError, UnsupportedRequest
from .knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from .llm import LLMError, LocalChat, OpenAIChat
from .pipeline import BACKENDS, FormulationSession, FormulatorConfig, formulate
from .retrieval import DenseUnavailable, Retriever
from .spec import Draft, ProblemSpec

__all__ = [
    "BACKENDS",
    "DenseUnavailable",
    "Draft",
    "FormulationError",
    "FormulationSession",
    "FormulatorConfig",
    "KnowledgeBase",
    "KnowledgeError",
    "LLMError",
    "LocalChat",
    "OpenAIChat",
    "ProblemSpec",
    "Retriever",
    "UnsupportedRequest",
    "formulate",
    "load_knowledge",
]
