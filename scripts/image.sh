#!/usr/bin/env bash
# scripts/image.sh: build protostar's OCI image with buildah, no daemon, no
# registry.
#
#   scripts/image.sh            build (the default)
#   scripts/image.sh build      the same
#   scripts/image.sh name       print the image name it builds (IMAGE:TAG)
#
# The image is FROM scratch: a static CGO_ENABLED=0 binary at
# /usr/local/bin/protostar (entrypoint; default command `serve`), Debian's
# CA certificates and tzdata, /tmp (uploads spool there), and the numeric
# non-root user 65532. It is committed to buildah's local storage as
# $IMAGE:$VERSION and $IMAGE:latest, and written as an OCI archive to
# bin/protostar-image.oci.tar (`skopeo copy oci-archive:… docker://…` or
# `podman load -i …` take it from there).
#
# Settings (environment): IMAGE (localhost/protostar), VERSION (git describe),
# REVISION (git rev-parse HEAD), SOURCE_URL (OCI source label),
# STORAGE_DRIVER (buildah's default, overlay, unless set: set vfs where
# overlay cannot mount, e.g. inside some containers; a storage directory
# keeps the driver it was created with). Installs buildah, ca-certificates
# and tzdata from Debian when missing; idempotent. Builds need no RUN step,
# so no container runtime (runc, crun) is involved.
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
cd -- "$REPO_ROOT"

IMAGE=${IMAGE:-localhost/protostar}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
REVISION=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
SOURCE_URL=${SOURCE_URL:-https://github.com/protostar/protostar}
BUILDAH=(buildah)
[[ -z ${STORAGE_DRIVER:-} ]] || BUILDAH+=(--storage-driver "$STORAGE_DRIVER")
IMAGE_UID=65532
BUILD_DIR="$REPO_ROOT/bin/image"
ARCHIVE="$REPO_ROOT/bin/protostar-image.oci.tar"
PKG=github.com/protostar/protostar/internal/buildinfo

log() { printf 'image: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
trap 'log "error: command failed (line $LINENO): $BASH_COMMAND"' ERR

# ensure_packages: buildah and the files the image carries, from Debian.
ensure_packages() {
	local -a missing=()
	local pkg
	for pkg in buildah ca-certificates tzdata; do
		[[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true) == installed ]] || missing+=("$pkg")
	done
	((${#missing[@]} > 0)) || return 0
	local as_root=()
	[[ $EUID -eq 0 ]] || as_root=(sudo)
	log "installing ${missing[*]}"
	# Another apt run (stack.sh) may hold the lock: wait for it.
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 ||
		die "apt-get update failed"
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# stage_rootfs: the image's whole file tree in $BUILD_DIR/rootfs.
stage_rootfs() {
	local root="$BUILD_DIR/rootfs"
	rm -rf -- "$BUILD_DIR"
	mkdir -p -- "$root"/{usr/local/bin,etc/ssl/certs,usr/share,tmp}
	log "building the static binary ($VERSION, $REVISION)"
	CGO_ENABLED=0 go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X $PKG.version=$VERSION -X $PKG.revision=$REVISION" \
		-o "$root/usr/local/bin/protostar" ./cmd/protostar
	cp -- /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	cp -a -- /usr/share/zoneinfo "$root/usr/share/"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n' \
		"$IMAGE_UID" "$IMAGE_UID" >"$root/etc/passwd"
	printf 'root:x:0:\nnonroot:x:%d:\n' "$IMAGE_UID" >"$root/etc/group"
	chmod 1777 "$root/tmp"
}

build() {
	ensure_packages
	command -v go >/dev/null || export PATH=/usr/local/go/bin:$PATH
	stage_rootfs
	local ctr created previous id
	# What our tags name now: once they move to the new build, an image
	# left without any tag is removed, so repeated builds don't pile up.
	previous=$(for tag in latest "$VERSION"; do
		"${BUILDAH[@]}" images --noheading --no-trunc --format '{{.ID}}' "$IMAGE:$tag" 2>/dev/null || true
	done | sort -u)
	created=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
	ctr=$("${BUILDAH[@]}" from scratch)
	# shellcheck disable=SC2064 # expand $ctr now
	trap "${BUILDAH[*]} rm '$ctr' >/dev/null 2>&1 || true" EXIT
	"${BUILDAH[@]}" copy --quiet "$ctr" "$BUILD_DIR/rootfs/" / >/dev/null
	"${BUILDAH[@]}" config \
		--entrypoint '["/usr/local/bin/protostar"]' --cmd serve \
		--user "$IMAGE_UID:$IMAGE_UID" --workingdir / \
		--env PATH=/usr/local/bin:/usr/bin:/bin --env PROTOSTAR_HTTP_ADDR=0.0.0.0:8080 --env PROTOSTAR_LOG_FORMAT=json \
		--port 8080/tcp --stop-signal SIGTERM \
		--label org.opencontainers.image.title=protostar \
		--label "org.opencontainers.image.description=protostar: ingest, hybrid search, summaries and cited answers over Markdown" \
		--label "org.opencontainers.image.source=$SOURCE_URL" \
		--label "org.opencontainers.image.version=$VERSION" \
		--label "org.opencontainers.image.revision=$REVISION" \
		--label "org.opencontainers.image.created=$created" \
		--author protostar "$ctr"
	"${BUILDAH[@]}" commit --quiet --format oci --rm "$ctr" "$IMAGE:$VERSION" >/dev/null
	trap - EXIT
	"${BUILDAH[@]}" tag "$IMAGE:$VERSION" "$IMAGE:latest"
	for id in $("${BUILDAH[@]}" images --filter dangling=true --noheading --no-trunc --format '{{.ID}}'); do
		if grep -qx -- "$id" <<<"$previous"; then "${BUILDAH[@]}" rmi "$id" >/dev/null || true; fi
	done
	rm -f -- "$ARCHIVE"
	"${BUILDAH[@]}" push --quiet "$IMAGE:$VERSION" "oci-archive:$ARCHIVE:$IMAGE:$VERSION"
	log "built $IMAGE:$VERSION (and :latest), $(du -sm "$BUILD_DIR/rootfs" | cut -f1) MB unpacked; OCI archive $ARCHIVE"
}

case ${1:-build} in
build) build ;;
name) printf '%s:%s\n' "$IMAGE" "$VERSION" ;;
*) die "usage: scripts/image.sh [build|name]" ;;
esac
