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
import re
import typing
import unicodedata
import urllib.parse

from osc_lib import exceptions

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import version

# Nova's JSON schema for metadata keys (parameter_types.metadata); matched
# whole, so a trailing newline that Python's "$" would let through is
# refused too.
METADATA_KEY_PATTERN = re.compile(r'[a-zA-Z0-9\-_:. ]{1,255}')
METADATA_VALUE_MAX_LENGTH = 255
TAG_MAX_LENGTH = 60
TAG_FORBIDDEN_CHARACTERS = ',/'
DESCRIPTION_MAX_LENGTH = 255

# Keys and tags travel in URL paths; these two would be read as dot
# segments and resolved away by the HTTP stack or a proxy, turning
# "DELETE .../tags/.." into "DELETE /servers/{id}".
DOT_SEGMENTS = ('.', '..')


def _fail(message: str) -> typing.NoReturn:
    raise exceptions.CommandError(message)


def _is_description_character(char: str) -> bool:
    # Nova's valid_description_regex: printable characters of the Basic
    # Multilingual Plane, where horizontal space counts as printable.
    if ord(char) >= 0xFFFF:
        return False
    category = unicodedata.category(char)
    return not category.startswith('C') and (
        not category.startswith('Z') or category == 'Zs'
    )


def validate_property_key(key: str) -> None:
    if not METADATA_KEY_PATTERN.fullmatch(key):
        _fail(
            f'Invalid property key {key!r}: a key is 1 to 255 characters '
            f'of letters, digits, space and "-_:."'
        )


def validate_property_value(key: str, value: str) -> None:
    if len(value) > METADATA_VALUE_MAX_LENGTH:
        _fail(
            f'Invalid value for property {key!r}: {len(value)} characters, '
            f'at most {METADATA_VALUE_MAX_LENGTH} are allowed'
        )


def validate_path_safe(kind: str, value: str) -> None:
    if value in DOT_SEGMENTS:
        _fail(
            f'Invalid {kind} {value!r}: "." and ".." cannot be sent in a '
            f'URL path safely'
        )


def validate_tag(tag: str) -> None:
    if not 1 <= len(tag) <= TAG_MAX_LENGTH:
        _fail(
            f'Invalid tag {tag!r}: a tag is 1 to {TAG_MAX_LENGTH} '
            f'characters, this one has {len(tag)}'
        )
    forbidden = sorted(set(tag) & set(TAG_FORBIDDEN_CHARACTERS))
    if forbidden:
        _fail(
            f'Invalid tag {tag!r}: a tag cannot contain '
            f'{" or ".join(repr(c) for c in forbidden)}'
        )
    if not tag.isascii():
        # A tag travels in the URL path, which Nova decodes as Latin-1
        # (PEP 3333): "ünï" sent as UTF-8 is stored as "Ã¼nÃ¯". The tag
        # list body would be exact, but replaces every tag of the server
        # and would race with its owner's own tag changes.
        _fail(
            f'Invalid tag {tag!r}: only ASCII tags can be written '
            f'exactly; Nova would store this one as another tag'
        )
    validate_path_safe('tag', tag)


def validate_description(description: str) -> None:
    if len(description) > DESCRIPTION_MAX_LENGTH:
        _fail(
            f'Invalid description: {len(description)} characters, at most '
            f'{DESCRIPTION_MAX_LENGTH} are allowed'
        )
    for char in description:
        if not _is_description_character(char):
            _fail(
                f'Invalid description {description!r}: character '
                f'{char!r} (U+{ord(char):04X}) is not allowed; a '
                f'description holds printable characters of the Basic '
                f'Multilingual Plane, without tabs or newlines'
            )


def url_segment(value: str) -> str:
    """Percent-encode a tag or metadata key for one URL path segment.

    openstacksdk joins tags and keys into URLs as they are, so "a?b"
    would reach Nova as tag "a" with a query string.
    """
    return urllib.parse.quote(value, safe='')


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
class Change:
    """The value every selected server should end with, per attribute.

    Built by :func:`change_to_set` and :func:`change_to_unset`, which
    check every value first.
    """

    wanted: tuple[tuple[attributes.Attribute, attributes.Value], ...]

    def required_microversions(self) -> list[tuple[str, str]]:
        return required_microversions(
            attribute for attribute, _value in self.wanted
        )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def change_to_set(
    properties: Mapping[str, str] | None = None,
    description: str | None = None,
    tags: Iterable[str] = (),
) -> Change:
    """The validated change for ``hypervisor servers set``."""
    wanted: list[tuple[attributes.Attribute, attributes.Value]] = []
    if description is not None:
        validate_description(description)
        wanted.append((attributes.description(), description))
    for key, value in (properties or {}).items():
        validate_property_key(key)
        validate_property_value(key, value)
        wanted.append((attributes.property_(key), value))
    for tag in _unique(tags):
        validate_tag(tag)
        wanted.append((attributes.tag(tag), True))
    if not wanted:
        _fail('Nothing to set: give --property, --description or --tag')
    return Change(tuple(wanted))


def change_to_unset(
    property_keys: Iterable[str] = (),
    description: bool = False,
    tags: Iterable[str] = (),
) -> Change:
    """The validated change for ``hypervisor servers unset``."""
    wanted: list[tuple[attributes.Attribute, attributes.Value]] = []
    if description:
        wanted.append((attributes.description(), None))
    for key in _unique(property_keys):
        validate_property_key(key)
        validate_path_safe('property key', key)
        wanted.append((attributes.property_(key), None))
    for tag in _unique(tags):
        validate_tag(tag)
        wanted.append((attributes.tag(tag), False))
    if not wanted:
        _fail('Nothing to unset: give --property, --description or --tag')
    return Change(tuple(wanted))
