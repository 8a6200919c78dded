"""Named random-number streams for common random numbers (docs/ODD.md §2, Stochasticity).

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


class DrawBlock:
    """Draws of one kind from one stream, taken a block at a time and handed out one by one.

    A NumPy call costs much the same whatever it draws (mostly argument handling in Python), and
    a patient draws one number, or a small row, at an event: hundreds of thousands of calls in a
    100,000-patient year. A block of ``size`` costs about what a few single calls do. The values
    come out in the order NumPy draws them, so a stream drawn by one block only (``adherence``:
    uniforms) gives the very numbers that drawing one at a time gives; where one stream feeds
    several blocks (``choice``: clinics and taste shocks), each block's values are the stream's
    in blocks, not interleaved draw by draw. Either way every value is an independent draw from
    its distribution.
    """

    __slots__ = ("_args", "_block", "_draw", "_next", "_rows", "_shape", "_size")

    def __init__(
        self,
        rng: np.random.Generator,
        method: str,
        *args: float,
        shape: tuple[int, ...] = (),
        size: int = 1024,
    ) -> None:
        """A block source of ``rng.<method>(*args, size=...)``; rows of ``shape`` when given.

        Raises:
            ValueError: ``method`` is not a drawing method of the generator, or ``size`` < 1.
        """
        draw = getattr(rng, method, None)
        if method.startswith("_") or not callable(draw):
            raise ValueError(f"not a NumPy Generator draw: {method!r}")
        if size < 1:
            raise ValueError(f"a block needs at least one draw, got size={size}")
        self._draw = draw
        self._args = args
        self._shape = tuple(shape)
        self._size = int(size)
        self._rows: list = []
        self._block: np.ndarray | None = None  # for next_row
        self._next = 0

    def next(self):
        """The next draw: a Python number, or a list of numbers when ``shape`` is set."""
        rows = self._rows
        if not rows:
            block = self._draw(*self._args, size=(self._size, *self._shape))
            rows.extend(block[::-1].tolist())  # popped from the end: first drawn, first out
        return rows.pop()

    def next_row(self) -> tuple[np.ndarray, int]:
        """The next draw as ``(block, k)``: row ``k`` of the block array, for compiled code.

        The same draws in the same order as ``next`` (a source hands out by one or the other,
        not both), without making Python numbers of them.
        """
        k = self._next
        block = self._block
        if block is None or k == len(block):
            block = self._block = self._draw(*self._args, size=(self._size, *self._shape))
            k = 0
        self._next = k + 1
        return block, k
