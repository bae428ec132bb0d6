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

Hypervisors are asked for at the version that has all a lookup needs
(IDs, the service host): from 2.88 the details add each hypervisor's
uptime, which costs Nova an RPC call to every compute host matched
(measured in the sandbox: 95 ms a lookup at 2.88, 22 ms at 2.53).
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import re

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from oslo_utils import uuidutils

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import retrying

#: What Nova accepts as hypervisor_hostname_pattern (its query schema).
PATTERN_SCHEMA = re.compile(r'[a-zA-Z0-9._-]*')


def _from_sdk(hypervisor: sdk_hypervisor.Hypervisor) -> model.Hypervisor:
    service = hypervisor.service_details or {}
    running_vms = hypervisor.running_vms
    return model.Hypervisor(
        id=hypervisor.id,
        name=hypervisor.name,
        host=service.get('host'),
        running_vms=None if running_vms is None else int(running_vms),
        status=hypervisor.status or '',
        state=hypervisor.state or '',
    )


@contextlib.contextmanager
def _admin_only() -> Iterator[None]:
    """Turn a 403 from the hypervisor API into an error a user can act on.

    Listing hypervisors is admin-only by default; falling back to the
    user's own servers would act on the wrong set, so there is none.
    """
    try:
        yield
    except sdk_exceptions.ForbiddenException:
        errors.refuse(
            'The hypervisor API refused this token (HTTP 403): '
            'hypervisor servers commands need an admin token'
        )


def _with_pattern(
    compute: _proxy.Proxy, retry: retrying.RetryPolicy, pattern: str
) -> list[model.Hypervisor]:
    if not PATTERN_SCHEMA.fullmatch(pattern):
        # Nova refuses such a pattern (400); node names are whatever the
        # driver reports, so the listing of every hypervisor is asked.
        return every_hypervisor(compute, retry)
    try:
        return [
            _from_sdk(hypervisor)
            for hypervisor in retry.call(
                lambda: list(
                    compute.hypervisors(
                        details=True,
                        hypervisor_hostname_pattern=pattern,
                        microversion=version.HYPERVISOR_LOOKUP,
                    )
                )
            )
        ]
    except sdk_exceptions.NotFoundException:
        return []


def _by_id(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    hypervisor_id: str,
) -> model.Hypervisor | None:
    try:
        return _from_sdk(
            retry.call(
                lambda: sdk_hypervisor.Hypervisor(id=hypervisor_id).fetch(
                    compute, microversion=version.HYPERVISOR_LOOKUP
                )
            )
        )
    except sdk_exceptions.NotFoundException:
        return None


def every_hypervisor(
    compute: _proxy.Proxy, retry: retrying.RetryPolicy
) -> list[model.Hypervisor]:
    """One listing of every hypervisor of the cloud."""
    with _admin_only():
        return [
            _from_sdk(hypervisor)
            for hypervisor in retry.call(
                lambda: list(
                    compute.hypervisors(
                        details=True, microversion=version.HYPERVISOR_LOOKUP
                    )
                )
            )
        ]


def _exact(
    reference: str, candidates: Sequence[model.Hypervisor]
) -> model.Hypervisor:
    exact = [h for h in candidates if h.name == reference]
    if not exact:
        errors.refuse(f'No hypervisor with ID or hostname {reference!r}')
    if len(exact) > 1:
        ids = ', '.join(sorted(hypervisor.id for hypervisor in exact))
        errors.refuse(
            f'{len(exact)} hypervisors are named {reference!r} ({ids}); '
            f'give one of their IDs instead'
        )
    return exact[0]


def find_hypervisor(
    compute: _proxy.Proxy,
    reference: str,
    retry: retrying.RetryPolicy,
    everyone: Sequence[model.Hypervisor] | None = None,
) -> model.Hypervisor:
    """The one hypervisor whose ID or exact hostname is ``reference``.

    Looked for in ``everyone`` when given, else asked of Nova.
    """
    if uuidutils.is_uuid_like(reference):
        if everyone is not None:
            by_id = [h for h in everyone if h.id == reference]
            if by_id:
                return by_id[0]
        else:
            with _admin_only():
                hypervisor = _by_id(compute, retry, reference)
            if hypervisor is not None:
                return hypervisor
    if everyone is None:
        with _admin_only():
            everyone = _with_pattern(compute, retry, reference)
    return _exact(reference, everyone)


def find_matching(
    compute: _proxy.Proxy,
    substring: str,
    retry: retrying.RetryPolicy,
    everyone: Sequence[model.Hypervisor] | None = None,
) -> list[model.Hypervisor]:
    """Every hypervisor whose hostname contains ``substring``."""
    if everyone is None:
        with _admin_only():
            everyone = _with_pattern(compute, retry, substring)
    # "_" and "%" are wildcards to Nova's LIKE: checked here again.
    found = [h for h in everyone if substring in h.name]
    if not found:
        errors.refuse(f'No hypervisor hostname contains {substring!r}')
    return found


def resolve(
    compute: _proxy.Proxy,
    references: Sequence[str],
    matching: Sequence[str],
    retry: retrying.RetryPolicy,
    workers: int = 1,
    everyone: Sequence[model.Hypervisor] | None = None,
) -> list[model.Hypervisor]:
    """Hypervisors for exact references and opt-in substrings, each once.

    Looked for in ``everyone`` when given (see :mod:`.read_cost`), else
    asked of Nova, up to ``workers`` lookups at once. The result, in the
    order given, is the same.
    """
    queries = [(False, text) for text in dict.fromkeys(references)] + [
        (True, text) for text in dict.fromkeys(matching)
    ]

    def look_up(query: tuple[bool, str]) -> list[model.Hypervisor]:
        is_substring, text = query
        if is_substring:
            return find_matching(compute, text, retry, everyone)
        return [find_hypervisor(compute, text, retry, everyone)]

    found: dict[str, model.Hypervisor] = {}
    for hypervisors in concurrency.bounded_map(
        look_up, queries, 1 if everyone is not None else workers
    ):
        for hypervisor in hypervisors:
            found.setdefault(hypervisor.id, hypervisor)
    return list(found.values())
