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

"""Planning: the API calls each server needs, and nothing more.

A plan is computed from the server as the listing returned it, without
any HTTP; executing it is :mod:`osc_hypervisor_servers.execute`'s job.
A server whose plan is empty gets no write at all.
"""

import dataclasses

from openstack.compute.v2 import server as sdk_server

from osc_hypervisor_servers import changes


@dataclasses.dataclass(frozen=True)
class SetProperties:
    """One metadata merge (POST) for all properties of a server."""

    properties: dict

    def describe(self):
        return 'set property ' + ', '.join(
            f'{key}={value}' for key, value in sorted(self.properties.items())
        )

    def send(self, compute, server_id):
        # Not compute.set_server_metadata(server_id, **properties): a
        # property named "server" would collide with its first argument.
        sdk_server.Server(id=server_id).set_metadata(
            compute, metadata=dict(self.properties)
        )


@dataclasses.dataclass(frozen=True)
class RemoveProperty:
    key: str

    def describe(self):
        return f'unset property {self.key}'

    def send(self, compute, server_id):
        compute.delete_server_metadata(
            server_id, [changes.url_segment(self.key)]
        )


@dataclasses.dataclass(frozen=True)
class UpdateDescription:
    """Set the description, or remove it when ``description`` is None."""

    description: str | None

    def describe(self):
        if self.description is None:
            return 'unset description'
        return f'set description {self.description!r}'

    def send(self, compute, server_id):
        compute.update_server(server_id, description=self.description)


@dataclasses.dataclass(frozen=True)
class AddTag:
    tag: str

    def describe(self):
        return f'add tag {self.tag}'

    def send(self, compute, server_id):
        compute.add_tag_to_server(server_id, changes.url_segment(self.tag))


@dataclasses.dataclass(frozen=True)
class RemoveTag:
    tag: str

    def describe(self):
        return f'remove tag {self.tag}'

    def send(self, compute, server_id):
        compute.remove_tag_from_server(
            server_id, changes.url_segment(self.tag)
        )


def plan_server(server, change):
    """The calls, in order, that bring ``server`` to ``change``.

    Mirrors ``openstack server set``/``unset`` for one server, minus every
    call whose effect the listing shows is already there.
    """
    calls = []
    if change.description is not None:
        if server.description != change.description:
            calls.append(UpdateDescription(change.description))
    elif change.remove_description and server.description:
        calls.append(UpdateDescription(None))

    new_properties = {
        key: value
        for key, value in change.properties.items()
        if server.metadata.get(key) != value
    }
    if new_properties:
        calls.append(SetProperties(new_properties))
    calls.extend(
        RemoveProperty(key)
        for key in change.property_keys_to_remove
        if key in server.metadata
    )

    calls.extend(
        AddTag(tag) for tag in change.tags_to_add if tag not in server.tags
    )
    calls.extend(
        RemoveTag(tag) for tag in change.tags_to_remove if tag in server.tags
    )
    return tuple(calls)


def describe(calls):
    return ', '.join(call.describe() for call in calls)


@dataclasses.dataclass(frozen=True)
class ServerPlan:
    server: object
    calls: tuple


def plan_servers(servers, change):
    return [
        ServerPlan(server, plan_server(server, change)) for server in servers
    ]
