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

"""Reading one JSON object of a journal, each field with its rule.

A field that breaks its rule refuses the whole journal, with the field
and the object named (:class:`JournalError`).
"""

from __future__ import annotations

from collections.abc import Mapping
import datetime
import typing

from oslo_utils import uuidutils

#: How journals write times (UTC).
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
Choice = typing.TypeVar('Choice', bound=str)
#: Names, hosts and projects are at most this long in Nova.
NAME_MAX_LENGTH = 255


class JournalError(ValueError):
    """A field of a journal that breaks the format."""


def check(problem: str | None) -> None:
    if problem is not None:
        raise JournalError(problem)


class Fields:
    """The fields of one JSON object of a journal, read with their rules.

    ``where`` names the object in errors, e.g. ``server 7d0b...``.
    """

    def __init__(self, entry: object, where: str) -> None:
        if not isinstance(entry, dict):
            raise JournalError(f'{where}: not an object')
        self.entry: Mapping[str, object] = entry
        self.where = where

    def fail(self, name: str, rule: str) -> typing.NoReturn:
        raise JournalError(f'{self.where}: {name} {rule}')

    def text(
        self, name: str, max_length: int = NAME_MAX_LENGTH, default: str = ''
    ) -> str:
        value = self.entry.get(name, default)
        if not isinstance(value, str):
            self.fail(name, 'is not text')
        if len(value) > max_length:
            self.fail(name, f'is longer than {max_length} characters')
        return value

    def text_or_none(
        self, name: str, max_length: int = NAME_MAX_LENGTH
    ) -> str | None:
        if self.entry.get(name) is None:
            return None
        return self.text(name, max_length)

    def uuid(self, name: str) -> str:
        value = self.entry.get(name)
        if not isinstance(value, str) or not uuidutils.is_uuid_like(value):
            self.fail(name, f'{value!r} is not a UUID')
        return value

    def choice(self, name: str, choices: tuple[Choice, ...]) -> Choice:
        value = self.entry.get(name)
        for choice in choices:
            if value == choice:
                return choice
        self.fail(name, f'{value!r} is not one of {", ".join(choices)}')

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.entry.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, 'is not true or false')
        return value

    def migration_id(self, name: str) -> int | None:
        value = self.entry.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(name, f'{value!r} is not a migration ID')
        return value

    def time(self, name: str, optional: bool = False) -> str | None:
        value = self.entry.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            self.fail(name, f'{value!r} is not a time')
        try:
            datetime.datetime.strptime(value, TIME_FORMAT)
        except ValueError:
            self.fail(
                name, f'{value!r} is not a time like 2026-12-01T08:00:05Z'
            )
        return value

    def objects(self, name: str, required: bool = True) -> list[object]:
        value = self.entry.get(name, None if required else [])
        if not isinstance(value, list):
            self.fail(name, 'is not a list')
        return value

    def object(self, name: str) -> dict[str, object]:
        value = self.entry.get(name, {})
        if not isinstance(value, dict):
            self.fail(name, 'is not an object')
        return value
