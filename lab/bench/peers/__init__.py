"""Drivers for the peer daemons the bench compares hbd with: keepalived, heartbeat 3.0.6 and ucarp.

Each driver renders its daemon's configuration for one node (from lab/bench/peers/base.py's PeerNode, derived
from the topology) into the node's directory and returns the argv that runs the daemon in the foreground
inside the node's namespace. The bench (lab/bench/suite.py) starts and stops them; the drivers start nothing.
"""
