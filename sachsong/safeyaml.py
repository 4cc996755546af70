"""PyYAML's safe loader hardened for the YAML engineers write (rule packs, dataset specs, registries)."""

from __future__ import annotations

import yaml

MAX_PACK_DEPTH = 32


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (`*name`, `<<: *name`) and with a nesting limit.

    Aliases are what make a "billion laughs" document of a few hundred bytes expand to gigabytes; specs and packs never
    need them. PyYAML composes nested nodes recursively, so depth is checked while composing, before Python's
    recursion limit is reached.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed in this file", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_PACK_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_PACK_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
