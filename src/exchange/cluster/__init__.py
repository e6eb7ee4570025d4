"""Engines on several machines: a quorum-replicated journal on etcd, one leader at a time.

etcd does the consensus (leader lease, fencing epoch, the replicated log
window); the engine keeps its own journal and state on every node.
"""
