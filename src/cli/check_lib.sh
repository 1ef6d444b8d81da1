# What the command's shell tests share, sourced by each: $distribute (the command, their first
# argument), a scratch directory $work removed at exit, check() counting failures, and the
# predicates on the last run's status ($work/status) and stderr ($work/err). A test ends with
#   [ "$failures" -eq 0 ]
set -u
distribute=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

check() {  # check DESCRIPTION CONDITION...
    description=$1
    shift
    if "$@"; then
        echo "ok: $description"
    else
        echo "FAILED: $description"
        failures=$((failures + 1))
    fi
}

status_is() { [ "$(cat "$work/status")" = "$1" ]; }
err_has() { grep -q -- "$1" "$work/err"; }
