"""The bottom of the checks: what every checker returns, and the error for a malformed expect item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Number = float | int | None


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    value: float | None = None  # the headline number (seconds, a count ...)
    unit: str = ""
    detail: str = ""
    values: dict[str, Number] = field(default_factory=dict)  # every number worth aggregating
    check: str = ""  # the checker behind `name` (they differ when an expect item sets `name:`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check or self.name,
            "ok": self.ok,
            "value": self.value,
            "unit": self.unit,
            "detail": self.detail,
            "values": dict(self.values),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=str(obj.get("name", "?")),
            ok=bool(obj.get("ok", False)),
            value=obj.get("value"),
            unit=str(obj.get("unit", "")),
            detail=str(obj.get("detail", "")),
            values=dict(obj.get("values") or {}),
            check=str(obj.get("check", "")),
        )


class CheckParamError(ValueError):
    """A parameter of an expect item is missing or malformed (the message starts with its YAML path)."""
