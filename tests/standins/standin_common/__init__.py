"""Helpers shared by the Mesos and Marathon stand-ins (stdlib only)."""
