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

import dataclasses
import re
import unicodedata
import urllib.parse

from osc_lib import exceptions

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

DESCRIPTION_MICROVERSION = '2.19'
TAGS_MICROVERSION = '2.26'


def _fail(message):
    raise exceptions.CommandError(message)


def _is_description_character(char):
    # Nova's valid_description_regex: printable characters of the Basic
    # Multilingual Plane, where horizontal space counts as printable.
    if ord(char) >= 0xFFFF:
        return False
    category = unicodedata.category(char)
    return not category.startswith('C') and (
        not category.startswith('Z') or category == 'Zs'
    )


def validate_property_key(key):
    if not METADATA_KEY_PATTERN.fullmatch(key):
        _fail(
            f'Invalid property key {key!r}: a key is 1 to 255 characters '
            f'of letters, digits, space and "-_:."'
        )


def validate_property_value(key, value):
    if len(value) > METADATA_VALUE_MAX_LENGTH:
        _fail(
            f'Invalid value for property {key!r}: {len(value)} characters, '
            f'at most {METADATA_VALUE_MAX_LENGTH} are allowed'
        )


def validate_path_safe(kind, value):
    if value in DOT_SEGMENTS:
        _fail(
            f'Invalid {kind} {value!r}: "." and ".." cannot be sent in a '
            f'URL path safely'
        )


def validate_tag(tag):
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
    validate_path_safe('tag', tag)


def validate_description(description):
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


def url_segment(value):
    """Percent-encode a tag or metadata key for one URL path segment.

    openstacksdk joins tags and keys into URLs as they are, so "a?b"
    would reach Nova as tag "a" with a query string.
    """
    return urllib.parse.quote(value, safe='')


@dataclasses.dataclass(frozen=True)
class Change:
    """Per-attribute changes to make on every selected server.

    ``description`` is the text to set; ``remove_description`` asks for
    the description to be removed. The two never come together.
    """

    properties: dict = dataclasses.field(default_factory=dict)
    property_keys_to_remove: tuple = ()
    description: str | None = None
    remove_description: bool = False
    tags_to_add: tuple = ()
    tags_to_remove: tuple = ()

    def __bool__(self):
        return bool(
            self.properties
            or self.property_keys_to_remove
            or self.description is not None
            or self.remove_description
            or self.tags_to_add
            or self.tags_to_remove
        )

    def required_microversions(self):
        """(microversion, purpose) pairs this change needs."""
        needed = []
        if self.description is not None or self.remove_description:
            needed.append(
                (
                    DESCRIPTION_MICROVERSION,
                    'to support the --description option',
                )
            )
        if self.tags_to_add or self.tags_to_remove:
            needed.append((TAGS_MICROVERSION, 'to support the --tag option'))
        return needed


def _unique(values):
    return tuple(dict.fromkeys(values))


def change_to_set(properties=None, description=None, tags=()):
    """The validated change for ``hypervisor servers set``."""
    properties = dict(properties or {})
    for key, value in properties.items():
        validate_property_key(key)
        validate_property_value(key, value)
    if description is not None:
        validate_description(description)
    for tag in tags:
        validate_tag(tag)
    change = Change(
        properties=properties,
        description=description,
        tags_to_add=_unique(tags),
    )
    if not change:
        _fail('Nothing to set: give --property, --description or --tag')
    return change


def change_to_unset(property_keys=(), description=False, tags=()):
    """The validated change for ``hypervisor servers unset``."""
    for key in property_keys:
        validate_property_key(key)
        validate_path_safe('property key', key)
    for tag in tags:
        validate_tag(tag)
    change = Change(
        property_keys_to_remove=_unique(property_keys),
        remove_description=description,
        tags_to_remove=_unique(tags),
    )
    if not change:
        _fail('Nothing to unset: give --property, --description or --tag')
    return change
