"""Saved histories replay on the current workflow code.

A change that would break workflows already running (a new activity call, a
reordered step) fails here. If the break is intended, handle it with
`workflow.patched`, or record the histories again with
`scripts/record_histories.py` once no old workflow can still be running.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import workflow_runner
from workflows import ALL_WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_workflow_has_a_saved_history() -> None:
    recorded = {path.stem.split("-")[0] for path in HISTORIES}
    assert recorded == {workflow.__name__ for workflow in ALL_WORKFLOWS}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_a_saved_history_replays_cleanly(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )

    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)

    assert result.replay_failure is None
