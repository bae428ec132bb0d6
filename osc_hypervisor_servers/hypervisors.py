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

"""Finding hypervisors by ID or exact name, never by substring.

Nova's ``hypervisor_hostname_pattern`` is an SQL ``LIKE '%X%'``: asking
for ``compute-1`` also returns ``compute-10``. The pattern query only
narrows the listing; the match is decided here, on the client.
"""

import contextlib
import dataclasses

from openstack import exceptions as sdk_exceptions
from osc_lib import exceptions
from oslo_utils import uuidutils

LOOKUP_MICROVERSION = '2.53'


@dataclasses.dataclass(frozen=True)
class Hypervisor:
    id: str
    name: str
    # The compute service host: what the server listing filters on.
    host: str


def _from_sdk(hypervisor):
    service = hypervisor.service_details or {}
    return Hypervisor(
        id=hypervisor.id, name=hypervisor.name, host=service.get('host')
    )


@contextlib.contextmanager
def _admin_only():
    """Turn a 403 from the hypervisor API into an error a user can act on.

    Listing hypervisors is admin-only by default; falling back to the
    user's own servers would act on the wrong set, so there is none.
    """
    try:
        yield
    except sdk_exceptions.ForbiddenException as error:
        raise exceptions.CommandError(
            'The hypervisor API refused this token (HTTP 403): '
            'hypervisor servers commands need an admin token'
        ) from error


def _with_pattern(compute, retry, pattern):
    try:
        return [
            _from_sdk(hypervisor)
            for hypervisor in retry.call(
                lambda: list(
                    compute.hypervisors(
                        details=True, hypervisor_hostname_pattern=pattern
                    )
                )
            )
        ]
    except sdk_exceptions.NotFoundException:
        return []


def _by_id(compute, retry, hypervisor_id):
    try:
        return _from_sdk(
            retry.call(lambda: compute.get_hypervisor(hypervisor_id))
        )
    except sdk_exceptions.NotFoundException:
        return None


def find_hypervisor(compute, reference, retry):
    """The one hypervisor whose ID or exact hostname is ``reference``."""
    with _admin_only():
        if uuidutils.is_uuid_like(reference):
            hypervisor = _by_id(compute, retry, reference)
            if hypervisor is not None:
                return hypervisor
        exact = [
            hypervisor
            for hypervisor in _with_pattern(compute, retry, reference)
            if hypervisor.name == reference
        ]
    if not exact:
        raise exceptions.CommandError(
            f'No hypervisor with ID or hostname {reference!r}'
        )
    if len(exact) > 1:
        ids = ', '.join(sorted(hypervisor.id for hypervisor in exact))
        raise exceptions.CommandError(
            f'{len(exact)} hypervisors are named {reference!r} ({ids}); '
            f'give one of their IDs instead'
        )
    return exact[0]


def find_matching(compute, substring, retry):
    """Every hypervisor whose hostname contains ``substring``."""
    with _admin_only():
        found = [
            hypervisor
            for hypervisor in _with_pattern(compute, retry, substring)
            # "_" and "%" are wildcards to Nova's LIKE.
            if substring in hypervisor.name
        ]
    if not found:
        raise exceptions.CommandError(
            f'No hypervisor hostname contains {substring!r}'
        )
    return found


def resolve(compute, references, matching, retry):
    """Hypervisors for exact references and opt-in substrings, each once."""
    found = {}
    for reference in references:
        hypervisor = find_hypervisor(compute, reference, retry)
        found.setdefault(hypervisor.id, hypervisor)
    for substring in matching:
        for hypervisor in find_matching(compute, substring, retry):
            found.setdefault(hypervisor.id, hypervisor)
    return list(found.values())
