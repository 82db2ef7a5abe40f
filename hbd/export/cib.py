"""A Configuration as a complete CIB document (what `cibadmin --replace --xml-file` loads and
`crm_verify -x FILE` checks). Schema pacemaker-3.0: every Pacemaker 2.x reads it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hbd.export.model import Configuration, Location, Primitive, comment_text, ms_text

VALIDATE_WITH = "pacemaker-3.0"
CRM_FEATURE_SET = "3.0.14"  # Pacemaker 2.0.0's


def render(config: Configuration, header: list[str]) -> str:
    cib = ET.Element(
        "cib",
        {
            "validate-with": VALIDATE_WITH,
            "crm_feature_set": CRM_FEATURE_SET,
            "epoch": "1",
            "num_updates": "0",
            "admin_epoch": "0",
        },
    )
    configuration = ET.SubElement(cib, "configuration")
    crm_config = ET.SubElement(configuration, "crm_config")
    props = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    for name, value in config.properties:
        if name == "stonith-enabled" and value == "false":
            props.append(
                ET.Comment(
                    comment_text(" WARNING: fencing disabled (no stonith_host lines): unsafe, see the top ")
                )
            )
        _nvpair(props, "cib-bootstrap-options", name, value)
    nodes = ET.SubElement(configuration, "nodes")
    for nodeid, name in config.nodes:
        ET.SubElement(nodes, "node", id=str(nodeid), uname=name)
    resources = ET.SubElement(configuration, "resources")
    for group in config.groups:
        element = ET.SubElement(resources, "group", id=group.id)
        _attributes(element, "meta_attributes", group.id, group.meta)
        for member in group.members:
            _primitive(element, config.primitive(member))
    for clone in config.clones:
        _primitive(ET.SubElement(resources, "clone", id=clone.id), config.primitive(clone.member))
    for primitive in config.primitives:
        if primitive.id not in config.grouped:
            _primitive(resources, primitive)
    constraints = ET.SubElement(configuration, "constraints")
    for location in config.locations:
        _location(constraints, location)
    for tag, set_id, pairs in (
        ("rsc_defaults", "rsc-options", config.rsc_defaults),
        ("op_defaults", "op-options", config.op_defaults),
    ):
        if pairs:
            _attributes(ET.SubElement(configuration, tag), "meta_attributes", set_id, pairs, own_id=True)
    ET.SubElement(cib, "status")
    ET.indent(cib, space="  ")
    comments = "".join(f"<!-- {comment_text(line)} -->\n" for line in header if line)
    return comments + ET.tostring(cib, encoding="unicode") + "\n"


def _nvpair(parent: ET.Element, prefix: str, name: str, value: str) -> None:
    ET.SubElement(parent, "nvpair", id=f"{prefix}-{name}", name=name, value=value)


def _attributes(
    parent: ET.Element,
    tag: str,
    owner: str,
    pairs: tuple[tuple[str, str], ...],
    *,
    own_id: bool = False,
) -> None:
    if not pairs:
        return
    set_id = owner if own_id else f"{owner}-{tag}"
    element = ET.SubElement(parent, tag, id=set_id)
    for name, value in pairs:
        _nvpair(element, set_id, name, value)


def _primitive(parent: ET.Element, primitive: Primitive) -> None:
    attrs = {"id": primitive.id, "class": primitive.standard, "type": primitive.type}
    if primitive.provider:
        attrs["provider"] = primitive.provider
    element = ET.SubElement(parent, "primitive", attrs)
    _attributes(element, "instance_attributes", primitive.id, primitive.params)
    _attributes(element, "meta_attributes", primitive.id, primitive.meta)
    if primitive.ops:
        operations = ET.SubElement(element, "operations")
        for op in primitive.ops:
            interval = ms_text(op.interval_ms) if op.interval_ms else "0s"
            op_attrs = {"id": f"{primitive.id}-{op.name}-{interval}", "name": op.name, "interval": interval}
            if op.timeout_ms is not None:
                op_attrs["timeout"] = ms_text(op.timeout_ms)
            ET.SubElement(operations, "op", op_attrs)


def _location(parent: ET.Element, location: Location) -> None:
    if location.node is not None:
        ET.SubElement(
            parent, "rsc_location", id=location.id, rsc=location.rsc, node=location.node, score=location.score
        )
        return
    element = ET.SubElement(parent, "rsc_location", id=location.id, rsc=location.rsc)
    rule_attrs = {"id": f"{location.id}-rule"}
    if location.score_attribute:
        rule_attrs["score-attribute"] = location.score_attribute
    else:
        rule_attrs["score"] = location.score
    rule = ET.SubElement(element, "rule", rule_attrs)
    ET.SubElement(
        rule,
        "expression",
        id=f"{location.id}-rule-expr",
        attribute=location.rule_attribute or "",
        operation="defined",
    )
