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

"""The options of ``migrate``, ``evacuate`` and their restore, and their
defaults.
"""

from __future__ import annotations

import dataclasses

from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.selection import selector

# Per source host: Nova runs one live migration per compute at a time by
# default (max_concurrent_live_migrations) and queues the rest. Two moves
# queued behind the running one keep the host busy while a finished move
# is seen and the next one submitted; see the performance page.
DEFAULT_PARALLEL_PER_HOST = 3


@dataclasses.dataclass(frozen=True)
class Waiting:
    """How a run waits for its moves."""

    #: How long to wait for each server, from the start of its move.
    timeout: float
    #: False: only submit each move (``--no-wait``).
    wait: bool = True
    #: False: leave cold migrations in VERIFY_RESIZE (``--no-confirm``).
    confirm: bool = True


@dataclasses.dataclass(frozen=True)
class Preflight:
    """Whether a run checks that its servers fit before moving any."""

    #: False: move everything, as Nova's scheduler decides (no check).
    check: bool = True
    #: True: move what fits, skip the rest (else a run with any server
    #: that would not fit is refused before its first move).
    allow_partial: bool = False
    #: Whether the command offers --allow-partial and --skip-preflight
    #: (``maintain`` does not: it hands over only empty hosts).
    may_relax: bool = True


@dataclasses.dataclass(frozen=True)
class RestoreOptions:
    """The options of ``restore`` of a journal of moves."""

    #: The journal to undo, as given.
    journal: str
    waiting: Waiting
    run: invocation.RunOptions
    #: Restore even when the journal names another compute endpoint.
    any_endpoint: bool = False
    preflight: Preflight = Preflight()


@dataclasses.dataclass(frozen=True)
class DrainOptions:
    selection: selector.Selection
    mode: kinds.Mode
    waiting: Waiting
    run: invocation.RunOptions
    #: The hypervisor to move to (ID or exact hostname); None: the
    #: scheduler picks.
    target: str | None = None
    disable_service: bool = False
    disable_reason: str | None = None
    preflight: Preflight = Preflight()


@dataclasses.dataclass(frozen=True)
class MaintainOptions:
    """The options of ``maintain``."""

    #: The hypervisors, in the order they are maintained (IDs or exact
    #: hostnames).
    hypervisors: tuple[str, ...]
    #: The operator's command, run for each host once it is drained.
    command: str
    #: How long to wait for each move, and for each host to be back.
    waiting: Waiting
    run: invocation.RunOptions
    mode: kinds.Mode = 'auto'
    #: The health gate: a host is back once this exits 0.
    check: str | None = None
    #: Hypervisors drained together, handed over one after the other.
    hosts_at_once: int = 1
    #: Leave the servers where their drain put them.
    no_return: bool = False
    #: Stop at the first host that is skipped, instead of going on.
    stop_on_failure: bool = False
    #: The journal of a killed run to go on with.
    resume: str | None = None
