"""Mesa's event list, bucketed by day with tuple-keyed heaps (the same events, in the same order).

Mesa 3.5's ``EventList`` keeps every pending ``Event`` in one heap ordered by ``Event.__lt__``
(time, then priority, then unique id). Two costs grow with a run's size:

* the comparison is a Python method, called about 2 log N times per event popped;
* with hundreds of thousands of pending events (a large catchment books doses and sessions
  weeks ahead) every push and pop walks a deep heap whose entries are scattered in memory.

Here each entry is the tuple ``(time, priority, unique_id, event)``, which compares in C and
gives exactly Mesa's order, and entries wait in one bucket per day: an event for a later day is
appended to its day's list (no ordering work), and a day's list becomes a heap only when the run
reaches that day. Every event of day ``d`` has ``d <= time < d + 1``, so taking the days in
order and each day's heap in order pops events in exactly Mesa's global order: a run is
unchanged, only faster. Cancellation stays lazy, as in Mesa: a cancelled event is skipped when
it is popped.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush, nsmallest
from itertools import chain
from math import floor, inf

from mesa.time.events import Event, EventList

Entry = tuple[float, int, int, Event]


class BucketedEventList(EventList):
    """``mesa.time.events.EventList`` with day buckets of tuple-keyed heap entries."""

    def __init__(self, events: list[Event] | None = None) -> None:
        super().__init__()
        self._events: list[Entry] = []  # the current day's heap (Mesa's name for the heap)
        self._day = -inf  # the day whose entries are in ``_events``
        self._later: dict[int, list[Entry]] = {}  # later days' entries, unordered
        self._days: list[int] = []  # heap of the days in ``_later``
        for event in events or ():
            self.add_event(event)

    def add_event(self, event: Event) -> None:
        """Add the event to the event list."""
        time = event.time
        entry = (time, event.priority, event.unique_id, event)
        day = floor(time) if time < inf else inf
        if day <= self._day:
            heappush(self._events, entry)
            return
        bucket = self._later.get(day)
        if bucket is None:
            self._later[day] = [entry]
            heappush(self._days, day)
        else:
            bucket.append(entry)

    def pop_event(self) -> Event:
        """Pop the first event that is not cancelled."""
        while True:
            events = self._events
            while events:
                event = heappop(events)[3]
                # The attribute behind Event.CANCELED (a property): read once per event popped.
                if not event._canceled:
                    return event
            if not self._days:
                raise IndexError("Event list is empty")
            self._day = heappop(self._days)
            self._events = self._later.pop(self._day)
            heapify(self._events)

    def today(self) -> list[Entry] | None:
        """The heap of the earliest day with entries, or None when no entry is left.

        For an event loop that pops the entries itself (``KetasimModel._advance_unobserved``)
        rather than calling ``pop_event`` per event: every entry of the heap returned is due
        that day, and ``add_event`` pushes events for that day (or earlier) onto the same list
        until it is empty and the loop asks again. Cancelled entries are left in it (the
        loop skips them, as ``pop_event`` does).
        """
        while not self._events:
            if not self._days:
                return None
            self._day = heappop(self._days)
            self._events = self._later.pop(self._day)
            heapify(self._events)
        return self._events

    def _entries(self):
        """Every entry, cancelled or not, in no particular order."""
        return chain(self._events, *self._later.values())

    def peek_ahead(self, n: int = 1) -> list[Event]:
        """The first ``n`` events that are not cancelled, in order."""
        if self.is_empty():
            raise IndexError("event list is empty")
        live = (x for x in self._entries() if not x[3].CANCELED)
        return [entry[3] for entry in nsmallest(n, live)]

    def pending(self) -> list[Event]:
        """Every event not cancelled, in no particular order."""
        return [x[3] for x in self._entries() if not x[3].CANCELED]

    def compact(self) -> None:
        """Remove all cancelled events."""
        self._events = [x for x in self._events if not x[3].CANCELED]
        heapify(self._events)
        for day in list(self._later):
            kept = [x for x in self._later[day] if not x[3].CANCELED]
            if kept:
                self._later[day] = kept
            else:
                del self._later[day]
        self._days = list(self._later)
        heapify(self._days)

    def clear(self) -> None:
        """Remove every event."""
        self._events = []
        self._later = {}
        self._days = []

    def is_empty(self) -> bool:
        """Whether no event that is not cancelled is pending."""
        return not any(not x[3].CANCELED for x in self._entries())

    def __contains__(self, event: Event) -> bool:
        return not event.CANCELED and any(x[3] is event for x in self._entries())

    def __len__(self) -> int:
        return sum(1 for x in self._entries() if not x[3].CANCELED)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"Event(time={t}, priority={p}, id={i})"
            for t, p, i, e in sorted(self._entries())
            if not e.CANCELED
        )
        return f"BucketedEventList([{inner}])"
