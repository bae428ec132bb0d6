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

"""The compute API microversions this plugin needs, and their gate."""

from __future__ import annotations

from collections.abc import Iterable

from openstack import utils as sdk_utils
from openstack.compute.v2 import _proxy

#: ``description`` on servers.
DESCRIPTION = '2.19'
#: Server tags.
TAGS = '2.26'
#: Hypervisor UUIDs, ``hypervisor_hostname_pattern`` with details;
#: compute services by UUID.
HYPERVISOR_LOOKUP = '2.53'
#: ``changes-since`` and uuids in ``/os-migrations``, which a drain
#: watches. Every move option it uses is older: ``block_migration:
#: auto`` (2.25), a live migration's target checked by the scheduler
#: (2.30), a cold migration's target (2.56).
MIGRATION_WATCH = '2.59'
#: The highest microversion this plugin was tested with (nova 34);
#: the server listing and the moves are sent at the session's version,
#: up to this one. From 2.95 an evacuated server stays stopped.
TESTED_MAXIMUM = '2.100'
EVACUATION_KEEPS_STOPPED = '2.95'


def negotiated(compute: _proxy.Proxy, maximum: str = TESTED_MAXIMUM) -> str:
    """The session's microversion, up to ``maximum`` (a version pinned
    lower wins): what openstacksdk itself would send.
    """
    return sdk_utils.maximum_supported_microversion(compute, maximum) or (
        maximum
    )


def supported_by(microversion: str) -> str:
    """The help text's note for an option that needs ``microversion``."""
    return f'supported by --os-compute-api-version {microversion} or above'


def missing(
    compute: _proxy.Proxy, needed: Iterable[tuple[str, str]]
) -> str | None:
    """Why the session cannot make the calls ``needed`` ((microversion,
    purpose) pairs), or None: to refuse before any call. A version
    pinned with ``--os-compute-api-version`` applies to every call, so
    it counts too.
    """
    for microversion, purpose in needed:
        if not sdk_utils.supports_microversion(compute, microversion):
            return (
                f'--os-compute-api-version {microversion} or greater is '
                f'required {purpose}'
            )
    return None
