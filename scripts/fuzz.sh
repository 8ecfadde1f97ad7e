#!/usr/bin/env bash
# Fuzzes qrun's hostile-input surfaces (issue #9) for a fixed time per target. Not run in CI.
#
#   scripts/fuzz.sh [SECONDS]        # default 60 seconds per target
#
# Targets (fuzz/fuzz_targets/): `qasm` (the OpenQASM 2.0 and 3 front ends and the simulator via
# qrun_engine::prepare/simulate) and `http_decode` (the API's JSON bodies, list query and
# cursor, and the Idempotency-Key / X-Analytics-Consent / Authorization headers).
# FUZZ_TARGETS="qasm" limits the run to some of them.
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz if it
# is missing. Builds go to target-fuzz/ with one job, and each fuzzer runs as one process
# (libFuzzer fork mode with a single worker, so a crash is recorded and fuzzing goes on).
# The corpus grows in fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET), findings land in
# fuzz/artifacts/TARGET; neither is committed. Replay a finding with (in fuzz/)
#   cargo +nightly fuzz run [--features http] TARGET artifacts/TARGET/FILE
# then fix it and keep it as a regression test (engine/tests/fuzz_regressions.rs for `qasm`,
# a unit test next to the decoder for `http_decode`).
#
# Prints one line per target: executions, crashes (incl. timeouts and OOMs) found, and exits
# non-zero if any target found something.

set -euo pipefail

duration=${1:-60}
if ! [[ $duration =~ ^[0-9]+$ ]] || [ "$duration" -eq 0 ]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target-fuzz}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
targets=${FUZZ_TARGETS:-qasm http_decode}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz
fi

binaries="$CARGO_TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

cd "$root/fuzz"
summary=()
failed=0
for target in $targets; do
    features=()
    if [ "$target" = http_decode ]; then
        features=(--features http)
    fi
    mkdir -p "corpus/$target" "artifacts/$target"
    cp -n "seeds/$target"/* "corpus/$target/" 2>/dev/null || true
    cargo +nightly fuzz build "${features[@]}" "$target" >&2

    findings() {
        find "artifacts/$target" -maxdepth 1 -type f \
            \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l
    }
    before=$(findings)
    log="artifacts/$target/last-run.log"
    echo "fuzzing $target for ${duration}s (log: fuzz/$log)" >&2
    # The binary just built, run directly (`cargo fuzz run` would build again, and rebuild
    # the service if its sources changed meanwhile). fork=1: one worker process at a time,
    # restarted after a finding, so the run lasts the whole time and records every finding.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0} "$binaries/$target" \
        -artifact_prefix="artifacts/$target/" "corpus/$target" \
        -max_total_time="$duration" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -dict="$target.dict" -print_final_stats=1 >"$log" 2>&1 || true
    found=$(( $(findings) - before ))
    # Fork mode reports `#EXECS: cov: … oom/timeout/crash: O/T/C time: …` lines.
    execs=$(grep -oE '^#[0-9]+: cov' "$log" | tail -n 1 | tr -dc '0-9')
    line="$target: ${execs:-?} execs in ${duration}s, $found new crash/timeout/oom artifact(s)"
    if [ "$found" -gt 0 ]; then
        line+=" in fuzz/artifacts/$target"
        failed=1
    fi
    summary+=("$line")
done

printf '%s\n' "${summary[@]}"
exit "$failed"
