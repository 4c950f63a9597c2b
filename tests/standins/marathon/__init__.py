"""Stand-in for Marathon 1.11.24."""

VERSION = "1.11.24"
BUILDREF = "90619da70d79a2ecf19368a21c6a695ea981bd74"
