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

"""The options of ``set``, ``unset`` and ``restore`` of marks."""

from __future__ import annotations

import dataclasses
import typing

from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.selection import selector

Verb = typing.Literal['set', 'unset']


@dataclasses.dataclass(frozen=True)
class ChangeOptions:
    verb: Verb
    selection: selector.Selection
    request: change_request.ChangeRequest
    #: How long to wait for a task under way before changing properties.
    timeout: float
    run: invocation.RunOptions


@dataclasses.dataclass(frozen=True)
class RestoreOptions:
    #: The journal to undo, as given.
    journal: str
    #: How long to wait for a task under way before changing properties.
    timeout: float
    run: invocation.RunOptions
    #: Restore even when the journal names another compute endpoint.
    any_endpoint: bool = False
