"""Log lines that show the ids a record carries, for consoles and container logs."""

import logging

from temporalio.exceptions import ApplicationError

# What every LogRecord has; anything else on a record came as `extra`. uvicorn
# adds `color_message`, its message again with terminal colour codes, whatever
# its own colour setting.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
    # What the SDK's core forwards with each line: its fields, left out as the
    # core's own metadata rather than ours.
    "temporal_log",
}
# Where the SDK's core sends its log lines (runtime.temporal).
CORE_LOGGER = "temporalio.core"


class ExtrasFormatter(logging.Formatter):
    """Appends a record's extra fields (ids and states, never payloads) as k=v."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802
        line = super().formatMessage(record)
        extras = [
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _STANDARD
            and not key.startswith(("_", "temporal_"))
            and value is not None
        ]
        return f"{line} [{' '.join(extras)}]" if extras else line


class KnownFailuresFilter(logging.Filter):
    """Drops the stack trace of failures the engine raised on purpose.

    An activity that fails with an ApplicationError (a Back Market answer, a rule)
    says all in its message; a trace stays for anything else, which is a bug.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ApplicationError):
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {error.type}: {error.message}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def log_to_stderr(level: int = logging.INFO) -> None:
    """Plain timestamped lines with their ids, as `python worker.py` writes them."""
    handler = logging.StreamHandler()
    handler.setFormatter(ExtrasFormatter("%(asctime)s %(name)s %(message)s"))
    handler.addFilter(KnownFailuresFilter())
    logging.basicConfig(level=level, handlers=[handler])
