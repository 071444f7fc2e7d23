"""The events contract: every event survives a JSON round trip, unknown kinds are refused."""

import json

import pytest

from huggingtweets.events import (
    CancelToken,
    EpochEnd,
    Message,
    StageFinished,
    StageStarted,
    TrainStep,
    Upload,
    event_from_dict,
)

EXAMPLES = [
    StageStarted(stage="train", index=3, total=6, reason="starting"),
    StageFinished(stage="fetch", index=1, total=6, skipped=True, result={"users": ["a"]}),
    TrainStep(
        step=4,
        total_steps=10,
        epoch=1,
        epochs=2,
        loss=3.5,
        learning_rate=1e-3,
        tokens_per_second=1200.0,
        eta_seconds=7.5,
    ),
    EpochEnd(epoch=1, epochs=2, train_loss=3.9, validation_loss=3.7, perplexity=40.4),
    Upload(bytes_done=10, bytes_total=100, path="model.safetensors"),
    Message(text="waiting 15 s for the rate limit", level="warning"),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_round_trip_through_json(event):
    data = json.loads(json.dumps(event.to_dict()))
    assert data["kind"] == event.kind
    assert event_from_dict(data) == event


def test_kinds_are_distinct():
    assert len({e.kind for e in EXAMPLES}) == len(EXAMPLES)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown event kind 'nope'"):
        event_from_dict({"kind": "nope"})


def test_cancel_token():
    token = CancelToken()
    assert not token.cancelled
    token.cancel()
    assert token.cancelled
