#!/bin/sh
# The long fuzz run (issue 17): each named target for SECONDS on a scratch copy of its saved
# corpus, one after the other, at the lowest priority; one line per target with its executions
# and exit status, and the total. Crashes land in build-fuzz/long/crashes/.
# Usage: test/fuzz/long_run.sh SECONDS TARGET...   (after scripts/check's fuzz build, or
#        `ninja -C build-fuzz test/fuzz/TARGET`)
#   NICE=N (default 19) the niceness of the fuzzers: 19 leaves the machine to everything else,
#   a lower one keeps the run going beside builds that would otherwise take every core.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=$1
shift
long=$root/build-fuzz/long
mkdir -p "$long/crashes"
total=0
for target in "$@"; do
    case $target in
        fuzz_etf_decode) corpus=etf ;;
        fuzz_parse_term) corpus=text ;;
        *) corpus=${target#fuzz_} ;;
    esac
    rm -rf "${long:?}/$target"
    cp -R "$root/test/fuzz/corpus/$corpus" "$long/$target"
    start=$(date +%s)
    # -timeout is wall time: at nice 19 on a busy machine a unit can wait 20 s for a core (the
    # CI step keeps 20 s); a real hang still shows at 300.
    nice -n "${NICE:-19}" "$root/build-fuzz/test/fuzz/$target" -max_total_time="$seconds" -timeout=300 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$long/crashes/$target-" \
        "$long/$target" >"$long/$target.log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$long/$target.log")
    runs=${runs:-0}
    total=$((total + runs))
    echo "$target: $runs executions in $(($(date +%s) - start)) s, exit $status"
done
echo "total: $total executions"
