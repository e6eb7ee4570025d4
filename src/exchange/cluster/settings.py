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
    # etcd TLS and login, and the log's signing key (review C2; README "Security")
    etcd_ca: Annotated[str, Meta(description="CA of the etcd members' certificates")] = ""
    etcd_cert: Annotated[str, Meta(description="this node's etcd client certificate")] = ""
    etcd_key: Annotated[str, Meta(description="its private key (mode 0600)")] = ""
    etcd_server_name: Annotated[
        str,
        Meta(
            description="the name in every member's certificate (default: the first "
            "endpoint's host)"
        ),
    ] = ""
    etcd_user: Annotated[
        str, Meta(description="etcd user (RBAC: read-write under the prefix only)")
    ] = ""
    etcd_password_file: Annotated[
        str, Meta(description="its password, mode 0600 (else $EXCHANGE_ETCD_PASSWORD)")
    ] = ""
    log_key: Annotated[
        str,
        Meta(
            description="32-byte log signing key, mode 0600, the same file on every node "
            "(required with a cluster)"
        ),
    ] = ""
    log_window: Annotated[
        int,
        Meta(ge=100, description="commands the replicated log keeps at most behind the leader"),
    ] = 1_000_000
    log_retain: Annotated[
        int, Meta(ge=0, description="commands the log keeps behind the slowest node anyway")
    ] = 10_000
