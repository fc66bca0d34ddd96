"""Embeddings: extract, map, index, search and probe penultimate-layer vectors."""

from headstart.embeddings.embed import embed
from headstart.embeddings.encoders import ImageEncoder
from headstart.embeddings.index import IndexParams, VectorIndex
from headstart.embeddings.maps import make_map
from headstart.embeddings.probe import ProbeResult, probe
from headstart.embeddings.search import contact_sheet, search
from headstart.embeddings.store import EmbeddingSet, Item

__all__ = [
    "EmbeddingSet",
    "ImageEncoder",
    "IndexParams",
    "Item",
    "ProbeResult",
    "VectorIndex",
    "contact_sheet",
    "embed",
    "make_map",
    "probe",
    "search",
]
