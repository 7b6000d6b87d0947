#!/usr/bin/env bash
# tests/vm/ppp_vm.sh: ppp-ssh with real pppd on a real PPP kernel, in a VM
# (the machines that build warren run kernels without PPP). Fetches Debian's
# kernel (scripts/vm/fetch-kernel.sh, once, into the VM dir), builds the
# initramfs (scripts/vm/make-initramfs.sh), boots it under qemu with software
# emulation and runs tests/vm/guest_ppp.sh inside (scripts/vm/run.sh).
# `make check-vm` runs it.
#
# Environment: WARREN_BIN, WARREN_TEST_PLUGIN_DIR, WARREN_TESTS_DIR as for
# the integration tests; WARREN_VM_DIR (default: vm/ next to the build's
# core/) holds the kernel, the initramfs, the job and the console log.
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
set -euo pipefail

name=ppp_vm
WARREN_TESTS_DIR=${WARREN_TESTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
WARREN_BIN=${WARREN_BIN:-$WARREN_TESTS_DIR/../build/core/warren}
WARREN_TEST_PLUGIN_DIR=${WARREN_TEST_PLUGIN_DIR:-$WARREN_TESTS_DIR/../build/plugins/lib}
scripts=$(cd "$WARREN_TESTS_DIR/../scripts/vm" && pwd)

skip() { echo "SKIP: $name: $*"; exit 77; }
hard() { echo "ERROR: $name: $*" >&2; exit 99; }

command -v qemu-system-x86_64 >/dev/null ||
	skip "qemu-system-x86_64 not installed (scripts/setup.sh installs qemu-system-x86)"
[[ -x /usr/sbin/pppd ]] || skip "pppd not installed (scripts/setup.sh installs ppp)"
[[ -x /usr/sbin/sshd ]] || skip "sshd not installed (openssh-server)"
for c in busybox cpio strings apt-get; do
	command -v "$c" >/dev/null || skip "$c not installed (busybox-static, cpio, binutils, apt)"
done
[[ -x $WARREN_BIN ]] || hard "no warren binary at $WARREN_BIN"
WARREN_BIN=$(realpath "$WARREN_BIN")
WARREN_TEST_PLUGIN_DIR=$(realpath "$WARREN_TEST_PLUGIN_DIR")
vm_dir=${WARREN_VM_DIR:-$(dirname "$WARREN_BIN")/../vm}
mkdir -p "$vm_dir"
vm_dir=$(realpath "$vm_dir")
guest=$(realpath "$WARREN_TESTS_DIR/vm/guest_ppp.sh")

# The guest sees this machine's files, except where its /init mounts
# tmpfs: the build, the tests and the job must live elsewhere.
for p in "$WARREN_BIN" "$WARREN_TEST_PLUGIN_DIR" "$guest" "$vm_dir"; do
	case $p in
	/run/* | /var/log/* | /proc/* | /sys/* | /dev/*)
		hard "$p is hidden from the VM (tmpfs or kernel fs there): build elsewhere" ;;
	esac
	[[ $p != *" "* ]] || hard "$p has a space: the VM's job path cannot"
done

start=$SECONDS
"$scripts/fetch-kernel.sh" "$vm_dir" >/dev/null || hard "cannot fetch the VM's kernel"
"$scripts/make-initramfs.sh" "$vm_dir" virtio_pci 9pnet_virtio 9p ppp_async veth dummy ||
	hard "cannot build the initramfs"
job="$vm_dir/job-ppp.sh"
{
	echo "# written by tests/vm/ppp_vm.sh"
	printf 'export WARREN_BIN=%q WARREN_PLUGIN_DIR=%q\n' "$WARREN_BIN" "$WARREN_TEST_PLUGIN_DIR"
	printf 'exec bash %q\n' "$guest"
} >"$job"
rc=0
"$scripts/run.sh" "$vm_dir" "$job" "${WARREN_VM_TIMEOUT:-600}" || rc=$?
if ((rc == 0)) && grep -q '^WVM-RESULT: PASS' "$vm_dir/console.log"; then
	echo "PASS: $name: real pppd both ends in a VM: link up, route via libnl, ping, relink after the remote pppd was killed, route removed at stop ($((SECONDS - start)) s)"
	exit 0
fi
echo "FAIL: $name: the VM job exited with status $rc; console: $vm_dir/console.log" >&2
((rc == 99)) && exit 99
exit 1
