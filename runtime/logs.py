"""Log lines that show the ids a record carries, for consoles and container logs."""

import logging

# What every LogRecord has; anything else on a record came as `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class ExtrasFormatter(logging.Formatter):
    """Appends a record's extra fields (ids and states, never payloads) as k=v."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _STANDARD
            and not key.startswith(("_", "temporal_"))
            and value is not None
        ]
        return f"{line} [{' '.join(extras)}]" if extras else line


def log_to_stderr(level: int = logging.INFO) -> None:
    """Plain timestamped lines with their ids, as `python worker.py` writes them."""
    handler = logging.StreamHandler()
    handler.setFormatter(ExtrasFormatter("%(asctime)s %(name)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
