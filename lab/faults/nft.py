"""nftables tables that drop packets on one interface of a node, added and removed verifiably: a rule that
did not land fails the fault (a latency measured after a silent failure is worse than none)."""

from __future__ import annotations

from lab.faults.base import FaultContext, FaultError

NFT_TABLE_PREFIX = "hblab_"


def nft_table(kind: str, iface: str) -> str:
    return f"{NFT_TABLE_PREFIX}{kind}_{iface.replace('.', '_')}"


def nft_add(ctx: FaultContext, fault: str, node: str, table: str, match: str, direction: str) -> None:
    """A table with input/output chains dropping `match` packets on the interface (direction in/out/both)."""
    lines = [f"add table inet {table}"]
    for hook, dir_name, iface_key in (("input", "in", "iifname"), ("output", "out", "oifname")):
        if direction in (dir_name, "both"):
            lines.append(f"add chain inet {table} {hook} {{ type filter hook {hook} priority -10; }}")
            lines.append(f"add rule inet {table} {hook} {iface_key} {match}")
    ctx.backend.exec(node, ["nft", "-f", "-"], input_text="\n".join(lines) + "\n")
    if not nft_has(ctx, node, table):
        raise FaultError(f"{fault}: nft table {table} is not in {node} after adding it")


def nft_has(ctx: FaultContext, node: str, table: str) -> bool:
    res = ctx.backend.exec(node, ["nft", "list", "table", "inet", table], check=False)
    return res.returncode == 0 and "drop" in res.stdout


def nft_del(ctx: FaultContext, fault: str, node: str, table: str) -> None:
    """Remove the table, verified."""
    if nft_has(ctx, node, table):
        ctx.backend.exec(node, ["nft", "delete", "table", "inet", table])
    if nft_has(ctx, node, table):
        raise FaultError(f"{fault}: nft table {table} still in {node}")
