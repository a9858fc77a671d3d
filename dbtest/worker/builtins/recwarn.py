"""``recwarn``: pytest's ``WarningsRecorder``."""

from __future__ import annotations

import warnings

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class WarningsRecorder(warnings.catch_warnings):
    """Records the warnings raised while it is entered; a list of ``warnings.WarningMessage``."""

    def __init__(self) -> None:
        super().__init__(record=True)
        self._entered = False
        self._list: list[warnings.WarningMessage] = []

    @property
    def list(self) -> list[warnings.WarningMessage]:
        """The recorded warnings."""
        return self._list

    def __getitem__(self, i: int) -> warnings.WarningMessage:
        return self._list[i]

    def __iter__(self) -> Iterator[warnings.WarningMessage]:
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def pop(self, cls: type[Warning] = Warning) -> warnings.WarningMessage:
        """Removes and returns the first warning of class ``cls`` (or, failing
        that, of the subclass of ``cls`` least derived among them); raises
        ``AssertionError`` if there is none."""
        best_idx: int | None = None
        for i, w in enumerate(self._list):
            if w.category == cls:
                return self._list.pop(i)  # an exact match ends the search
            if issubclass(w.category, cls) and (
                best_idx is None or not issubclass(w.category, self._list[best_idx].category)
            ):
                best_idx = i
        if best_idx is not None:
            return self._list.pop(best_idx)
        __tracebackhide__ = True
        raise AssertionError(f"{cls!r} not found in warning list")

    def clear(self) -> None:
        """Forgets the recorded warnings."""
        self._list[:] = []

    def __enter__(self) -> WarningsRecorder:  # type: ignore[override]
        if self._entered:
            __tracebackhide__ = True
            raise RuntimeError(f"Cannot enter {self!r} twice")
        recorded = super().__enter__()
        assert recorded is not None  # record=True
        self._list = recorded
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._entered:
            __tracebackhide__ = True
            raise RuntimeError(f"Cannot exit {self!r} without entering first")
        super().__exit__(*exc_info)
        # catch_warnings does not reset its state: without this it could not be entered again.
        self._entered = False
