from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Demo:
    """A demo dataset: ``data`` in canonical form and ``truth`` the generator used."""

    data: object
    truth: dict = field(default_factory=dict)
    description: str = ""
