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

"""Keystone, in a process of its own (the nova child's child).

``python -m osc_hypervisor_servers.tests.sandbox.identity`` reads one
``protocol.IdentityRequest`` line on stdin, then does what an operator's
``keystone-manage db_sync``, ``fernet_setup`` and ``bootstrap`` would, in
one process: SQLite, fernet keys, the admin user in project ``admin``
with the admin role, the identity service at the sandbox's public and
internal endpoints.  Then, with keystone's own managers as bootstrap uses
them: the sandbox projects, the users ``member`` and ``reader`` (see
``protocol``), the service users nova's and placement's ``auth_token``
validate tokens with, and the compute and placement services in the
catalog.  It prints one ``protocol.IdentityReady`` line and serves
keystone's WSGI app with waitress on the listening socket it was given,
under ``/identity`` as the public endpoint has it, until its stdin
closes: its parent's end of that pipe closes when the parent exits,
however it exits.

Why here and not in the nova child: nova and keystone both configure
oslo.config's global ``CONF``, with the same groups (``[database]``,
``[oslo_policy]``, ...) and different values.

keystone.conf, and why:

- ``[identity] password_hash_rounds = 4``, bcrypt's least: the default
  (12) costs about 0.25 s of CPU per password checked, that is per
  ``openstack`` command run;
- ``[cache]`` in memory: without it one token costs about 70 queries and
  150 ms, with it about 25 ms; one keystone process, so nothing goes
  stale;
- the public and internal endpoints are the same app: keystone builds its
  links from the request's ``Host``, which the sandbox's proxy passes
  through, so each side sees its own URLs.
"""

import json
import os
import signal
import socket
import sys
import threading
import uuid

# keystone is not installed where mypy runs (tox -e pep8).
from keystone.cmd import bootstrap
from keystone.common import fernet_utils
from keystone.common import provider_api
from keystone.common.sql import upgrades
import keystone.conf
import keystone.server
from keystone.server.flask import application
from keystone.server.flask import core as flask_core
import waitress

from osc_hypervisor_servers.tests.sandbox import protocol

CONF = keystone.conf.CONF
PROVIDERS = provider_api.ProviderAPIs


def write_config(state_dir: str) -> str:
    path = os.path.join(state_dir, 'keystone.conf')
    with open(path, 'w') as config:
        config.write(
            _KEYSTONE_CONF.format(
                log_file=os.path.join(state_dir, protocol.KEYSTONE_LOG_FILE),
                database=os.path.join(state_dir, 'keystone.sqlite'),
                keys=os.path.join(state_dir, 'fernet-keys'),
            )
        )
    return path


_KEYSTONE_CONF = """\
[DEFAULT]
log_file = {log_file}
[database]
connection = sqlite:///{database}
[fernet_tokens]
key_repository = {keys}
[fernet_receipts]
key_repository = {keys}
[identity]
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory
"""


def set_up(request: protocol.IdentityRequest) -> protocol.IdentityReady:
    """Configure keystone, create its database, keys and content."""
    # keystone parses sys.argv; this process has no arguments.
    keystone.server.configure(
        config_files=[write_config(request['state_dir'])]
    )
    upgrades.offline_sync_database_to_version()
    keys = fernet_utils.FernetUtils(
        CONF.fernet_tokens.key_repository,
        CONF.fernet_tokens.max_active_keys,
        'fernet_tokens',
    )
    keys.create_key_directory()
    keys.initialize_key_repository()

    public_base = request['public_base']
    bootstrapper = bootstrap.Bootstrapper()  # also loads the backends
    bootstrapper.admin_username = protocol.ADMIN
    bootstrapper.admin_password = protocol.PASSWORD
    bootstrapper.project_name = protocol.ADMIN_PROJECT
    bootstrapper.admin_role_name = 'admin'
    bootstrapper.service_name = 'keystone'
    bootstrapper.public_url = public_base + protocol.IDENTITY_PREFIX
    bootstrapper.internal_url = request['internal_url']
    bootstrapper.region_id = protocol.REGION
    bootstrapper.immutable_roles = True
    bootstrapper.bootstrap()

    roles = {
        'admin': bootstrapper.admin_role_id,
        'member': bootstrapper.member_role_id,
        'reader': bootstrapper.reader_role_id,
        'service': bootstrapper.service_role_id,
    }
    user_ids = {protocol.ADMIN: bootstrapper.admin_user_id}
    for name in (protocol.MEMBER, protocol.READER, *protocol.SERVICE_USERS):
        user_ids[name] = create_user(name)
    projects = {protocol.ADMIN_PROJECT: bootstrapper.project_id}
    for index in range(request['projects']):
        name = protocol.project_name(index)
        projects[name] = create_project(name)
        for user, role in (
            (protocol.ADMIN, 'admin'),
            (protocol.MEMBER, 'member'),
            (protocol.READER, 'reader'),
        ):
            PROVIDERS.assignment_api.add_role_to_user_and_project(
                user_ids[user], projects[name], roles[role]
            )
    service_project = create_project(protocol.SERVICE_PROJECT)
    for name in protocol.SERVICE_USERS:
        PROVIDERS.assignment_api.add_role_to_user_and_project(
            user_ids[name], service_project, roles['service']
        )
    add_service('compute', 'nova', public_base + protocol.COMPUTE_PATH)
    add_service(
        'placement', 'placement', public_base + protocol.PLACEMENT_PREFIX
    )
    return protocol.IdentityReady(projects=projects)


def create_user(name: str) -> str:
    user = PROVIDERS.identity_api.create_user(
        {
            'name': name,
            'domain_id': protocol.DOMAIN,
            'password': protocol.PASSWORD,
            'enabled': True,
        }
    )
    user_id: str = user['id']
    return user_id


def create_project(name: str) -> str:
    project_id = uuid.uuid4().hex
    PROVIDERS.resource_api.create_project(
        project_id,
        {
            'id': project_id,
            'name': name,
            'domain_id': protocol.DOMAIN,
            'enabled': True,
        },
    )
    return project_id


def add_service(service_type: str, name: str, public_url: str) -> None:
    service_id = uuid.uuid4().hex
    PROVIDERS.catalog_api.create_service(
        service_id,
        {
            'id': service_id,
            'type': service_type,
            'name': name,
            'enabled': True,
        },
    )
    endpoint_id = uuid.uuid4().hex
    PROVIDERS.catalog_api.create_endpoint(
        endpoint_id,
        {
            'id': endpoint_id,
            'service_id': service_id,
            'interface': 'public',
            'url': public_url,
            'region_id': protocol.REGION,
            'enabled': True,
        },
    )


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group; this process
    # ends with its parent instead, when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    request: protocol.IdentityRequest = json.loads(sys.stdin.readline())
    listener = socket.socket(fileno=request['socket_fd'])
    ready = set_up(request)
    # What keystone's own initialize_application() does after configuring,
    # which it would do again (set_up() had to configure first).
    app = flask_core.setup_app_middleware(
        application.application_factory('public')
    )
    server = waitress.create_server(
        app,
        sockets=[listener],
        url_prefix=protocol.IDENTITY_PREFIX,
        threads=16,
    )
    threading.Thread(target=server.run, daemon=True).start()
    print(json.dumps(ready), flush=True)
    # Until the parent's end of stdin closes: the parent has exited.
    sys.stdin.read()
    os._exit(0)


if __name__ == '__main__':
    main()
