"""HERALD_WEBHOOK_* settings: the defaults are the Standard Webhooks schedule and limits, and a
setting that makes no sense stops the process at start instead of misbehaving later."""

from __future__ import annotations

import pytest

from app.webhooks.config import SCHEDULE, WebhookSettings


def test_the_defaults_follow_the_standard_webhooks_schedule() -> None:
    settings = WebhookSettings.from_env({})
    assert settings.schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000) == SCHEDULE
    assert (settings.timeout, settings.disable_after) == (15, 5 * 86_400)
    assert settings.dispatch
    assert not settings.allow_private


def test_settings_are_read_from_the_environment() -> None:
    settings = WebhookSettings.from_env(
        {
            "HERALD_WEBHOOK_RETRY_SCHEDULE": "0, 0.5,2",
            "HERALD_WEBHOOK_ALLOW_PRIVATE": "1",
            "HERALD_WEBHOOK_DISPATCH": "0",
            "HERALD_WEBHOOK_CONCURRENCY": "2",
        }
    )
    assert settings.schedule == (0, 0.5, 2)
    assert settings.allow_private
    assert not settings.dispatch
    assert settings.concurrency == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HERALD_WEBHOOK_RETRY_SCHEDULE", ",".join(["1"] * 21)),
        ("HERALD_WEBHOOK_RETRY_SCHEDULE", "0,-5"),
        ("HERALD_WEBHOOK_TIMEOUT", "0"),
        ("HERALD_WEBHOOK_CONCURRENCY", "0"),
        ("HERALD_WEBHOOK_JITTER", "2"),
        ("HERALD_WEBHOOK_TIMEOUT", "soon"),
    ],
)
def test_a_setting_that_makes_no_sense_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="HERALD_WEBHOOK_"):
        WebhookSettings.from_env({name: value})
