"""Stand-in for Apache Mesos 1.11.0 (master and agent)."""

VERSION = "1.11.0"
BUILD_DATE = "2020-11-24 00:00:00"
BUILD_TIME = 1606176000
BUILD_USER = "root"
GIT_TAG = "1.11.0"
