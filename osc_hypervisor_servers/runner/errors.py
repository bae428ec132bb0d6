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

"""Errors: the ones a user can cause, and the ones one server meets.

Below the commands, the plugin refuses with :class:`Refused`, its one
exception; the commands (``v2``) turn it into osc-lib's CommandError,
which OSC prints as one line.
"""

from __future__ import annotations

import typing

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

# Errors that belong to one server (an HTTP answer, a lost connection);
# anything else is a bug and is allowed to surface.
SERVER_ERRORS = (sdk_exceptions.SDKException, ksa_exceptions.ClientException)

NOT_FOUND = 404


class Refused(Exception):
    """What the plugin will not do, in one line naming the value and the
    rule: bad input, an unknown hypervisor, a journal that cannot be read.
    """


def refuse(message: str) -> typing.NoReturn:
    """End the command with a one-line error a user can act on."""
    raise Refused(message)


def refuse_if(problem: str | None) -> None:
    """Refuse with ``problem`` (a rule's sentence), when there is one."""
    if problem is not None:
        refuse(problem)


def status_code(error: BaseException) -> int | None:
    """The HTTP status of an error answer; None for a lost connection."""
    code = getattr(error, 'status_code', None)
    return code if isinstance(code, int) else None


def error_text(error: BaseException) -> str:
    """An error, in one line: Nova's 500s add the exception's class on a
    line of its own.
    """
    text = str(error)
    if isinstance(error, sdk_exceptions.HttpException):
        text = f'HTTP {error.status_code}: {error.details or error.message}'
    return ' '.join(text.split())
