#!/usr/bin/env bash
# scripts/helm.sh: run a pinned Helm, built from the Go module proxy once per
# machine and cached per user (there is no other way to get Helm here).
#
#   scripts/helm.sh lint deploy/helm/protostar
#   scripts/helm.sh template demo deploy/helm/protostar --set ...
#   scripts/helm.sh path        print the cached binary's path (building it first)
#
# The first run compiles Helm (~3 min on 2 cores); later runs start at once.
# The cache is ${PROTOSTAR_CACHE_DIR:-~/.cache/protostar}/helm-$HELM_VERSION.
set -Eeuo pipefail

HELM_VERSION=v3.21.4
HELM_MODULE=helm.sh/helm/v3/cmd/helm
USER_HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE_DIR=${PROTOSTAR_CACHE_DIR:-$USER_HOME/.cache/protostar}
HELM_DIR="$CACHE_DIR/helm-$HELM_VERSION"
HELM_BIN="$HELM_DIR/helm"

log() { printf 'helm.sh: %s\n' "$*" >&2; }

helm_ok() { [[ -x $HELM_BIN ]] && "$HELM_BIN" version --short >/dev/null 2>&1; }

# build_helm: go install into a temporary GOBIN, then rename, so $HELM_BIN
# is either absent or complete; a lock keeps two builds from racing.
build_helm() {
	helm_ok && return 0
	local go_cmd tmp
	go_cmd=$(command -v go || echo /usr/local/go/bin/go)
	[[ -x $go_cmd ]] || { log "error: go is needed to build helm"; exit 1; }
	tmp=$(mktemp -d "$HELM_DIR/.build.XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf -- '$tmp'" EXIT
	log "building helm $HELM_VERSION from the Go module proxy (~3 min, once per machine)"
	(cd -- "$tmp" && GOBIN="$tmp" GOFLAGS=-buildvcs=false "$go_cmd" install \
		-ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "$HELM_MODULE@$HELM_VERSION") >&2 ||
		{ log "error: building helm failed"; exit 1; }
	mv -f -- "$tmp/helm" "$HELM_BIN"
	rm -rf -- "$tmp"
	trap - EXIT
}

if ! helm_ok; then
	mkdir -p -- "$HELM_DIR"
	exec 9>"$HELM_DIR/build.lock"
	flock -w 1200 9 || { log "error: timed out waiting for another helm build"; exit 1; }
	build_helm
	exec 9>&-
fi

if [[ ${1:-} == path ]]; then
	printf '%s\n' "$HELM_BIN"
	exit 0
fi
exec "$HELM_BIN" "$@"
