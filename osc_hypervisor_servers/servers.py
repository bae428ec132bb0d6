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

"""The servers on a set of hypervisors, as plain snapshots.

Snapshots are immutable and hold only what planning needs, so worker
threads never share an openstacksdk resource (the SDK changes those in
place).
"""

import dataclasses
import logging

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerState:
    id: str
    name: str
    project_id: str
    hypervisor: str
    status: str
    metadata: dict
    tags: frozenset
    description: str | None


def _from_sdk(server):
    return ServerState(
        id=server.id,
        name=server.name,
        project_id=server.project_id,
        hypervisor=server.hypervisor_hostname,
        status=server.status,
        metadata=dict(server.metadata or {}),
        tags=frozenset(server.tags or ()),
        description=server.description,
    )


def _query(hypervisor, status, project_id):
    # Keyword names are openstacksdk's, which drops unknown ones silently:
    # "host=" instead of "compute_host=" would list every server.
    query = {'compute_host': hypervisor.host, 'node': hypervisor.name}
    if status:
        query['status'] = status
    if project_id:
        query['project_id'] = project_id
    return query


def list_servers(compute, hypervisors, retry, status=None, project_id=None):
    """Every server on ``hypervisors``, across all projects, each once.

    Nova filters by service host and node, but "node" is a regular
    expression to it, so every server is checked again here: one that
    is not on a requested hypervisor is never returned.
    """
    found = {}
    for hypervisor in hypervisors:
        query = _query(hypervisor, status, project_id)
        listed = retry.call(
            lambda query=query: list(
                compute.servers(details=True, all_projects=True, **query)
            )
        )
        for server in map(_from_sdk, listed):
            if (
                server.hypervisor != hypervisor.name
                or (status and server.status != status)
                or (project_id and server.project_id != project_id)
            ):
                LOG.debug('Skipping server %s: not selected', server.id)
                continue
            found.setdefault(server.id, server)
    return list(found.values())
