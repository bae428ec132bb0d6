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

"""Nova's rules for the values a run writes, and how they travel.

Each check returns what is wrong, in a sentence naming the value and the
rule, or None: the options of a command and the values of a journal are
checked with the same rules, each caller saying where the value came from.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

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


def _is_description_character(char: str) -> bool:
    # Nova's valid_description_regex: printable characters of the Basic
    # Multilingual Plane, where horizontal space counts as printable.
    if ord(char) >= 0xFFFF:
        return False
    category = unicodedata.category(char)
    return not category.startswith('C') and (
        not category.startswith('Z') or category == 'Zs'
    )


def property_key_problem(key: str) -> str | None:
    if not METADATA_KEY_PATTERN.fullmatch(key):
        return (
            f'Invalid property key {key!r}: a key is 1 to 255 characters '
            f'of letters, digits, space and "-_:."'
        )
    return None


def property_value_problem(key: str, value: str) -> str | None:
    if len(value) > METADATA_VALUE_MAX_LENGTH:
        return (
            f'Invalid value for property {key!r}: {len(value)} characters, '
            f'at most {METADATA_VALUE_MAX_LENGTH} are allowed'
        )
    return None


def path_segment_problem(kind: str, value: str) -> str | None:
    """What makes ``value`` unsafe as one URL path segment, if anything."""
    if value in DOT_SEGMENTS:
        return (
            f'Invalid {kind} {value!r}: "." and ".." cannot be sent in a '
            f'URL path safely'
        )
    return None


def tag_problem(tag: str) -> str | None:
    if not 1 <= len(tag) <= TAG_MAX_LENGTH:
        return (
            f'Invalid tag {tag!r}: a tag is 1 to {TAG_MAX_LENGTH} '
            f'characters, this one has {len(tag)}'
        )
    forbidden = sorted(set(tag) & set(TAG_FORBIDDEN_CHARACTERS))
    if forbidden:
        return (
            f'Invalid tag {tag!r}: a tag cannot contain '
            f'{" or ".join(repr(c) for c in forbidden)}'
        )
    if not tag.isascii():
        # A tag travels in the URL path, which Nova decodes as Latin-1
        # (PEP 3333): "ünï" sent as UTF-8 is stored as "Ã¼nÃ¯". The tag
        # list body would be exact, but replaces every tag of the server
        # and would race with its owner's own tag changes.
        return (
            f'Invalid tag {tag!r}: only ASCII tags can be written '
            f'exactly; Nova would store this one as another tag'
        )
    return path_segment_problem('tag', tag)


def description_problem(description: str) -> str | None:
    if len(description) > DESCRIPTION_MAX_LENGTH:
        return (
            f'Invalid description: {len(description)} characters, at most '
            f'{DESCRIPTION_MAX_LENGTH} are allowed'
        )
    for char in description:
        if not _is_description_character(char):
            return (
                f'Invalid description {description!r}: character '
                f'{char!r} (U+{ord(char):04X}) is not allowed; a '
                f'description holds printable characters of the Basic '
                f'Multilingual Plane, without tabs or newlines'
            )
    return None


#: The vm_states in which Nova changes properties and tags: the statuses
#: ACTIVE, PAUSED, SUSPENDED and SHUTOFF, with or without a task under
#: way (MIGRATING is active); a description in any state.
WRITABLE_VM_STATES = ('active', 'paused', 'suspended', 'stopped')


def state_problem(what: str, vm_state: str | None, status: str) -> str | None:
    """Why Nova refuses to change ``what`` (properties, tags) on a server
    in ``vm_state`` (shown as ``status``), or None.
    """
    if vm_state in WRITABLE_VM_STATES:
        return None
    return (
        f'Nova changes {what} of ACTIVE, PAUSED, SUSPENDED or SHUTOFF '
        f'servers only, this one is {status or vm_state or "in no state"}'
    )


def url_segment(value: str) -> str:
    """Percent-encode a tag or metadata key for one URL path segment.

    openstacksdk joins tags and keys into URLs as they are, so "a?b"
    would reach Nova as tag "a" with a query string.
    """
    return urllib.parse.quote(value, safe='')
