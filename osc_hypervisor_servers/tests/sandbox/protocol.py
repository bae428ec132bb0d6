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

"""What the parent and the child process of the sandbox agree on.

They share a command line, one JSON line on the child's stdout (the
*ready line*), HTTP, and the child's state directory.  Both import this
module; like everything the parent imports, it uses only the standard
library.
"""

from typing import TypedDict

# Tokens are "user:project"; user "admin" has the admin role, any other
# user is a member of that project (see keystone.token_context_filter).
ADMIN_TOKEN = 'admin:admin'
# The sandbox's own HTTP paths, beside nova's (see traffic.TrafficControl).
CONTROL_PREFIX = '/_sandbox/'
IDENTITY_PREFIX = '/identity'
# Files in the state directory.
LOG_FILE = 'nova-sandbox.log'
STDERR_FILE = 'stderr.log'
CLOUDS_YAML = 'clouds.yaml'


class Ready(TypedDict):
    """The ready line: printed once every server is ACTIVE."""

    endpoint: str  # the compute endpoint, http://127.0.0.1:PORT/v2.1
    port: int  # also serves CONTROL_PREFIX and IDENTITY_PREFIX
    identity_url: str  # the keystone version document
    clouds_yaml: str  # clouds "sandbox" (admin), "sandbox-demo" (member)
    projects: list[str]  # project-1..project-N
    servers: dict[str, list[str]]  # server ids per host, in boot order
    hypervisors: dict[str, str]  # hypervisor id per hostname


class BootBatch(TypedDict):
    """``count`` servers to boot on ``host`` in ``project``."""

    host: str
    count: int
    project: str


def client_env(endpoint: str, identity_url: str, token: str) -> dict[str, str]:
    """Environment variables for ``openstack`` and ``nova`` as ``token``.

    Both clients authenticate with keystoneauth's ``admin_token`` plugin:
    the token and the compute endpoint.  OSC 10.5 still checks the
    identity API version, which ``OS_IDENTITY_ENDPOINT_OVERRIDE`` answers
    with the document under IDENTITY_PREFIX.  novaclient insists on an
    auth URL and a project even with ``admin_token``: ``NOVA_URL`` and
    ``NOVA_PROJECT_ID`` satisfy it, and OSC ignores them
    (``OS_PROJECT_ID`` would break OSC's ``admin_token``).
    """
    return {
        'OS_AUTH_TYPE': 'admin_token',
        'OS_ENDPOINT': endpoint,
        'OS_TOKEN': token,
        'OS_IDENTITY_ENDPOINT_OVERRIDE': identity_url,
        'NOVA_URL': identity_url,
        'NOVA_PROJECT_ID': token.partition(':')[2],
    }
