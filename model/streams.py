"""Named random-number streams for common random numbers (DESIGN §1).

Each random process (arrivals, patient traits, adherence, stress, ...) draws from its own
generator, derived from (scenario seed, replication, stream name) and from nothing else, so two
scenarios run with the same seed and replication differ only because their policies differ.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (CRC-32: the same on every machine and run)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """A lazily created family of independent generators, one per named process."""

    def __init__(self, seed: int, replication: int = 0) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self._streams: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._streams.get(name)
        if gen is None:
            seq = np.random.SeedSequence([self.seed, self.replication, stream_key(name)])
            gen = np.random.Generator(np.random.PCG64(seq))
            self._streams[name] = gen
        return gen
