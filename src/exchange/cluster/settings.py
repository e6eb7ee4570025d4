"""What an operator sets for an engine node of a cluster (etcd-coordinated); plain values."""

from typing import Annotated

import msgspec
from msgspec import Meta


class ClusterSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    etcd: Annotated[
        str,
        Meta(
            description="run as one node of a cluster coordinated by these etcd members "
            "(comma-separated client URLs; empty: a single engine)",
            extra={"flag": "--cluster", "metavar": "ETCD_URLS"},
        ),
    ] = ""
    node: Annotated[str, Meta(description="this node's name in the cluster (unique)")] = ""
    prefix: Annotated[str, Meta(description="the cluster's etcd key prefix")] = "/exchange/"
    lease_ttl: Annotated[int, Meta(ge=1, description="leader lease, seconds")] = 1
