#!/usr/bin/env bash
# scripts/vm/make-initramfs.sh DIR MODULE...: the initramfs of warren's test
# VM, DIR/initrd.gz, for the kernel in DIR/kernel (fetch-kernel.sh): static
# busybox, the named kernel modules with everything they depend on, in an
# order that busybox insmod can load (there is no depmod here: each
# module's depends= line is read from the .ko itself), and scripts/vm/init.
set -euo pipefail

die() { printf 'make-initramfs: %s\n' "$*" >&2; exit 1; }

(($# >= 1)) || die "usage: make-initramfs.sh DIR MODULE..."
dir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for c in cpio gzip strings; do
	command -v "$c" >/dev/null || die "$c not found (apt-get install cpio gzip binutils)"
done
bb=$(command -v busybox || true)
[[ -n $bb ]] || die "busybox not found: apt-get install busybox-static"
# A dynamic busybox would need the host's libc in the initramfs.
if ldd "$bb" >/dev/null 2>&1; then
	die "$bb is dynamically linked: apt-get install busybox-static"
fi
mods=("$dir"/kernel/lib/modules/*)
[[ -d ${mods[0]} ]] || die "no kernel modules in $dir/kernel: run fetch-kernel.sh first"
moddir=${mods[0]}

root=$(mktemp -d "$dir/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,host,modules}
cp "$bb" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"

declare -A done_mods=()
order=()
module_file() {
	local f
	f=$(find "$moddir" -name "$1.ko" -print -quit)
	[[ -n $f ]] || f=$(find "$moddir" -name "${1//_/-}.ko" -print -quit)
	[[ -n $f ]] || die "module $1 not found under $moddir (only uncompressed .ko are handled)"
	echo "$f"
}
# add MODULE [DEPTH]: its dependencies first, then itself.
add() {
	local m=$1 depth=${2:-0} f deps d
	[[ -z ${done_mods[$m]:-} ]] || return 0
	((depth < 32)) || die "module dependencies too deep at $m"
	f=$(module_file "$m")
	deps=$(strings "$f" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' ')
	for d in $deps; do
		add "$d" $((depth + 1))
	done
	done_mods[$m]=1
	order+=("$m")
	cp "$f" "$root/modules/$m.ko"
}
for m in "$@"; do
	add "$m"
done
printf '%s\n' "${order[@]}" >"$root/modules/order"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$dir/initrd.gz.new"
mv "$dir/initrd.gz.new" "$dir/initrd.gz"
printf 'make-initramfs: %s (%s)\n' "$dir/initrd.gz" "${order[*]}" >&2
