"""Poll policies compute delays; they never sleep."""

from __future__ import annotations

import pytest

from assistant_bridge import AdaptivePolling, FixedInterval
from assistant_bridge.exceptions import ConfigurationError


class TestFixedInterval:
    def test_same_delay_every_time(self) -> None:
        """The seed's behaviour: one second, always."""
        policy = FixedInterval()
        assert [policy.delay(n, None) for n in range(3)] == [1.0, 1.0, 1.0]

    def test_ignores_server_hint_unless_told(self) -> None:
        """The hint is opt-in for the fixed policy."""
        assert FixedInterval(2.0).delay(0, 300) == 2.0
        assert FixedInterval(2.0, honour_server_hint=True).delay(0, 300) == 0.3


class TestAdaptivePolling:
    def test_grows_to_the_cap(self) -> None:
        """Short first waits, growing geometrically, never above the cap."""
        policy = AdaptivePolling(initial=0.1, factor=2.0, cap=1.0)
        delays = [policy.delay(n, None) for n in range(6)]
        assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
        assert delays[4:] == [1.0, 1.0]

    def test_server_hint_wins(self) -> None:
        """openai-poll-after-ms replaces the computed delay."""
        assert AdaptivePolling().delay(5, 750) == 0.75

    def test_server_hint_is_bounded(self) -> None:
        """A huge hint cannot stall an ask."""
        assert AdaptivePolling(max_server_hint=3.0).delay(0, 3_600_000) == 3.0

    def test_negative_values_refused(self) -> None:
        """Bad settings fail at construction with the field's name."""
        with pytest.raises(ConfigurationError, match="initial"):
            AdaptivePolling(initial=-1)
