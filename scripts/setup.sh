#!/usr/bin/env bash
# scripts/setup.sh: install what warren's build and tests need (Debian 12
# packages), then build it out of tree in build/ under the repository.
#
#   scripts/setup.sh            packages + autoreconf (when needed) + configure + make
#   scripts/setup.sh --deps     packages only
#
# Safe to run again and again: apt is skipped when every package is installed,
# autoreconf runs only when configure is missing or older than configure.ac,
# configure only when build/ is not configured yet.
# Environment: WARREN_CONFIGURE_FLAGS (extra ./configure arguments), JOBS (make -j).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build="${WARREN_BUILD_DIR:-$top/build}" # scripts/test.sh sets build-asan for its sanitizer pass

# Keep this list in step with what configure.ac checks and what tests/ runs.
PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libssh2-1-dev libssl-dev libnl-3-dev libnl-route-3-dev libcmocka-dev
	openssh-server openssh-client putty-tools
	curl socat python3 iproute2 procps psmisc util-linux groff-base bash-completion
	qemu-system-x86 busybox-static cpio ppp
	libxau-dev xvfb xauth x11-utils
	clang libclang-rt-14-dev valgrind
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

deps_only=no
case "${1:-}" in
	--deps) deps_only=yes ;;
	-h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	"") ;;
	*) die "unknown argument '$1' (try --help)" ;;
esac

missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[[ $status == "install ok installed" ]] || printf '%s\n' "$p"
	done
}

install_packages() {
	command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects Debian (12, bookworm)"
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		say "all ${#PACKAGES[@]} Debian packages already installed"
		return
	fi
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "not root and sudo is missing: install as root: apt-get install ${missing[*]}"
		sudo=(sudo)
	fi
	say "installing: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
}

build_tree() {
	cd "$top"
	if [[ -f "$top/config.status" ]]; then
		die "$top is configured in-tree (config.status exists), which breaks the out-of-tree build in build/; run 'make distclean' there first"
	fi
	if [[ ! -x "$top/configure" || "$top/configure.ac" -nt "$top/configure" ]]; then
		say "autoreconf -fi"
		autoreconf -fi
	fi
	mkdir -p "$build"
	cd "$build"
	if [[ ! -f Makefile || ../configure -nt config.status ]]; then
		say "configuring in $build"
		# shellcheck disable=SC2086 # WARREN_CONFIGURE_FLAGS is a list of words
		../configure ${WARREN_CONFIGURE_FLAGS:-}
	fi
	say "make -j${JOBS:-2} in $build"
	make -j"${JOBS:-2}"
	say "built: $build/core/warren (plugins in $build/plugins/lib)"
}

install_packages
[[ $deps_only == yes ]] || build_tree
