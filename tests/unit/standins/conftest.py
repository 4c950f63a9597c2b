"""Unit tests of the Mesos/Marathon stand-ins import them straight from tests/standins."""
import os
import sys

import pytest

STANDINS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "standins")
if STANDINS not in sys.path:
    sys.path.append(STANDINS)


class Clock:
    """A monotonic clock the test moves by hand (``clock.now += seconds``)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()
