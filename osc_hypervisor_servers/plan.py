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
any HTTP; :mod:`osc_hypervisor_servers.apply` sends it. A server whose
plan is empty gets no write at all. Every call knows the values it
replaces, for the Details column and the journal.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses

from openstack.compute.v2 import _proxy
from openstack.compute.v2 import server as sdk_server

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import changes as changes_module
from osc_hypervisor_servers import servers


@dataclasses.dataclass(frozen=True)
class Call(abc.ABC):
    """One API call that makes ``changes`` on a server."""

    changes: tuple[attributes.AttributeChange, ...]

    @abc.abstractmethod
    def describe(self) -> str:
        """What the call does, for the Details column."""

    @abc.abstractmethod
    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        """Make the call; raise openstacksdk's error when Nova refuses."""

    def is_done(self, server: servers.ServerState) -> bool:
        """Whether ``server`` already holds what this call writes."""
        return all(change.holds_on(server) for change in self.changes)


def _was(before: attributes.Value, text: str) -> str:
    return '' if before is None else f' (was {text})'


class UpdateDescription(Call):
    """Set the description, or remove it when the new value is None."""

    def describe(self) -> str:
        (change,) = self.changes
        was = _was(change.before, repr(change.before))
        if change.after is None:
            return f'unset description{was}'
        return f'set description {change.after!r}{was}'

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.update_server(server_id, description=change.after)


class SetProperties(Call):
    """One metadata merge (POST) for all properties of a server."""

    def describe(self) -> str:
        return 'set property ' + ', '.join(
            f'{change.attribute.name}={change.after}'
            + _was(change.before, str(change.before))
            for change in sorted(self.changes, key=lambda c: c.attribute)
        )

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        # Not compute.set_server_metadata(server_id, **properties): a
        # property named "server" would collide with its first argument.
        sdk_server.Server(id=server_id).set_metadata(
            compute,
            metadata={
                change.attribute.name: change.after for change in self.changes
            },
        )


class RemoveProperty(Call):
    def describe(self) -> str:
        (change,) = self.changes
        return f'unset property {change.attribute.name}' + _was(
            change.before, str(change.before)
        )

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.delete_server_metadata(
            server_id, [changes_module.url_segment(change.attribute.name)]
        )


class AddTag(Call):
    def describe(self) -> str:
        (change,) = self.changes
        return f'add tag {change.attribute.name}'

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.add_tag_to_server(
            server_id, changes_module.url_segment(change.attribute.name)
        )


class RemoveTag(Call):
    def describe(self) -> str:
        (change,) = self.changes
        return f'remove tag {change.attribute.name}'

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.remove_tag_from_server(
            server_id, changes_module.url_segment(change.attribute.name)
        )


def calls_for(
    changes: Iterable[attributes.AttributeChange],
) -> tuple[Call, ...]:
    """The calls that make ``changes``, in the order ``server set`` does.

    The description first, then one merge for every property to set,
    then property deletes, tag adds and tag deletes.
    """
    by_kind: dict[str, list[attributes.AttributeChange]] = {
        'description': [],
        'set property': [],
        'unset property': [],
        'add tag': [],
        'remove tag': [],
    }
    for change in changes:
        kind = change.attribute.kind
        if kind == attributes.DESCRIPTION:
            by_kind['description'].append(change)
        elif kind == attributes.PROPERTY:
            key = 'unset property' if change.after is None else 'set property'
            by_kind[key].append(change)
        else:
            by_kind['add tag' if change.after else 'remove tag'].append(change)
    calls: list[Call] = [
        UpdateDescription((change,)) for change in by_kind['description']
    ]
    if by_kind['set property']:
        calls.append(SetProperties(tuple(by_kind['set property'])))
    calls.extend(RemoveProperty((c,)) for c in by_kind['unset property'])
    calls.extend(AddTag((c,)) for c in by_kind['add tag'])
    calls.extend(RemoveTag((c,)) for c in by_kind['remove tag'])
    return tuple(calls)


def describe(calls: Iterable[Call]) -> str:
    return ', '.join(call.describe() for call in calls)


@dataclasses.dataclass(frozen=True)
class ServerPlan:
    server: servers.ServerState
    calls: tuple[Call, ...]
    #: What the plan leaves alone on purpose, and why (for the row).
    notes: tuple[str, ...] = ()

    @property
    def changes(self) -> tuple[attributes.AttributeChange, ...]:
        return tuple(change for call in self.calls for change in call.changes)


def plan_server(
    server: servers.ServerState, change: changes_module.Change
) -> ServerPlan:
    """The calls that bring ``server`` to ``change``.

    Mirrors ``openstack server set``/``unset`` for one server, minus every
    call whose effect the listing shows is already there.
    """
    return ServerPlan(
        server,
        calls_for(
            attributes.AttributeChange(attribute, before, after)
            for attribute, after in change.wanted
            if (before := attribute.value_on(server)) != after
        ),
    )


def plan_servers(
    servers_: Sequence[servers.ServerState], change: changes_module.Change
) -> list[ServerPlan]:
    return [plan_server(server, change) for server in servers_]
