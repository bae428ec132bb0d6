#   Licensed under the Apache License, Version 2.0 (the "License"); you may
#   not use this file except in compliance with the License. You may obtain
#   a copy of the License at
#
#        http://www.apache.org/licenses/LICENSE-2.0
#
#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#   WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#   License for the specific language governing permissions and limitations
#   under the License.

"""The attributes a run changes on a server, and their values.

One model for ``set``, ``unset``, ``restore`` and the journal: an
attribute is the description, one property (metadata key) or one tag.
Its value is the text (``None`` when absent) for the first two, and
whether the server carries it for a tag. A change is the value before
and after.
"""

from __future__ import annotations

import dataclasses
import typing

from osc_hypervisor_servers.core import model

AttributeKind = typing.Literal['description', 'property', 'tag']
Value = str | bool | None

DESCRIPTION: AttributeKind = 'description'
PROPERTY: AttributeKind = 'property'
TAG: AttributeKind = 'tag'


@dataclasses.dataclass(frozen=True, order=True)
class Attribute:
    kind: AttributeKind
    #: The property key or the tag; empty for the description.
    name: str = ''

    def value_on(self, server: model.ServerState) -> Value:
        if self.kind == DESCRIPTION:
            return server.description
        if self.kind == PROPERTY:
            return server.metadata.get(self.name)
        return self.name in server.tags

    def __str__(self) -> str:
        if self.kind == DESCRIPTION:
            return 'description'
        return f'{self.kind} {self.name}'


def description() -> Attribute:
    return Attribute(DESCRIPTION)


def property_(key: str) -> Attribute:
    return Attribute(PROPERTY, key)


def tag(name: str) -> Attribute:
    return Attribute(TAG, name)


@dataclasses.dataclass(frozen=True)
class AttributeChange:
    attribute: Attribute
    before: Value
    after: Value

    def holds_on(self, server: model.ServerState) -> bool:
        """Whether ``server`` carries the value this change writes."""
        return self.attribute.value_on(server) == self.after
