"""Every timeout and retry policy the workflows use, in one place."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Error types raised as non-retryable ApplicationErrors by the activities: a 4xx from
# Back Market or an answer that does not fit (the kinds of backmarket.errors), data
# the database refuses, or a rule a person must fix. Retrying any of these only
# repeats the same answer. The activities mark them non-retryable themselves; the
# list keeps them so should one forget.
NON_RETRYABLE_ERRORS = [
    "BackMarketPermanent",
    "BackMarketBadRequest",
    "BackMarketUnauthorized",
    "BackMarketForbidden",
    "BackMarketNotFound",
    "BackMarketUnprocessable",
    "BackMarketPayloadError",
    "BadData",
    "CommitRejected",
    "AccountMissing",
]

# Database work is local and quick; a longer wait means something is wrong.
DATABASE_TIMEOUT = timedelta(seconds=30)
DATABASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# A Back Market call may wait for the pacer's budget before it is sent, so its
# timeout covers a full rate-limit window on top of the request itself.
BACKMARKET_TIMEOUT = timedelta(seconds=90)
# Retries go on for as long as Back Market is down (5xx, 429, timeouts): an order
# that is eventually accepted late is better than one dropped.
BACKMARKET_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# Activities that call Back Market heartbeat every few seconds: a worker that dies
# mid-call is noticed after this, not after the whole start-to-close timeout.
BACKMARKET_HEARTBEAT = timedelta(seconds=20)

# Reading every changed order, all pages, before anything is acted on.
IMPORT_FETCH_TIMEOUT = timedelta(minutes=10)
# An import run is repeated by its schedule anyway, so it gives up sooner.
IMPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# A quantity pass may read every listing (paced at about 2 a second) and wait for a
# bulk task (minutes on Back Market); it heartbeats between pages, listings and polls.
QUANTITY_PASS_TIMEOUT = timedelta(minutes=45)
QUANTITY_PASS_HEARTBEAT = timedelta(minutes=5)
# A failed pass is run again by Temporal; it re-reads before writing, so repeating
# it never writes twice.
QUANTITY_PASS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# Waking the quantity sync is a hint, not a duty: the periodic reconcile catches a
# change whose notification was lost, so this gives up quickly.
NOTIFY_TIMEOUT = timedelta(seconds=10)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# Reading every listing, or a batch of BackBox standings at 2 a second.
LISTING_READ_TIMEOUT = timedelta(minutes=30)
LISTING_READ_HEARTBEAT = timedelta(minutes=5)
