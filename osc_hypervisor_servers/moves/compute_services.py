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


"""Compute services of the hypervisors being drained.

Looked up by binary and host (``find_service`` by host name finds
nothing: it matches IDs and binaries only), and changed by UUID (2.53+).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses

from openstack.compute.v2 import _proxy
from openstack.compute.v2 import service as sdk_service

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying

BINARY = 'nova-compute'


@dataclasses.dataclass(frozen=True)
class ComputeService:
    id: str
    host: str
    #: Whether the scheduler may pick it.
    status: model.ServiceStatus
    #: 'up' or 'down': whether it reported in lately (or forced down).
    state: str
    forced_down: bool
    disabled_reason: str | None
    #: Its last heartbeat, in Nova's time, as Nova writes it (ISO 8601,
    #: UTC, no zone); None before the first.
    updated_at: str | None = None

    @property
    def is_down(self) -> bool:
        return self.forced_down or self.state == 'down'


def _from_sdk(service: sdk_service.Service) -> ComputeService:
    return ComputeService(
        id=service.id,
        host=service.host,
        # Nova says one of the two; anything else does not take servers.
        status='enabled' if service.status == 'enabled' else 'disabled',
        state=service.state,
        forced_down=bool(service.is_forced_down),
        disabled_reason=service.disabled_reason,
        updated_at=service.updated_at,
    )


def _services_of(
    compute: _proxy.Proxy, host: str, retry: retrying.RetryPolicy
) -> list[ComputeService]:
    return [
        _from_sdk(service)
        for service in retry.call(
            lambda: list(compute.services(binary=BINARY, host=host))
        )
        # The filters are the SDK's; check them again.
        if service.host == host and service.binary == BINARY
    ]


def compute_service(
    compute: _proxy.Proxy, host: str, retry: retrying.RetryPolicy
) -> ComputeService:
    """The nova-compute service of ``host``."""
    found = _services_of(compute, host, retry)
    if len(found) != 1:
        errors.refuse(
            f'Found {len(found)} {BINARY} services on host {host!r}, '
            f'expected one'
        )
    return found[0]


def compute_services(
    compute: _proxy.Proxy,
    hosts: Sequence[str],
    retry: retrying.RetryPolicy,
    workers: int,
) -> list[ComputeService]:
    return concurrency.bounded_map(
        lambda host: compute_service(compute, host, retry), hosts, workers
    )


def require_down(found: Sequence[ComputeService]) -> None:
    """Refuse to evacuate from a hypervisor whose service is up.

    Evacuating servers whose host still runs them can corrupt disks on
    shared storage, so marking a host down is the operator's call.
    """
    for service in found:
        if not service.is_down:
            errors.refuse(
                f'The compute service of {service.host} is up: evacuate '
                f'only from a hypervisor that is down. If {service.host} '
                f'is really dead, mark it down with: openstack compute '
                f'service set --down {service.host} {BINARY}'
            )


def find_compute_service(
    compute: _proxy.Proxy, host: str, retry: retrying.RetryPolicy
) -> ComputeService | None:
    """The nova-compute service of ``host``; None unless it has one."""
    found = _services_of(compute, host, retry)
    return found[0] if len(found) == 1 else None


def usable(service: ComputeService | None, host: str) -> str | None:
    """Why servers cannot be moved to ``host`` now, or None."""
    enable = f'openstack compute service set --enable {host} {BINARY}'
    if service is None:
        return f'{host} has no single {BINARY} service'
    if service.is_down:
        return f'the compute service of {host} is down'
    if service.status == 'disabled':
        because = (
            f' ({service.disabled_reason})' if service.disabled_reason else ''
        )
        return (
            f'the compute service of {host} is disabled{because}: once it '
            f'may take servers, {enable}'
        )
    return None


def _set_status(
    compute: _proxy.Proxy,
    service: ComputeService,
    status: model.ServiceStatus,
    reason: str | None,
    retry: retrying.RetryPolicy,
) -> ComputeService:
    """Enable or disable ``service``; the service as Nova shows it then.

    Setting the same status twice is harmless, so a retry after a lost
    answer needs no verdicts.
    """
    if status == 'disabled':
        retry.call(
            lambda: compute.disable_service(service.id, disabled_reason=reason)
        )
    else:
        retry.call(lambda: compute.enable_service(service.id))
    return compute_service(compute, service.host, retry)


class SetServiceStatus:
    """A step that enables or disables a compute service before a run's
    moves (see :mod:`..runner.execution`), and says so. A service
    already disabled is left as it is, whatever its reason.
    """

    def __init__(
        self,
        compute: _proxy.Proxy,
        service: ComputeService,
        status: model.ServiceStatus,
        reason: str | None,
        retry: retrying.RetryPolicy,
        notify: Callable[[str], None],
    ) -> None:
        self.compute = compute
        self.service = service
        self.status = status
        self.reason = reason
        self.retry = retry
        self.notify = notify

    @property
    def needed(self) -> bool:
        return self.service.status != self.status

    def preview(self) -> str | None:
        if not self.needed:
            return None
        verb = 'disable' if self.status == 'disabled' else 'enable'
        return f'Would {verb} the compute service of {self.service.host}'

    def perform(self) -> None:
        service = self.service
        if self.needed:
            service = _set_status(
                self.compute, service, self.status, self.reason, self.retry
            )
            done = 'is disabled' if self.status == 'disabled' else 'is enabled'
        elif self.status == 'disabled':
            done = 'was already disabled'
        else:
            return
        because = (
            f' ({service.disabled_reason})'
            if service.disabled_reason and service.status == 'disabled'
            else ''
        )
        self.notify(f'The compute service of {service.host} {done}{because}')

    def conclude(self, report: reporting.Report) -> None:
        """Left as set: the hypervisor is being maintained, or back."""
