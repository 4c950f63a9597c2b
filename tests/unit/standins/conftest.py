"""Unit tests of the Mesos/Marathon stand-ins import them straight from tests/standins."""
import os
import sys

STANDINS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "standins")
if STANDINS not in sys.path:
    sys.path.append(STANDINS)
