#!/usr/bin/env bash
# scripts/vm/fetch-kernel.sh DIR: Debian's own kernel for warren's test VM,
# unpacked in DIR/kernel (boot/vmlinuz-* and lib/modules/*). The machines
# that build warren run kernels without PPP; the VM boots one that has it.
#
# The package is the one linux-image-amd64 depends on (apt-cache depends),
# fetched with apt-get download: no root needed, nothing installed. Does
# nothing when DIR/kernel holds a kernel already. Prints the vmlinuz path.
set -euo pipefail

die() { printf 'fetch-kernel: %s\n' "$*" >&2; exit 1; }

(($# == 1)) || die "usage: fetch-kernel.sh DIR"
dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

find_vmlinuz() {
	local f
	for f in "$dir"/kernel/boot/vmlinuz-*; do
		[[ -f $f ]] && { echo "$f"; return 0; }
	done
	return 1
}

if vmlinuz=$(find_vmlinuz) && [[ -d $dir/kernel/lib/modules ]]; then
	echo "$vmlinuz"
	exit 0
fi
[[ $(uname -m) == x86_64 ]] || die "the test VM is x86_64 only (this machine: $(uname -m))"
for c in apt-get apt-cache dpkg; do
	command -v "$c" >/dev/null || die "$c not found: this script expects Debian (12, bookworm)"
done
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[[ -n $pkg ]] || die "apt-cache knows no linux-image-amd64 package: run apt-get update"

tmp=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf 'fetch-kernel: apt-get download %s\n' "$pkg" >&2
# _apt cannot write into a private temp dir: apt then downloads as the
# caller and says so; that warning is noise here.
(cd "$tmp" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' >&2) ||
	die "apt-get download $pkg failed"
deb=("$tmp"/*.deb)
[[ -f ${deb[0]} ]] || die "apt-get download $pkg left no .deb"
dpkg -x "${deb[0]}" "$tmp/kernel"
rm -rf "$dir/kernel"
mv "$tmp/kernel" "$dir/kernel"
find_vmlinuz || die "no boot/vmlinuz-* in $pkg"
