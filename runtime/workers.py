"""Whether a worker polls the task queue: what `bmsync status` shows and counts."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

# A worker's poll waits up to about a minute for a task before the next one, so a
# running worker has polled within this. Temporal lists a worker that died (killed,
# say) for minutes more, with the time it last polled.
RECENT_POLL = timedelta(seconds=90)
DESCRIBE_TIMEOUT = timedelta(seconds=5)


@dataclass(frozen=True)
class Pollers:
    """The workers Temporal lists on a task queue: polling now, or gone quiet."""

    live: int
    stale: int
    # When the most recent of the stale ones last polled.
    stale_since: datetime | None = None

    def describe(self, now: datetime | None = None) -> str:
        """E.g. "2 poller(s)", or "none polling (1 stale, last seen 4 min ago)"."""
        said = f"{self.live} poller(s)" if self.live else "none polling"
        stale = self.stale_note(now)
        return f"{said} ({stale})" if stale else said

    def stale_note(self, now: datetime | None = None) -> str | None:
        """E.g. "1 stale, last seen 4 min ago", or None when none is stale."""
        if self.stale_since is None:
            return None
        ago = (now or datetime.now(UTC)) - self.stale_since
        return f"{self.stale} stale, last seen {_duration(ago)} ago"


class NoWorker(RuntimeError):
    """No worker polls the task queue; the message says what to start."""


async def require_worker(client: Client, task_queue: str) -> None:
    """Return when a worker polls `task_queue`; NoWorker at once when none does.

    A server that cannot list pollers (Temporal's time-skipping test server) gets
    the benefit of the doubt.
    """
    try:
        pollers = await queue_pollers(client, task_queue)
    except RPCError as exc:
        if exc.status == RPCStatusCode.UNIMPLEMENTED:
            return
        raise
    if not pollers.live:
        stale = pollers.stale_note()
        raise NoWorker(
            f"no worker polls the task queue {task_queue!r}"
            + (f" ({stale})" if stale else "")
            + ": start one with `bmsync worker`, or run `bmsync up`"
        )


async def queue_pollers(
    client: Client, task_queue: str, now: datetime | None = None
) -> Pollers:
    """The workflow pollers of `task_queue`, told apart by when they last polled."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=DESCRIBE_TIMEOUT,
    )
    now = now or datetime.now(UTC)
    seen = [poller.last_access_time.ToDatetime(UTC) for poller in response.pollers]
    stale = [at for at in seen if now - at > RECENT_POLL]
    return Pollers(len(seen) - len(stale), len(stale), max(stale, default=None))


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
