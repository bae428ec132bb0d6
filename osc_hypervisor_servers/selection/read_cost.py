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

"""How to read hypervisors and servers at the least cost to Nova.

With several hypervisors there is a choice, and Nova's own counts
(hypervisor statistics) decide it; the result is the same either way:

* one listing of every hypervisor replaces the lookups, when the names
  are a third of the cloud's hypervisors or more;
* one listing of the servers on nodes named like the selected ones (a
  common prefix, Nova's ``node`` filter) replaces a listing per
  hypervisor, when the hypervisors hold most of the servers it returns.

The counts are estimates (Nova's resource tracker): they only steer the
reads. Every server read is checked again on the client.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import math
import os

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import reads
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import lookup

# A detailed listing costs Nova about a third of a pattern lookup per
# hypervisor listed (measured in the sandbox at 2.53: 7 ms a hypervisor,
# 22 ms a lookup).
LOOKUPS_PER_LISTED_HYPERVISOR = 1 / 3
# One listing request costs Nova about as much as this many servers in a
# listing (measured in the sandbox: 60 ms a request, 5 ms a server), and
# Nova pages at [api] max_limit, 1000 by default.
SERVERS_PER_REQUEST = 12
PAGE_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class CloudCounts:
    """Nova's own counts (hypervisor statistics), to plan the reads."""

    hypervisors: int
    servers: int


def cloud_counts(
    compute: _proxy.Proxy, retry: retrying.RetryPolicy
) -> CloudCounts | None:
    """How many hypervisors and servers the cloud has, or None.

    Hypervisor statistics were removed at 2.88; asked at the lookup's
    version, they are one aggregate query for Nova.
    """
    try:
        statistics = reads.get_json(
            compute,
            retry,
            '/os-hypervisors/statistics',
            microversion=version.HYPERVISOR_LOOKUP,
        )['hypervisor_statistics']
        return CloudCounts(
            hypervisors=int(statistics['count']),
            servers=int(statistics['running_vms']),
        )
    except (sdk_exceptions.SDKException, ValueError, KeyError, TypeError):
        return None


@dataclasses.dataclass(frozen=True)
class OneListing:
    """One listing of the servers on nodes named ``node_prefix``...,
    instead of one per hypervisor.
    """

    node_prefix: str = ''


@dataclasses.dataclass(frozen=True)
class ReadPlan:
    counts: CloudCounts | None = None
    #: Every hypervisor of the cloud, when one listing of them all
    #: costs Nova less than the lookups; None: look each one up.
    everyone: list[model.Hypervisor] | None = None

    def one_listing(
        self, found: Sequence[model.Hypervisor]
    ) -> OneListing | None:
        """One listing of the servers of ``found``, narrowed to their
        names' common prefix, when it costs Nova less than a listing per
        hypervisor: when they hold most of the servers it would return.
        """
        on_them = [hypervisor.running_vms for hypervisor in found]
        if self.counts is None or len(found) < 2 or None in on_them:
            return None
        prefix = os.path.commonprefix(
            [hypervisor.name for hypervisor in found]
        )
        # Servers a listing under the prefix returns, and how many of
        # them are on other hypervisors.
        returned = self.counts.servers
        if self.everyone is not None:
            returned = sum(
                hypervisor.running_vms or 0
                for hypervisor in self.everyone
                if hypervisor.name.startswith(prefix)
            )
        elsewhere = returned - sum(count or 0 for count in on_them)
        pages = max(1, math.ceil(returned / PAGE_SIZE))
        if elsewhere >= SERVERS_PER_REQUEST * (len(found) - pages):
            return None
        return OneListing(node_prefix=prefix)


def plan_reads(
    compute: _proxy.Proxy, retry: retrying.RetryPolicy, lookups: int
) -> ReadPlan:
    """How to read for ``lookups`` hypervisor references."""
    if lookups < 2:
        return ReadPlan()
    counts = cloud_counts(compute, retry)
    if counts is None or lookups < (
        counts.hypervisors * LOOKUPS_PER_LISTED_HYPERVISOR
    ):
        return ReadPlan(counts)
    return ReadPlan(counts, lookup.every_hypervisor(compute, retry))
