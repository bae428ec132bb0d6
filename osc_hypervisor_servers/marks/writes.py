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

"""The API writes that change a server's attributes.

Each write knows the changes it makes and the values they replace, for
the Details column and the journal, and whether a server already holds
what it writes (to judge it after a lost answer).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
import dataclasses
import typing

from openstack.compute.v2 import _proxy
from openstack.compute.v2 import server as sdk_server

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.core import rules


@dataclasses.dataclass(frozen=True)
class Write(abc.ABC):
    """One API call that makes ``changes`` on a server."""

    changes: tuple[attributes.AttributeChange, ...]

    #: What Nova calls the attributes it writes, when it checks the
    #: server's state first (None: it never does).
    checked_as: typing.ClassVar[str | None] = None
    #: Whether Nova also refuses while a task is under way.
    waits_for_tasks: typing.ClassVar[bool] = False

    def refusal(self, server: model.ServerState) -> str | None:
        """Why Nova would refuse this write on ``server`` as it is."""
        if self.checked_as is None:
            return None
        return rules.state_problem(
            self.checked_as, server.vm_state, server.status
        )

    @abc.abstractmethod
    def describe(self) -> str:
        """What the call does, for the Details column."""

    @abc.abstractmethod
    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        """Make the call; raise openstacksdk's error when Nova refuses."""

    def is_done(self, server: model.ServerState) -> bool:
        """Whether ``server`` already holds what this call writes."""
        return all(change.holds_on(server) for change in self.changes)


def _was(before: attributes.Value, text: str) -> str:
    return '' if before is None else f' (was {text})'


class UpdateDescription(Write):
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


class SetProperties(Write):
    """One metadata merge (POST) for all properties of a server."""

    checked_as = 'properties'
    waits_for_tasks = True

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


class RemoveProperty(Write):
    checked_as = 'properties'
    waits_for_tasks = True

    def describe(self) -> str:
        (change,) = self.changes
        return f'unset property {change.attribute.name}' + _was(
            change.before, str(change.before)
        )

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.delete_server_metadata(
            server_id, [rules.url_segment(change.attribute.name)]
        )


class AddTag(Write):
    checked_as = 'tags'

    def describe(self) -> str:
        (change,) = self.changes
        return f'add tag {change.attribute.name}'

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.add_tag_to_server(
            server_id, rules.url_segment(change.attribute.name)
        )


class RemoveTag(Write):
    checked_as = 'tags'

    def describe(self) -> str:
        (change,) = self.changes
        return f'remove tag {change.attribute.name}'

    def send(self, compute: _proxy.Proxy, server_id: str) -> None:
        (change,) = self.changes
        compute.remove_tag_from_server(
            server_id, rules.url_segment(change.attribute.name)
        )


def writes_for(
    changes: Iterable[attributes.AttributeChange],
) -> tuple[Write, ...]:
    """The writes that make ``changes``, in the order ``server set`` does.

    The description first, then one merge for every property to set,
    then property deletes, tag adds and tag deletes.
    """
    descriptions: list[Write] = []
    merged: list[attributes.AttributeChange] = []
    removed: list[Write] = []
    added_tags: list[Write] = []
    removed_tags: list[Write] = []
    for change in changes:
        kind = change.attribute.kind
        if kind == attributes.DESCRIPTION:
            descriptions.append(UpdateDescription((change,)))
        elif kind == attributes.PROPERTY and change.after is None:
            removed.append(RemoveProperty((change,)))
        elif kind == attributes.PROPERTY:
            merged.append(change)
        elif change.after:
            added_tags.append(AddTag((change,)))
        else:
            removed_tags.append(RemoveTag((change,)))
    merge: list[Write] = [SetProperties(tuple(merged))] if merged else []
    return tuple(descriptions + merge + removed + added_tags + removed_tags)


def describe(writes: Iterable[Write]) -> str:
    return ', '.join(write.describe() for write in writes)
