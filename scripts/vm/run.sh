#!/usr/bin/env bash
# scripts/vm/run.sh DIR JOB [TIMEOUT]: boot warren's test VM (the kernel and
# initramfs in DIR, from fetch-kernel.sh and make-initramfs.sh) and run the
# bash script JOB inside it, as root, in a chroot of this machine's own
# files (shared read-only over 9p; see scripts/vm/init). JOB must be a path
# the guest sees: anywhere in the host's tree. Software emulation (TCG):
# KVM is not relied on. The console goes to stdout and DIR/console.log.
# Exits with JOB's status; 99 when the VM did not report one (no boot,
# TIMEOUT seconds passed (default 600), a crash).
set -euo pipefail

die() { printf 'vm/run: %s\n' "$*" >&2; exit 99; }

(($# >= 2)) || die "usage: run.sh DIR JOB [TIMEOUT]"
dir=$(cd "$1" && pwd)
job=$2
limit=${3:-600}
[[ $job == /* && -f $job ]] || die "JOB must be an absolute path to a file: $job"
[[ $job != *" "* ]] || die "JOB must not contain spaces: $job"
qemu=$(command -v qemu-system-x86_64 || true)
[[ -n $qemu ]] || die "qemu-system-x86_64 not found: apt-get install --no-install-recommends qemu-system-x86"
kernels=("$dir"/kernel/boot/vmlinuz-*)
[[ -f ${kernels[0]} ]] || die "no kernel in $dir: run fetch-kernel.sh"
[[ -f $dir/initrd.gz ]] || die "no initramfs in $dir: run make-initramfs.sh"

log="$dir/console.log"
rc=0
timeout -k 10 "$limit" "$qemu" -accel tcg -smp 2 -m 768 -nographic -no-reboot -nic none \
	-kernel "${kernels[0]}" -initrd "$dir/initrd.gz" \
	-append "console=ttyS0 loglevel=3 panic=-1 wvm.job=$job" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	</dev/null 2>&1 | tr -d '\r' | tee "$log" || rc=$?
status=$(sed -n 's/^WVM-EXIT \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
if [[ -z $status ]]; then
	((rc == 124)) && die "the VM ran past $limit s"
	die "the VM ended without a job status (qemu status $rc); see $log"
fi
exit "$status"
