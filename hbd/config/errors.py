"""Problems found in configuration files, collected rather than raised one at a time.

A parser never stops at the first mistake: it records every problem in a `Diagnostics`
and carries on with a best-effort value, so `hbd check` shows the whole list at once.
The loader raises a single `ConfigError` at the end. Warnings travel separately: they are
returned beside the configuration, never raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One finding: `FILE:LINE: message (hint)`.

    `line` is None for a finding about the file as a whole (missing file, bad permissions,
    no `node` directive at all); it then prints as `FILE: message (hint)`.
    """

    file: str
    line: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{place}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(Exception):
    """Every error of every configuration file, raised once by the loader."""

    def __init__(self, problems: Iterable[Problem], warnings: Iterable[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        self.warnings: list[Problem] = list(warnings)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass
class Diagnostics:
    """Errors and warnings for one file, appended to while parsing."""

    file: str
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, line: int | None, message: str, hint: str | None = None) -> None:
        self.errors.append(Problem(self.file, line, message, hint))

    def warn(self, line: int | None, message: str, hint: str | None = None) -> None:
        self.warnings.append(Problem(self.file, line, message, hint))

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.errors, self.warnings)
