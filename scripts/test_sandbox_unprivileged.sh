#!/usr/bin/env bash
# The sandbox crate's tests again as an unprivileged user (issue 26): a service that is not
# root must hold against every probe too, and fall back to rlimits where it cannot make
# cgroups. Run as root (it switches user with setpriv); `.ci/run` calls it after the
# workspace's tests. Usage: scripts/test_sandbox_unprivileged.sh [UID]   (default 64000; the
# uid needs no account: the tests use none of its files)
set -euo pipefail
cd "$(dirname "$0")/.."
uid="${1:-64000}"
if [ "$(id -u)" != 0 ]; then
  echo "scripts/test_sandbox_unprivileged.sh must run as root (it switches to uid $uid)" >&2
  exit 2
fi
# The test binaries, copied where the user can execute them (the checkout may be under a
# directory only root can enter).
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cargo test -p qrun-sandbox --no-run --message-format=json 2>/dev/null |
  /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["profile"]["test"]:
        print(message["executable"])' |
  while read -r executable; do cp "$executable" "$dir/"; done
# One test at a time: without cgroups a run's process cap is RLIMIT_NPROC, which counts
# every process of the user, so one test's fork bomb would starve another's runs (the
# crate docs say so for an unprivileged service).
echo "running the sandbox's tests as uid $uid"
failed=0
for test in "$dir"/*; do
  (cd "$dir" && setpriv --reuid="$uid" --regid="$uid" --clear-groups \
    env -i HOME=/tmp PATH=/usr/bin:/bin "$test" --test-threads=1) || failed=1
done
exit "$failed"
