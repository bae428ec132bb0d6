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

"""What every verb runs on: per-server tasks, retries, rows.

``pool`` runs tasks side by side in lanes, with Ctrl-C and progress;
``execution`` previews or runs a verb's batch (the one place that
decides on --dry-run); ``landing`` sends a call whose outcome the
server's state decides; ``retrying`` retries transient faults and waits
for a cloud that answers nothing; ``reads`` is every JSON read;
``reporting`` holds the result rows and ``errors`` the plugin's
exception and the error text. The runner knows no wing: it imports only
``core``.
"""
