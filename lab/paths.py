"""Where the lab's files live, in one place: modules move between packages, these locations do not."""

from __future__ import annotations

from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = LAB_DIR.parent
TOPOLOGY_DIR = LAB_DIR / "topologies"
SCENARIO_DIR = LAB_DIR / "scenarios"
BENCH_SCENARIO_DIR = LAB_DIR / "bench" / "scenarios"
IMAGES_DIR = LAB_DIR / "images"
NODE_DIR = LAB_DIR / "node"  # programs that run inside a node
SERVICE_DIR = NODE_DIR / "service"
SERVICE_SCRIPT = SERVICE_DIR / "hblab-service"
FENCE_AGENT = NODE_DIR / "fence_lab"
DISK_WRITER = NODE_DIR / "disk_writer.py"
EXPERIMENTS_DIR = PROJECT_ROOT / "experiments"
