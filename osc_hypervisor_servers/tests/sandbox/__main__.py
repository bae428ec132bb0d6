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

"""The sandbox's nova child process: command line, start-up, shutdown.

``python -m osc_hypervisor_servers.tests.sandbox --help``.  It binds its
public port and keystone's internal one first, so that every URL is
known, then starts keystone in a child process of its own (``identity``)
and nova's harness side by side, since neither needs the other until the
first token.  Once every server is ACTIVE it prints the ready line
(``protocol.Ready``, one JSON line) on stdout and ``export`` lines for
humans on stderr, logs to ``nova-sandbox.log`` (keystone to
``keystone.log``) in its state directory, and serves until SIGTERM or
SIGINT, or until its parent process dies (so that a killed test run
leaves no sandbox behind; keystone follows it when its stdin closes).
"""

import argparse
from collections.abc import Sequence
import json
import os
import queue
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

from osc_hypervisor_servers.tests.sandbox import protocol


def host_option(argument: str) -> str | protocol.Host:
    try:
        return protocol.parse_host_argument(argument)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{argument!r}: expected NAME or NAME:VCPUS,MEMORY_MB,DISK_GB '
            f'(positive integers)'
        ) from None


def node_option(argument: str) -> tuple[str, str]:
    host, equals, node = argument.partition('=')
    if not (host and equals and node):
        raise argparse.ArgumentTypeError(f'{argument!r}: expected HOST=NODE')
    return host, node


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f'python -m {__package__}',
        description='Run a real nova-api, placement and keystone with '
        'FakeDriver computes on 127.0.0.1 until SIGTERM or SIGINT. Prints '
        'one JSON line on stdout once ready, and export lines for humans '
        'on stderr.',
    )
    parser.add_argument(
        '--host',
        dest='hosts',
        action='append',
        required=True,
        type=host_option,
        metavar='NAME[:VCPUS,MEMORY_MB,DISK_GB]',
        help='hypervisor (compute service) host name, with its size '
        "(default: FakeDriver's, 1000 vCPUs, 800000 MiB, 600000 GiB); "
        'repeat for several',
    )
    parser.add_argument(
        '--node',
        dest='nodes',
        action='append',
        default=[],
        type=node_option,
        metavar='HOST=NODE',
        help="the node (hypervisor) name HOST's compute reports "
        '(default: the host name); repeat for several',
    )
    parser.add_argument(
        '--servers-per-host',
        type=int,
        default=2,
        help='servers to boot on each host (default 2)',
    )
    parser.add_argument(
        '--projects',
        type=int,
        default=1,
        help='spread the servers of each host over '
        'project-1..project-N round-robin (default 1)',
    )
    parser.add_argument(
        '--latency-ms',
        type=float,
        default=0,
        help='delay added to every request, to every service',
    )
    parser.add_argument(
        '--max-limit',
        type=int,
        metavar='N',
        help="nova's [api] max_limit: at most N items per listing page "
        "(default: nova's, 1000)",
    )
    for resource, default in (('cpu', 4.0), ('ram', 1.0), ('disk', 1.0)):
        parser.add_argument(
            f'--{resource}-allocation-ratio',
            type=float,
            metavar='RATIO',
            help=f"nova's {resource}_allocation_ratio (default: nova's "
            f'initial_{resource}_allocation_ratio, {default})',
        )
    parser.add_argument(
        '--report-interval',
        type=int,
        metavar='SECONDS',
        help="nova's report_interval: how often each compute service "
        "reports in (default: nova's, 10)",
    )
    parser.add_argument(
        '--port',
        type=int,
        default=0,
        help='TCP port on 127.0.0.1 (default: any free)',
    )
    parser.add_argument(
        '--state-dir',
        help='databases, log, clouds.yaml (default: a '
        'temporary directory, removed at exit)',
    )
    args = parser.parse_args(argv)
    if args.projects < 1 or args.servers_per_host < 0:
        parser.error('need --projects >= 1 and --servers-per-host >= 0')
    if args.report_interval is not None and args.report_interval < 1:
        parser.error('need --report-interval >= 1')
    if args.max_limit is not None and args.max_limit < 1:
        parser.error('need --max-limit >= 1')
    return args


def listen(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port)."""
    return socket.create_server(('127.0.0.1', port), backlog=128)


class IdentityProcess:
    """The keystone child (``identity``), seen from the nova child."""

    def __init__(
        self, state_dir: str, public_base: str, projects: int
    ) -> None:
        # Bound here, so that its URL is known before keystone starts.
        listener = listen(0)
        port = listener.getsockname()[1]
        self.internal_url = (
            f'http://127.0.0.1:{port}{protocol.IDENTITY_PREFIX}'
        )
        self.port = port
        # stdin stays open: keystone exits when this process does.  Its
        # libraries warn about their own deprecations (eventlet's, on
        # stderr) at every start.
        self.process = subprocess.Popen(
            [
                sys.executable,
                '-W',
                'ignore::DeprecationWarning',
                '-m',
                f'{__package__}.identity',
            ],  # fmt: skip
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=[listener.fileno()],
            text=True,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(
            json.dumps(
                protocol.IdentityRequest(
                    state_dir=state_dir,
                    socket_fd=listener.fileno(),
                    public_base=public_base,
                    internal_url=self.internal_url,
                    projects=projects,
                )
            )
            + '\n'
        )
        self.process.stdin.flush()
        listener.close()
        self._ready: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None
        threading.Thread(
            target=lambda: self._ready.put(stdout.readline()), daemon=True
        ).start()

    def wait_ready(self, timeout: float = 120) -> protocol.IdentityReady:
        try:
            line = self._ready.get(timeout=timeout)
        except queue.Empty:
            line = ''
        if not line:
            raise RuntimeError(
                f'keystone not ready (exit code {self.process.poll()}); '
                f'see {protocol.KEYSTONE_LOG_FILE} and {protocol.STDERR_FILE}'
            )
        ready: protocol.IdentityReady = json.loads(line)
        return ready

    def stop(self) -> None:
        """Close keystone's stdin, which ends it; wait a little."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def write_clouds_yaml(path: str, identity_url: str) -> None:
    """clouds.yaml, written as JSON (which is YAML)."""
    with open(path, 'w') as clouds_file:
        json.dump(protocol.clouds(identity_url), clouds_file, indent=2)


def serve(
    args: argparse.Namespace, state_dir: str
) -> tuple[Any, IdentityProcess]:
    """Start the cloud, boot the servers, print the ready lines; return
    the running HTTP server and keystone.
    """
    started = time.monotonic()
    listener = listen(args.port)
    port = int(listener.getsockname()[1])
    public_base = f'http://127.0.0.1:{port}'
    endpoint = public_base + protocol.COMPUTE_PATH
    identity_url = public_base + protocol.IDENTITY_PREFIX
    keystone = IdentityProcess(state_dir, public_base, args.projects)

    # Before nova's first import (in cloud): native threads, no eventlet.
    os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
    import waitress

    from osc_hypervisor_servers.tests.sandbox import cloud
    from osc_hypervisor_servers.tests.sandbox import traffic
    from osc_hypervisor_servers.tests.sandbox import wsgi

    # The harness's temporary files (placement's database, lock files)
    # land in the state directory too.
    tempfile.tempdir = state_dir
    nova = cloud.SandboxCloud(
        args.hosts,
        state_dir,
        args.max_limit,
        {
            **{
                f'{resource}_allocation_ratio': ratio
                for resource in ('cpu', 'ram', 'disk')
                if (ratio := getattr(args, f'{resource}_allocation_ratio'))
                is not None
            },
            **(
                {'report_interval': args.report_interval}
                if args.report_interval is not None
                else {}
            ),
        },
        identity_url,
        keystone.internal_url,
        dict(args.nodes),
    )
    nova.setUp()
    projects = keystone.wait_ready()['projects']
    project_ids = [
        projects[protocol.project_name(index)]
        for index in range(args.projects)
    ]
    control = traffic.TrafficControl(
        traffic.public_services(
            compute=nova.app,
            identity=wsgi.Forward(keystone.port),
            placement=nova.placement_app,
        ),
        nova,
        args.latency_ms,
    )
    # Requests sleep their latency in these threads: enough of them for
    # many concurrent clients.
    server = waitress.create_server(control, sockets=[listener], threads=64)
    threading.Thread(target=server.run, daemon=True).start()

    # Server n of a host goes to project n % len(projects).
    servers = nova.boot(
        [
            protocol.Boot(
                host=host,
                count=len(range(index, args.servers_per_host, args.projects)),
                project=project,
            )
            for host in map(protocol.host_name, args.hosts)
            for index, project in enumerate(project_ids)
        ]
    )

    clouds_yaml = os.path.join(state_dir, protocol.CLOUDS_YAML)
    write_clouds_yaml(clouds_yaml, identity_url)
    ready = protocol.Ready(
        endpoint=endpoint,
        port=port,
        identity_url=identity_url,
        identity_internal_url=keystone.internal_url,
        placement_url=public_base + protocol.PLACEMENT_PREFIX,
        clouds_yaml=clouds_yaml,
        projects=project_ids,
        servers=servers,
        hypervisors=nova.hypervisors(),
    )
    # sys.__stdout__: the harness may have replaced sys.stdout.
    print(json.dumps(ready), file=sys.__stdout__, flush=True)
    env = protocol.client_env(clouds_yaml, identity_url, protocol.ADMIN)
    nova_exports = ' '.join(
        f'{key}={shlex.quote(value)}'
        for key, value in env.items()
        if key.startswith('NOVA_')
    )
    log_file = os.path.join(state_dir, protocol.LOG_FILE)
    print(
        f'nova sandbox ready in {time.monotonic() - started:.1f} s at '
        f'{public_base} (log: {log_file}). For openstack:\n'
        f'export OS_CLIENT_CONFIG_FILE={shlex.quote(clouds_yaml)}\n'
        f'export OS_CLOUD={protocol.CLOUDS[protocol.ADMIN]}\n'
        f'(OS_CLOUD={protocol.CLOUDS[protocol.MEMBER]} or '
        f'{protocol.CLOUDS[protocol.READER]}: a member or a reader of '
        f'{protocol.project_name(0)}.) For nova, which does not read '
        f'clouds.yaml:\nexport {nova_exports}',
        file=sys.__stderr__,
        flush=True,
    )
    return server, keystone


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    state_dir = os.path.abspath(
        args.state_dir or tempfile.mkdtemp(prefix='nova-sandbox-')
    )
    os.makedirs(state_dir, exist_ok=True)
    parent = os.getppid()
    # Until ready, SIGINT and SIGTERM end the process at once.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        server, keystone = serve(args, state_dir)
    except Exception:
        traceback.print_exc()
        # nova's non-daemon threads would keep a failed process alive.
        os._exit(1)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_ignored: stop.set())
    # Also stop when the parent dies, so that a killed test run leaves no
    # sandbox behind.
    while not stop.wait(1) and os.getppid() == parent:
        pass
    server.close()
    keystone.stop()
    if not args.state_dir:
        shutil.rmtree(state_dir, ignore_errors=True)
    # nova's services run in non-daemon threads that are not worth
    # stopping one by one: the process, its sockets and files go at once.
    os._exit(0)


main()
