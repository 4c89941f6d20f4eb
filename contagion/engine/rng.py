"""Named random streams from one seed.

``RandomStreams(seed).stream("venue:cex:path")`` returns a ``numpy.random.Generator`` seeded by
``SeedSequence(seed, spawn_key=(hash(name),))`` where the hash is a stable 64-bit BLAKE2b digest of
the name. A stream depends only on the seed and its name, never on how many other streams exist
or in which order they were created, so adding a component does not perturb the others.
"""

from __future__ import annotations

import hashlib
import operator

import numpy as np

__all__ = ["RandomStreams", "stream_key"]


def stream_key(name: str) -> int:
    """Stable 64-bit key of a stream name."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


class RandomStreams:
    """Factory of named, independent ``numpy.random.Generator`` streams for one run."""

    def __init__(self, seed: int):
        try:
            seed = operator.index(seed)
        except TypeError:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}") from None
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self._streams: dict[str, np.random.Generator] = {}

    def stream(self, name: str) -> np.random.Generator:
        """The generator named ``name`` (created on first use, then the same object)."""
        gen = self._streams.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(stream_key(name),))
            gen = self._streams[name] = np.random.Generator(np.random.PCG64(seq))
        return gen

    def names(self) -> list[str]:
        """Names of the streams created so far, sorted."""
        return sorted(self._streams)
