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

"""The change an operator asks for, checked against Nova's own rules.

Everything here runs before the first API call, so that bad input never
leaves a hypervisor half-changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
import dataclasses

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import rules
from osc_hypervisor_servers.runner import errors


def required_microversions(
    changed: Iterable[attributes.Attribute],
) -> list[tuple[str, str]]:
    """(microversion, purpose) pairs needed to change these attributes."""
    kinds = {attribute.kind for attribute in changed}
    needed = []
    if attributes.DESCRIPTION in kinds:
        needed.append((version.DESCRIPTION, 'to change descriptions'))
    if attributes.TAG in kinds:
        needed.append((version.TAGS, 'to change tags'))
    return needed


@dataclasses.dataclass(frozen=True)
class ChangeRequest:
    """The value every selected server should end with, per attribute.

    Built by :func:`to_set` and :func:`to_unset`, which check every value
    first.
    """

    wanted: tuple[tuple[attributes.Attribute, attributes.Value], ...]

    def required_microversions(self) -> list[tuple[str, str]]:
        return required_microversions(
            attribute for attribute, _value in self.wanted
        )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def to_set(
    properties: Mapping[str, str] | None = None,
    description: str | None = None,
    tags: Iterable[str] = (),
) -> ChangeRequest:
    """The checked request of ``hypervisor servers set``."""
    wanted: list[tuple[attributes.Attribute, attributes.Value]] = []
    if description is not None:
        errors.refuse_if(rules.description_problem(description))
        wanted.append((attributes.description(), description))
    for key, value in (properties or {}).items():
        errors.refuse_if(rules.property_key_problem(key))
        errors.refuse_if(rules.property_value_problem(key, value))
        wanted.append((attributes.property_(key), value))
    for tag in _unique(tags):
        errors.refuse_if(rules.tag_problem(tag))
        wanted.append((attributes.tag(tag), True))
    if not wanted:
        errors.refuse(
            'Nothing to set: give --property, --description or --tag'
        )
    return ChangeRequest(tuple(wanted))


def to_unset(
    property_keys: Iterable[str] = (),
    description: bool = False,
    tags: Iterable[str] = (),
) -> ChangeRequest:
    """The checked request of ``hypervisor servers unset``."""
    wanted: list[tuple[attributes.Attribute, attributes.Value]] = []
    if description:
        wanted.append((attributes.description(), None))
    for key in _unique(property_keys):
        errors.refuse_if(rules.property_key_problem(key))
        errors.refuse_if(rules.path_segment_problem('property key', key))
        wanted.append((attributes.property_(key), None))
    for tag in _unique(tags):
        errors.refuse_if(rules.tag_problem(tag))
        wanted.append((attributes.tag(tag), False))
    if not wanted:
        errors.refuse(
            'Nothing to unset: give --property, --description or --tag'
        )
    return ChangeRequest(tuple(wanted))
