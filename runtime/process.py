"""Leaving a process that used Temporal's client."""

import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def run_then_exit(main: Callable[[], object]) -> NoReturn:
    """Run `main`, then leave without tearing the interpreter down.

    Temporal's client keeps native threads that may still reach into Python while
    the interpreter finalizes, which aborts the process ("PyGILState_Release ...
    must be current") after the work is done and reported. Everything the process
    owns is closed by the time `main` returns, so the teardown is skipped: streams
    and logs are flushed and the exit status is kept.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            # What SystemExit itself does with a message.
            sys.stderr.write(f"{exc.code}\n")
            code = 1
    except BaseException:
        logging.shutdown()
        raise
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
