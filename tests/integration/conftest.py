"""Integration tests run against real hosts: the molecule scenarios' containers or
the local cluster. They take addresses from the environment (set by each
scenario's verifier env) and never talk to anything but loopback and the
project's own containers."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
