"""``caplog``: pytest's ``LogCaptureFixture``.

The fixture's handler is attached to the root logger (and to the loggers that
do not propagate) from the fixture's set-up to its teardown, with pytest's
format (``log_format``, ``log_date_format``, ``log_auto_indent``) and level
(``log_level``) settings. Records are kept per phase when the engine announces
phases (`dbtest.worker.builtins.phases.enter_phase`): ``records`` and ``text`` are the current phase's, as under
pytest.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from io import StringIO

from . import phases

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import Any

DEFAULT_LOG_FORMAT = "%(levelname)-8s %(name)s:%(filename)s:%(lineno)d %(message)s"
DEFAULT_LOG_DATE_FORMAT = "%H:%M:%S"
_ANSI_ESCAPE_SEQ = re.compile(r"\x1b\[[\d;]+m")


def _remove_ansi_escape_sequences(text: str) -> str:
    return _ANSI_ESCAPE_SEQ.sub("", text)


def setting(config: Any, name: str) -> Any:
    """A logging setting as pytest reads it: the option, else the ini value; None if unset or unknown."""
    for read in ("getoption", "getini"):
        get = getattr(config, read, None)
        if get is None:
            continue
        try:
            value = get(name)
        except (ValueError, KeyError, AttributeError):
            continue
        if value not in (None, "", []):
            return value
    return None


def level_of(value: Any, name: str) -> int | None:
    """A level setting's number (``INFO``, ``info``, ``20``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.upper()
    try:
        return int(getattr(logging, value, value))
    except ValueError:
        raise ValueError(
            f"'{value}' is not recognized as a logging level name for '{name}'. "
            "Please consider passing the logging level num instead."
        ) from None


def _strtobool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {value!r}")


def auto_indent_of(option: Any) -> int:
    """pytest's ``log_auto_indent``: 0 off, -1 automatic, >0 a fixed indentation."""
    if option is None or option is False:
        return 0
    if option is True:
        return -1
    if isinstance(option, int):
        return max(option, 0)
    if isinstance(option, str):
        try:
            return max(int(option), 0)
        except ValueError:
            pass
        try:
            return -1 if _strtobool(option) else 0
        except ValueError:
            return 0
    return 0


class PercentStyleMultiline(logging.PercentStyle):
    """Formats each line of a multi-line message as pytest does (``log_auto_indent``)."""

    def __init__(self, fmt: str, auto_indent: Any) -> None:
        super().__init__(fmt)
        self._auto_indent = auto_indent_of(auto_indent)

    def format(self, record: logging.LogRecord) -> str:
        if "\n" in record.message:
            # A call's own extra={"auto_indent": ...} wins over the setting.
            auto_indent = auto_indent_of(record.auto_indent) if hasattr(record, "auto_indent") else self._auto_indent
            if auto_indent:
                lines = record.message.splitlines()
                formatted = self._fmt % {**record.__dict__, "message": lines[0]}
                if auto_indent < 0:
                    indentation = _remove_ansi_escape_sequences(formatted).find(lines[0])
                else:
                    indentation = auto_indent
                lines[0] = formatted
                return ("\n" + " " * indentation).join(lines)
        return self._fmt % record.__dict__  # type: ignore[operator]


class DatetimeFormatter(logging.Formatter):
    """Formats ``%f`` (microseconds) in ``log_date_format`` with datetime, as pytest does."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt and "%f" in datefmt:
            from datetime import datetime, timedelta, timezone

            ct = self.converter(record.created)
            tz = timezone(timedelta(seconds=ct.tm_gmtoff), ct.tm_zone)
            dt = datetime(*ct[0:6], microsecond=int(record.msecs * 1000), tzinfo=tz)
            return dt.strftime(datefmt)
        return super().formatTime(record, datefmt)


def make_formatter(config: Any) -> logging.Formatter:
    log_format = setting(config, "log_format") or DEFAULT_LOG_FORMAT
    date_format = setting(config, "log_date_format") or DEFAULT_LOG_DATE_FORMAT
    formatter = DatetimeFormatter(log_format, date_format)
    formatter._style = PercentStyleMultiline(formatter._style._fmt, setting(config, "log_auto_indent"))
    return formatter


class LogCaptureHandler(logging.StreamHandler):
    """Keeps the records it handles, and their formatted text."""

    def __init__(self) -> None:
        super().__init__(StringIO())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        super().emit(record)

    def reset(self) -> None:
        self.records = []
        self.stream = StringIO()

    def clear(self) -> None:
        self.records.clear()
        self.stream = StringIO()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        if logging.raiseExceptions:
            # A log call whose message cannot be formatted fails the test
            # (logging itself would only print "Logging error" on stderr).
            raise  # noqa: PLE0704


class CatchingLogs:
    """Attaches a handler to the root logger and to the loggers that do not
    propagate; with a level, lowers the root logger's to it."""

    def __init__(self, handler: logging.Handler, level: int | None = None) -> None:
        self.handler = handler
        self.level = level
        self.attached: list[logging.Logger] = []
        self.orig_level = logging.NOTSET

    def __enter__(self) -> logging.Handler:
        root = logging.getLogger()
        if self.level is not None:
            self.handler.setLevel(self.level)
        root.addHandler(self.handler)
        self.attached.append(root)
        for logger in list(root.manager.loggerDict.values()):
            if isinstance(logger, logging.Logger) and not logger.propagate and logger is not root:
                logger.addHandler(self.handler)
                self.attached.append(logger)
        if self.level is not None:
            self.orig_level = root.level
            root.setLevel(min(self.orig_level, self.level))
        return self.handler

    def __exit__(self, *exc_info: object) -> None:
        root = logging.getLogger()
        if self.level is not None:
            root.setLevel(self.orig_level)
        for logger in self.attached:
            logger.removeHandler(self.handler)
        self.attached.clear()


class LogCaptureFixture:
    """Access to, and control of, the logs a test emits."""

    def __init__(self, config: Any) -> None:
        self._initial_handler_level: int | None = None
        self._initial_logger_levels: dict[str | None, int] = {}
        self._initial_disabled_logging_level: int | None = None
        self._handler = LogCaptureHandler()
        self._handler.setFormatter(make_formatter(config))
        self._catching = CatchingLogs(self._handler, level_of(setting(config, "log_level"), "log_level"))
        self._records_by_phase: dict[str, list[logging.LogRecord]] = {}

    def _start(self) -> None:
        self._catching.__enter__()
        self._records_by_phase[phases.current_phase] = self._handler.records
        phases.listen_to_phases(self._phase_started)

    def _phase_started(self, when: str) -> None:
        self._handler.reset()
        self._records_by_phase[when] = self._handler.records

    def _finalize(self) -> None:
        """Restores the levels `set_level` changed and detaches the handler."""
        phases.stop_listening_to_phases(self._phase_started)
        if self._initial_handler_level is not None:
            self.handler.setLevel(self._initial_handler_level)
        for logger_name, level in self._initial_logger_levels.items():
            logging.getLogger(logger_name).setLevel(level)
        if self._initial_disabled_logging_level is not None:
            logging.disable(self._initial_disabled_logging_level)
            self._initial_disabled_logging_level = None
        self._catching.__exit__(None, None, None)

    @property
    def handler(self) -> LogCaptureHandler:
        """The handler that keeps the records."""
        return self._handler

    def get_records(self, when: str) -> list[logging.LogRecord]:
        """The records of one phase: ``"setup"``, ``"call"`` or ``"teardown"``."""
        return self._records_by_phase.get(when, [])

    @property
    def text(self) -> str:
        """The formatted log text."""
        return _remove_ansi_escape_sequences(self.handler.stream.getvalue())

    @property
    def records(self) -> list[logging.LogRecord]:
        """The log records."""
        return self.handler.records

    @property
    def record_tuples(self) -> list[tuple[str, int, str]]:
        """``(logger name, level, message)`` of each record."""
        return [(r.name, r.levelno, r.getMessage()) for r in self.records]

    @property
    def messages(self) -> list[str]:
        """The interpolated message of each record (no level, time or traceback)."""
        return [r.getMessage() for r in self.records]

    def clear(self) -> None:
        """Forgets the records and the text captured so far."""
        self.handler.clear()

    def _force_enable_logging(self, level: int | str, logger_obj: logging.Logger) -> int:
        """Lifts ``logging.disable`` enough for ``level`` to be logged; returns the disabled level it found."""
        original_disable_level: int = logger_obj.manager.disable
        if isinstance(level, str):
            level = logging.getLevelName(level)
        if not isinstance(level, int):
            logging.disable(logging.NOTSET)
        elif not logger_obj.isEnabledFor(level):
            disable_level = max(level - 10, logging.NOTSET)
            logging.disable(disable_level)
        return original_disable_level

    def set_level(self, level: int | str, logger: str | None = None) -> None:
        """Sets the level of a logger (the root logger by default) and of the
        handler for the rest of the test; both are restored at teardown."""
        logger_obj = logging.getLogger(logger)
        self._initial_logger_levels.setdefault(logger, logger_obj.level)
        logger_obj.setLevel(level)
        if self._initial_handler_level is None:
            self._initial_handler_level = self.handler.level
        self.handler.setLevel(level)
        initial_disabled = self._force_enable_logging(level, logger_obj)
        if self._initial_disabled_logging_level is None:
            self._initial_disabled_logging_level = initial_disabled

    @contextmanager
    def at_level(self, level: int | str, logger: str | None = None) -> Generator[None]:
        """`set_level` for the ``with`` block only."""
        logger_obj = logging.getLogger(logger)
        orig_level = logger_obj.level
        logger_obj.setLevel(level)
        handler_orig_level = self.handler.level
        self.handler.setLevel(level)
        original_disable_level = self._force_enable_logging(level, logger_obj)
        try:
            yield
        finally:
            logger_obj.setLevel(orig_level)
            self.handler.setLevel(handler_orig_level)
            logging.disable(original_disable_level)

    @contextmanager
    def filtering(self, filter_: logging.Filter) -> Generator[None]:
        """Adds a filter to the handler for the ``with`` block."""
        self.handler.addFilter(filter_)
        try:
            yield
        finally:
            self.handler.removeFilter(filter_)
