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

"""One run of a verb: how it runs, and what it talks to."""

from __future__ import annotations

from collections.abc import Callable
import dataclasses

from openstack import proxy
from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import retrying

# The defaults of the options every verb takes; the commands apply them.

#: Servers worked on at the same time. The connection pool is sized to
#: it (see connections.py); the performance page has the measurements
#: behind it.
DEFAULT_PARALLEL = 10
#: How long a run waits for each server: its move, or a task under way.
DEFAULT_TIMEOUT = 1800.0
#: How long a run keeps trying while the cloud answers nothing at all,
#: from its last answer.
DEFAULT_PATIENCE = 300.0


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a verb runs, whatever it does: part of every verb's options."""

    #: Servers worked on at the same time (per lane).
    parallel: int
    dry_run: bool = False
    #: Where to journal the run; None: a new file in the default directory.
    journal: str | None = None
    #: Read-only calls made at the same time (lookups, listings, the
    #: pre-flight); None: ``parallel`` of them.
    read_parallel: int | None = None

    @property
    def reads(self) -> int:
        """How many read-only calls the run makes at the same time."""
        return self.read_parallel or self.parallel


def _silent(message: str) -> None:
    """Notices nobody reads."""


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What a run talks to: Nova, and the operator's terminal."""

    compute: _proxy.Proxy
    retry: retrying.RetryPolicy
    progress: pool.Progress | None = None
    #: Tells the operator, on stderr, what the run did besides its rows.
    notify: Callable[[str], None] = _silent
    #: Connects to Placement, found in the catalog; None when the run does
    #: not read it. Called when first needed: connecting costs a version
    #: discovery, which a run that never reads Placement should not pay.
    connect_placement: Callable[[], proxy.Proxy] | None = None

    @property
    def endpoint(self) -> str:
        """The compute endpoint, as journals name the cloud."""
        return str(self.compute.get_endpoint() or '')
