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

"""Fakes for unit tests: a mocked SDK compute proxy, and the Nova it reads.

The plugin reads servers as JSON (``compute.get('/servers/detail')`` and
``compute.get('/servers/{id}')``); :class:`FakeNova` answers those reads
from the servers a test gives it, with Nova's own filters, and records
each listing's query. Everything else (hypervisors, services,
migrations, writes) is the proxy's mocked methods.
"""

import datetime
import itertools
import json
import re
import threading
from unittest import mock
import uuid

import fixtures
from keystoneauth1 import discover
from keystoneauth1 import session as ksa_session
from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import migration as sdk_migration
from openstack.compute.v2 import server as sdk_server
from openstack.compute.v2 import service as sdk_service
from osc_lib.test import base
import requests
import testtools

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.runner import retrying

_server_numbers = itertools.count(1)
ENDPOINT = 'https://nova.example:8774/v2.1'
#: The Date of every fake answer: Nova's clock.
NOVA_NOW = datetime.datetime(2026, 12, 1, 8, 0, 0)
NOVA_DATE = 'Tue, 01 Dec 2026 08:00:00 GMT'


class PrivateStateHome(fixtures.Fixture):
    """$XDG_STATE_HOME in a temporary directory: journals land there."""

    def _setUp(self):
        self.path = self.useFixture(fixtures.TempDir()).path
        self.useFixture(
            fixtures.EnvironmentVariable('XDG_STATE_HOME', self.path)
        )


def make_hypervisor(
    name,
    host=None,
    hypervisor_id=None,
    running_vms=None,
    status='enabled',
    state='up',
):
    return sdk_hypervisor.Hypervisor.existing(
        id=hypervisor_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        name=name,
        service_details={'host': host or name},
        running_vms=running_vms,
        status=status,
        state=state,
    )


def hypervisor_listing(*known):
    """``compute.hypervisors``, as Nova answers: a pattern matched as
    ``LIKE '%pattern%'``, 404 when nothing matches, else every one.
    """

    def hypervisors(
        details=True, hypervisor_hostname_pattern=None, microversion=None
    ):
        if hypervisor_hostname_pattern is None:
            return list(known)
        found = [h for h in known if hypervisor_hostname_pattern in h.name]
        if not found:
            raise http_error(404)
        return found

    return hypervisors


# The vm_state behind each status (nova.api.openstack.common).
_VM_STATES = {
    'SHUTOFF': 'stopped',
    'MIGRATING': 'active',
    'VERIFY_RESIZE': 'resized',
}


def nova_server(
    hypervisor='compute-1',
    server_id=None,
    name=None,
    project_id='project-a',
    status='ACTIVE',
    task_state=None,
    metadata=None,
    tags=(),
    description=None,
    compute_host=None,
):
    """A server as Nova's JSON shows it to an admin."""
    number = next(_server_numbers)
    return {
        'id': server_id or str(uuid.UUID(int=number)),
        'name': f'vm-{number}' if name is None else name,
        'tenant_id': project_id,
        'OS-EXT-SRV-ATTR:hypervisor_hostname': hypervisor,
        'OS-EXT-SRV-ATTR:host': compute_host or hypervisor,
        'status': status,
        'OS-EXT-STS:vm_state': _VM_STATES.get(status, status.lower()),
        'OS-EXT-STS:task_state': task_state,
        'metadata': dict(metadata or {}),
        'tags': list(tags),
        'description': description,
    }


def server_state(server_id='s1', name=None, hypervisor='compute-1', **attrs):
    """A listed server, as planning and execution see it."""
    return model.ServerState.from_nova(
        nova_server(
            hypervisor,
            server_id=server_id,
            name=name or server_id,
            project_id='p',
            **attrs,
        )
    )


def json_response(body, status_code=200, headers=None):
    response = requests.Response()
    response.status_code = status_code
    response.headers['Content-Type'] = 'application/json'
    response.headers['Date'] = NOVA_DATE
    response.headers.update(headers or {})
    response.url = ENDPOINT
    response._content = json.dumps(body).encode()
    return response


def action_response(status=202):
    """Nova's answer to a server action: no body, a Date."""
    response = requests.Response()
    response.status_code = status
    response.headers['Date'] = NOVA_DATE
    response.url = ENDPOINT
    return response


_ERRORS_BY_STATUS = {
    400: sdk_exceptions.BadRequestException,
    403: sdk_exceptions.ForbiddenException,
    404: sdk_exceptions.NotFoundException,
    409: sdk_exceptions.ConflictException,
}


def http_error(status_code, details='Nova says no', headers=None):
    """The exception openstacksdk raises for an HTTP error answer."""
    response = requests.Response()
    response.status_code = status_code
    response.headers.update(headers or {})
    response.url = 'http://nova.example/v2.1/servers'
    error_class = _ERRORS_BY_STATUS.get(
        status_code, sdk_exceptions.HttpException
    )
    return error_class(
        message='Client Error', response=response, details=details
    )


# Nova's filters of GET /servers/detail that the plugin may send.
_SERVER_FILTERS = {
    'host': lambda server, value: server['OS-EXT-SRV-ATTR:host'] == value,
    # A regular expression to Nova, matched anywhere in the name.
    'node': lambda server, value: bool(
        re.search(value, server['OS-EXT-SRV-ATTR:hypervisor_hostname'] or '')
    ),
    'status': lambda server, value: server['status'] == value,
    'project_id': lambda server, value: server['tenant_id'] == value,
}


class FakeNova:
    """Answers the plugin's JSON reads of ``compute.get``.

    ``servers`` by ID are what listings and reads return; ``reads`` give
    one server successive answers to ``GET /servers/{id}`` (the last one
    repeats); ``answers`` are the responses (or errors) of other paths,
    or lists of successive ones (the last one repeats).
    ``listings`` records the query of every ``GET /servers/detail``.
    ``page_size`` pages listings as Nova's ``max_limit`` does, and
    ``ignored`` filters are dropped silently, as Nova drops admin-only
    filters for anyone else.
    """

    def __init__(self):
        self.servers = {}
        self.reads = {}
        self.answers = {
            '/': json_response({'versions': []}),
            '/os-server-groups': json_response({'server_groups': []}),
            '/os-availability-zone/detail': json_response(
                {'availabilityZoneInfo': []}
            ),
        }
        self.listings = []
        self.page_size = None
        self.ignored = set()
        self._lock = threading.Lock()

    def add(self, *servers):
        for server in servers:
            self.servers[server['id']] = server
        return servers

    def replace(self, *servers):
        self.servers.clear()
        return self.add(*servers)

    def get(self, url, params=None, microversion=None, **kwargs):
        with self._lock:
            if url == '/servers/detail':
                return self._listing(dict(params or {}))
            if url.startswith('/servers/'):
                return self._read(url.removeprefix('/servers/'))
            answer = self.answers.get(url, json_response({}, 404))
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def _listing(self, params):
        self.listings.append(dict(params))
        if params.pop('all_tenants', None) != '1':
            raise AssertionError(f'not all projects: {params}')
        marker = params.pop('marker', None)
        unknown = set(params) - set(_SERVER_FILTERS)
        if unknown:
            raise AssertionError(f'not a filter Nova knows: {unknown}')
        listed = [
            server
            for server in self.servers.values()
            if all(
                _SERVER_FILTERS[key](server, value)
                for key, value in params.items()
                if key not in self.ignored
            )
        ]
        if marker is not None:
            ids = [server['id'] for server in listed]
            listed = listed[ids.index(marker) + 1 :]
        body = {'servers': listed[: self.page_size]}
        if self.page_size is not None and len(listed) > self.page_size:
            body['servers_links'] = [{'rel': 'next', 'href': 'next-page'}]
        return json_response(body)

    def _read(self, server_id):
        answers = self.reads.get(server_id)
        if answers:
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        else:
            answer = self.servers.get(server_id)
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            return json_response({'itemNotFound': {'code': 404}}, 404)
        return json_response({'server': answer})


#: What a server of the default flavor holds, in Placement.
SMALL = {'VCPU': 1, 'MEMORY_MB': 512, 'DISK_GB': 1}


class FakePlacement:
    """Placement's reads the pre-flight makes: allocations of a server,
    and allocation candidates, from providers a test gives it.

    A provider is a compute node (its UUID the hypervisor's ID) with
    ``capacity`` and ``used`` per resource class; ``allocations`` map a
    server to what it holds (default: ``SMALL``). ``requests`` records
    every read; the first ``unavailable`` of them are answered 503.
    """

    def __init__(self):
        self.providers = {}
        self.allocations = {}
        self.requests = []
        self.unavailable = 0

    def add_node(self, hypervisor, used=None, **capacity):
        capacity = capacity or {
            'VCPU': 100,
            'MEMORY_MB': 100_000,
            'DISK_GB': 1000,
        }
        self.providers[hypervisor.id] = {
            'resources': {
                rc: {'capacity': total, 'used': (used or {}).get(rc, 0)}
                for rc, total in capacity.items()
            },
            'root_provider_uuid': hypervisor.id,
        }

    def get(self, url, params=None, microversion=None, **kwargs):
        self.requests.append((url, dict(params or {})))
        if len(self.requests) <= self.unavailable:
            return json_response({}, 503)
        if url.startswith('/allocations/'):
            server_id = url.removeprefix('/allocations/')
            held = self.allocations.get(server_id, SMALL)
            return json_response(
                {'allocations': {'rp': {'resources': dict(held)}}}
            )
        if url == '/allocation_candidates':
            wanted = dict(
                item.split(':') for item in params['resources'].split(',')
            )
            summaries = {
                uuid_: summary
                for uuid_, summary in self.providers.items()
                if all(
                    rc in summary['resources']
                    and summary['resources'][rc]['capacity']
                    - summary['resources'][rc]['used']
                    >= int(amount)
                    for rc, amount in wanted.items()
                )
            }
            return json_response(
                {'allocation_requests': [], 'provider_summaries': summaries}
            )
        return json_response({}, 404)


class SameId:
    """Equal to any object whose ``id`` is ``server_id``."""

    def __init__(self, server_id):
        self.server_id = server_id

    def __eq__(self, other):
        return getattr(other, 'id', None) == self.server_id

    def __repr__(self):
        return f'<object with id {self.server_id!r}>'


def metadata_merge(compute, server_id, metadata):
    """The call that merges ``metadata`` into a server's (POST)."""
    return mock.call.set_metadata(
        SameId(server_id), compute, metadata=metadata
    )


def record_metadata_merges(test, compute):
    """Record metadata merges among ``compute``'s calls, in order.

    A merge goes through the server resource's ``set_metadata``, not
    through a proxy method (see marks.writes.SetProperties).
    """
    patcher = mock.patch.object(
        sdk_server.Server, 'set_metadata', autospec=True
    )
    compute.attach_mock(patcher.start(), 'set_metadata')
    test.addCleanup(patcher.stop)


def no_wait_retry(attempts=3):
    return retrying.RetryPolicy(attempts=attempts, sleep=lambda seconds: None)


def set_compute_api_version(compute, version, pinned=True):
    """Make ``compute`` negotiate ``version``, or be pinned to it."""
    compute.default_microversion = version if pinned else None
    compute.get_endpoint_data.return_value = discover.EndpointData(
        min_microversion=discover.normalize_version_number('2.1'),
        max_microversion=discover.normalize_version_number(
            '2.100' if pinned else version
        ),
    )


def make_compute(nova, version='2.100'):
    """A mocked compute proxy whose JSON reads ``nova`` answers."""
    compute = mock.Mock(spec=_proxy.Proxy)
    set_compute_api_version(compute, version, pinned=False)
    # A real session: fitting its connection pool is no proxy call.
    compute.session = ksa_session.Session()
    compute.get_endpoint.return_value = ENDPOINT
    compute.hypervisors.return_value = []
    compute.migrations.return_value = []
    compute.post.return_value = action_response()
    compute.get.side_effect = nova.get
    return compute


def service_id(host):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f'service/{host}'))


def compute_service(
    host='compute-1',
    state='up',
    status='enabled',
    forced_down=False,
    disabled_reason=None,
    updated_at=None,
):
    return sdk_service.Service.existing(
        id=service_id(host),
        binary='nova-compute',
        host=host,
        state=state,
        status=status,
        forced_down=forced_down,
        disabled_reason=disabled_reason,
        updated_at=updated_at,
    )


def compute_service_state(host='compute-1', **attrs):
    """A compute service as the plugin holds it."""
    return compute_services.ComputeService(
        id=service_id(host),
        host=host,
        status=attrs.get('status', 'enabled'),
        state=attrs.get('state', 'up'),
        forced_down=attrs.get('forced_down', False),
        disabled_reason=attrs.get('disabled_reason'),
    )


def sdk_record(
    number,
    status,
    server_id='s1',
    migration_type='live-migration',
    created=NOVA_NOW,
    updated=None,
    source='src-7',
    dest='dst-1',
):
    """A migration record, as openstacksdk lists it."""
    return sdk_migration.Migration.existing(
        id=number,
        uuid=f'uuid-{number}',
        instance_uuid=server_id,
        migration_type=migration_type,
        status=status,
        source_compute=source,
        dest_compute=dest,
        created_at=created.isoformat(),
        updated_at=updated.isoformat() if updated else None,
    )


class ComputeTestCase(testtools.TestCase):
    """A mocked compute proxy, the Nova it reads, and a retry policy
    that does not sleep.
    """

    def setUp(self):
        super().setUp()
        self.nova = FakeNova()
        self.compute = make_compute(self.nova)
        record_metadata_merges(self, self.compute)
        self.retry = no_wait_retry()
        self.state_home = self.useFixture(PrivateStateHome()).path


class TestCommand(base.TestCommand):
    def setUp(self):
        super().setUp()
        self.nova = FakeNova()
        self.compute = make_compute(self.nova)
        record_metadata_merges(self, self.compute)
        self.state_home = self.useFixture(PrivateStateHome()).path
        self.app.client_manager.compute = self.compute
        self.app.client_manager.sdk_connection = mock.Mock()
        self.app.client_manager.sdk_connection.config.get_concurrency.return_value = None  # noqa: E501
