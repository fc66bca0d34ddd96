"""What one request may ask of the server; every limit is answered with a 4xx JSON error."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from headstart import options as opt
from headstart.options import Rule, validate

MB = 2**20
POSITIVE = opt.Number(low=0, low_open=True)


@dataclass(frozen=True)
class Limits:
    """Safe defaults for a server on a small machine; each one has a ``headstart serve`` flag."""

    max_request_bytes: int = 8 * MB  # the whole body, all files together
    max_files: int = 16  # images per request
    max_pixels: int = 40_000_000  # per image, read from its header before decoding
    max_texts: int = 64  # texts per request
    max_text_chars: int = 10_000  # per text
    timeout_s: float = 30.0  # from the first body byte to the answer
    top_k: int = 5  # classes per answer unless ?top_k= asks for fewer or more
    max_batch: int = 32  # inputs per model run, across concurrent requests
    batch_wait_ms: float = 2.0  # how long a model run waits for more requests to join

    def __post_init__(self) -> None:
        validate(self, LIMIT_RULES)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Every limit is positive: a count, a size or a time.
LIMIT_RULES: dict[str, Rule] = {
    f.name: POSITIVE if isinstance(f.default, float) else opt.POSITIVE_INT for f in fields(Limits)
}
