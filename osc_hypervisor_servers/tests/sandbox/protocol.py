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

"""What the sandbox's processes agree on.

The parent and the nova child share a command line, one JSON line on the
child's stdout (the *ready line*), HTTP, and the child's state directory;
the nova child and its keystone child share one JSON line each way
(``IdentityRequest``, ``IdentityReady``).  All of them import this
module; like everything the parent imports, it uses only the standard
library.
"""

import dataclasses
import re
from typing import TypedDict

# The users of the sandbox's keystone, all with PASSWORD.  ADMIN has the
# admin role in project "admin" (keystone-manage bootstrap's) and in every
# sandbox project, so that it can boot servers owned by them on a chosen
# host; MEMBER and READER have those roles in every sandbox project.
ADMIN = 'admin'
MEMBER = 'member'
READER = 'reader'
USERS = (ADMIN, MEMBER, READER)
PASSWORD = 'sandbox-password'  # a loopback cloud of fake hypervisors
ADMIN_PROJECT = 'admin'
DOMAIN = 'default'
REGION = 'RegionOne'
# The cloud of each user in clouds.yaml, and the project it is scoped to.
CLOUDS = {ADMIN: 'sandbox', MEMBER: 'sandbox-member', READER: 'sandbox-reader'}
# What the services call to validate tokens, with the service role.
SERVICE_PROJECT = 'service'
SERVICE_USERS = ('nova', 'placement')

# The sandbox's HTTP paths on its one public port, per service; anything
# else is compute (see traffic.TrafficControl).
CONTROL_PREFIX = '/_sandbox/'
IDENTITY_PREFIX = '/identity'
PLACEMENT_PREFIX = '/placement'
COMPUTE_PATH = '/v2.1'

# Files in the state directory.
LOG_FILE = 'nova-sandbox.log'
KEYSTONE_LOG_FILE = 'keystone.log'
STDERR_FILE = 'stderr.log'
CLOUDS_YAML = 'clouds.yaml'
# How nova's log writes a record, and how a reader finds its level; a
# line that does not match continues the record above (a traceback).
LOG_FORMAT = '%(asctime)s %(levelname)s [%(name)s] %(message)s'
LOG_LEVEL = re.compile(r'\d{4}-\d\d-\d\d [\d:,]+ ([A-Z]+) \[')


def project_name(index: int) -> str:
    """The name of sandbox project ``index`` (0-based): project-1, ..."""
    return f'project-{index + 1}'


def home_project(user: str) -> str:
    """The project a user's cloud in clouds.yaml is scoped to."""
    return ADMIN_PROJECT if user == ADMIN else project_name(0)


@dataclasses.dataclass(frozen=True)
class Host:
    """A hypervisor of a given size; a plain name keeps FakeDriver's.

    ``resources`` are inventories of other resource classes, e.g.
    ``(('CUSTOM_GPU', 1),)``: what a flavor's ``resources:CUSTOM_GPU=1``
    asks for, which no other host may have.
    """

    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    resources: tuple[tuple[str, int], ...] = ()


def host_name(host: str | Host) -> str:
    return host if isinstance(host, str) else host.name


def host_argument(host: str | Host) -> str:
    """A host for ``--host``: ``NAME``, or
    ``NAME:VCPUS,MEMORY_MB,DISK_GB[,CLASS=TOTAL...]``.
    """
    if isinstance(host, str):
        return host
    more = ''.join(f',{rc}={total}' for rc, total in host.resources)
    return f'{host.name}:{host.vcpus},{host.memory_mb},{host.disk_gb}{more}'


def parse_host_argument(argument: str) -> str | Host:
    """The inverse of ``host_argument``; ValueError if malformed."""
    name, colon, size = argument.partition(':')
    if not colon:
        return name
    vcpus, memory_mb, disk_gb, *more = size.split(',')
    sizes = [int(number) for number in (vcpus, memory_mb, disk_gb)]
    resources = tuple(
        (rc, int(total)) for rc, _, total in (m.partition('=') for m in more)
    )
    if min(sizes + [total for _, total in resources]) < 1:
        raise ValueError(f'sizes must be positive: {argument}')
    vcpus_count, memory, disk = sizes
    return Host(name, vcpus_count, memory, disk, resources)


@dataclasses.dataclass(frozen=True)
class Boot:
    """``count`` servers to boot in ``project`` (an ID; None: the first
    sandbox project) on ``host`` (None: where the scheduler puts them).

    ``flavor`` is a flavor ID (None: nova's m1.tiny, ``1``); ``group`` a
    server group's ID, sent as the ``group`` scheduler hint.
    """

    host: str | None
    count: int
    project: str | None = None
    flavor: str | None = None
    group: str | None = None
    availability_zone: str | None = None


class Ready(TypedDict):
    """The ready line: printed once every server is ACTIVE."""

    endpoint: str  # the compute endpoint, http://127.0.0.1:PORT/v2.1
    port: int  # also serves CONTROL_PREFIX, IDENTITY_PREFIX, ...
    identity_url: str  # keystone's public endpoint: the auth URL
    # keystone's internal endpoint: for the sandbox's own tokens, which
    # then neither count in the statistics nor meet faults
    identity_internal_url: str
    placement_url: str  # placement's public endpoint
    clouds_yaml: str  # one cloud per user: see CLOUDS
    projects: list[str]  # the IDs of project-1..project-N, in order
    servers: dict[str, list[str]]  # server ids per host, in boot order
    hypervisors: dict[str, str]  # hypervisor id per hostname


class IdentityRequest(TypedDict):
    """What the nova child asks of its keystone child (on its stdin)."""

    state_dir: str
    socket_fd: int  # listening on the internal endpoint's port
    public_base: str  # http://127.0.0.1:PORT, the sandbox's public port
    internal_url: str  # keystone's internal endpoint
    projects: int  # how many sandbox projects


class IdentityReady(TypedDict):
    """The keystone child's ready line: project IDs by name."""

    projects: dict[str, str]


def client_env(
    clouds_yaml: str, identity_url: str, user: str
) -> dict[str, str]:
    """Environment variables for ``openstack`` and ``nova`` as ``user``.

    ``openstack`` reads its cloud from clouds.yaml.  python-novaclient
    does not read clouds.yaml: it takes the same password from its
    ``NOVA_*`` variables, which OSC ignores (``OS_USERNAME`` and the
    like would be read by both).  ``NOVA_PROJECT_ID`` is a project name
    for novaclient, which defaults the domains to ``default``.
    """
    return {
        'OS_CLIENT_CONFIG_FILE': clouds_yaml,
        'OS_CLOUD': CLOUDS[user],
        'NOVA_URL': identity_url,
        'NOVA_USERNAME': user,
        'NOVA_PASSWORD': PASSWORD,
        'NOVA_PROJECT_ID': home_project(user),
    }


def clouds(identity_url: str) -> dict[str, object]:
    """The content of clouds.yaml: password auth, one cloud per user."""
    return {
        'clouds': {
            CLOUDS[user]: {
                'auth': {
                    'auth_url': identity_url,
                    'username': user,
                    'password': PASSWORD,
                    'project_name': home_project(user),
                    'user_domain_id': DOMAIN,
                    'project_domain_id': DOMAIN,
                },
                'region_name': REGION,
                'identity_api_version': '3',
            }
            for user in USERS
        }
    }
