"""Worker and console log lines: ids shown, known failures in one line."""

import io
import logging

from temporalio.exceptions import ApplicationError

from runtime.logs import ExtrasFormatter, KnownFailuresFilter


def test_a_known_failure_is_logged_in_one_line_and_a_bug_with_its_trace() -> None:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(ExtrasFormatter("%(name)s %(message)s"))
    handler.addFilter(KnownFailuresFilter())
    logger = logging.getLogger("bmsync.test.quiet")
    logger.addHandler(handler)
    try:
        try:
            raise ApplicationError("100% refused", type="BackMarketBadRequest")
        except ApplicationError:
            logger.warning("activity %s failed", "ship_order", exc_info=True)
        try:
            raise KeyError("missing")
        except KeyError:
            logger.warning("bug", exc_info=True, extra={"order_id": 7})
    finally:
        logger.removeHandler(handler)
    assert isinstance(handler.stream, io.StringIO)
    lines = handler.stream.getvalue().splitlines()

    assert lines[0] == (
        "bmsync.test.quiet activity ship_order failed: "
        "BackMarketBadRequest: 100% refused"
    )
    assert lines[1] == "bmsync.test.quiet bug [order_id=7]"
    assert lines[2].startswith("Traceback")
