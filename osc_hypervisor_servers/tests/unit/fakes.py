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

"""Fakes for unit tests: a mocked SDK compute proxy and SDK resources."""

import itertools
import json
from unittest import mock
import uuid

import fixtures
from keystoneauth1 import discover
from keystoneauth1 import session as ksa_session
from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import server as sdk_server
from osc_lib.test import base
import requests
import testtools

from osc_hypervisor_servers import retry
from osc_hypervisor_servers import servers

_server_numbers = itertools.count(1)
ENDPOINT = 'https://nova.example:8774/v2.1'


class PrivateStateHome(fixtures.Fixture):
    """$XDG_STATE_HOME in a temporary directory: journals land there."""

    def _setUp(self):
        self.path = self.useFixture(fixtures.TempDir()).path
        self.useFixture(
            fixtures.EnvironmentVariable('XDG_STATE_HOME', self.path)
        )


def make_hypervisor(name, host=None, hypervisor_id=None):
    return sdk_hypervisor.Hypervisor.existing(
        id=hypervisor_id or str(uuid.uuid4()),
        name=name,
        service_details={'host': host or name},
    )


def make_server(hypervisor='compute-1', **attrs):
    number = next(_server_numbers)
    values = {
        'id': f'server-{number:04d}',
        'name': f'vm-{number}',
        'project_id': 'project-a',
        'hypervisor_hostname': hypervisor,
        'compute_host': hypervisor,
        'status': 'ACTIVE',
        'metadata': {},
        'tags': [],
        'description': None,
    }
    values.update(attrs)
    return sdk_server.Server.existing(**values)


_ERRORS_BY_STATUS = {
    400: sdk_exceptions.BadRequestException,
    403: sdk_exceptions.ForbiddenException,
    404: sdk_exceptions.NotFoundException,
    409: sdk_exceptions.ConflictException,
}


def server_state(
    server_id='s1',
    name=None,
    hypervisor='compute-1',
    metadata=None,
    tags=(),
    description=None,
    status='ACTIVE',
    task_state=None,
):
    """A listed server, as planning and execution see it."""
    return servers.ServerState(
        id=server_id,
        name=name or server_id,
        project_id='p',
        hypervisor_hostname=hypervisor,
        compute_host=hypervisor,
        status=status,
        task_state=task_state,
        metadata=dict(metadata or {}),
        tags=frozenset(tags),
        description=description,
    )


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
    through a proxy method (see plan.SetProperties).
    """
    patcher = mock.patch.object(
        sdk_server.Server, 'set_metadata', autospec=True
    )
    compute.attach_mock(patcher.start(), 'set_metadata')
    test.addCleanup(patcher.stop)


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


def no_wait_retry(attempts=3):
    return retry.RetryPolicy(attempts=attempts, sleep=lambda seconds: None)


def make_compute(version='2.100'):
    compute = mock.Mock(spec=_proxy.Proxy)
    set_compute_api_version(compute, version, pinned=False)
    # A real session: fitting its connection pool is no proxy call.
    compute.session = ksa_session.Session()
    compute.get_endpoint.return_value = ENDPOINT
    compute.hypervisors.return_value = []
    compute.servers.return_value = []
    compute.get.side_effect = _nova_get(compute)
    return compute


# Nova's filters of GET /servers/detail, and openstacksdk's names for them.
_SERVER_FILTERS = {
    'host': 'compute_host',
    'node': 'node',
    'status': 'status',
    'project_id': 'project_id',
}


def json_response(body, status_code=200):
    response = requests.Response()
    response.status_code = status_code
    response.headers['Content-Type'] = 'application/json'
    response._content = json.dumps(body).encode()
    return response


def _nova_get(compute):
    """``compute.get``: the server listing answers from ``compute.servers``
    (a mock of the SDK's name-for-name listing, which tests set up);
    any other path answers ``compute.get.return_value``.
    """

    def get(url, params=None, microversion=None, **kwargs):
        if url != '/servers/detail':
            return compute.get.return_value
        params = dict(params or {})
        if params.pop('all_tenants', None) != '1':
            raise AssertionError(f'not all projects: {params}')
        params.pop('marker', None)
        unknown = set(params) - set(_SERVER_FILTERS)
        if unknown:
            raise AssertionError(f'not a filter Nova knows: {unknown}')
        listed = compute.servers(
            details=True,
            all_projects=True,
            **{_SERVER_FILTERS[key]: value for key, value in params.items()},
        )
        return json_response(
            {
                'servers': [
                    server.to_dict(computed=False, original_names=True)
                    for server in listed
                ]
            }
        )

    return get


def set_compute_api_version(compute, version, pinned=True):
    """Make ``compute`` negotiate ``version``, or be pinned to it."""
    compute.default_microversion = version if pinned else None
    compute.get_endpoint_data.return_value = discover.EndpointData(
        min_microversion=discover.normalize_version_number('2.1'),
        max_microversion=discover.normalize_version_number(
            '2.100' if pinned else version
        ),
    )


class ComputeTestCase(testtools.TestCase):
    """A mocked compute proxy and a retry policy that does not sleep."""

    def setUp(self):
        super().setUp()
        self.compute = make_compute()
        record_metadata_merges(self, self.compute)
        self.retry = no_wait_retry()
        self.state_home = self.useFixture(PrivateStateHome()).path


class TestCommand(base.TestCommand):
    def setUp(self):
        super().setUp()
        self.compute = make_compute()
        record_metadata_merges(self, self.compute)
        self.state_home = self.useFixture(PrivateStateHome()).path
        self.app.client_manager.compute = self.compute
        self.app.client_manager.sdk_connection = mock.Mock()
        self.app.client_manager.sdk_connection.config.get_concurrency.return_value = None  # noqa: E501
