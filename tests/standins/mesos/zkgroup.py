"""Re-export of the shared Mesos ZooKeeper group (contender/detector)."""
from standin_common.mesosgroup import (GroupState, MasterGroup, MEMBER_RE, StaticDetector,  # noqa: F401
                                       leader_url, sort_members)
