#!/bin/sh
# Hashbrick <-> Linux KERNEL iSCSI initiator (open-iscsi + iscsi_tcp) over plain TCP, run inside the QEMU
# guest of /work/shared/tools/vm/build-and-boot.sh (busybox sh).  The target runs on the HOST; with QEMU
# user networking (slirp) the guest reaches the host's 127.0.0.1:PORT at 10.0.2.2:PORT.
#
# Host side:
#   (from the repository root) HASHBRICK_DIR=/tmp/hb-vm deploy/hashbrick up --port 3263 --lun-size 256M
#   W=${TMPDIR:-/tmp}/hashbrick-vm
#   SHARE=$W/kroot TIMEOUT=1500 bash ../shared/tools/vm/build-and-boot.sh "$PWD/deploy/vm/kernel-initiator.sh"
#   HASHBRICK_DIR=/tmp/hb-vm deploy/hashbrick down
# SHARE=$W/kroot: the VM image's module set has no iscsi_tcp.ko/libiscsi_tcp.ko (it was built for iSER);
# the Debian kernel package extracted by the build is 9p-mounted and the two modules are insmod-ed from it.
#
# Steps: iscsid, SendTargets discovery (printed; its TargetAddress is the host's 127.0.0.1 and useless
# here), node record for 10.0.2.2:3263 by hand, login, iscsiadm -m session -P 3, 32 MiB O_DIRECT
# write/read/cmp; then HeaderDigest=CRC32C relogin + 4 MiB; then Header+DataDigest=CRC32C + 4 MiB; logout.
# Exit 0 only if all passed; otherwise the FIRST failure's code (the run continues where it makes sense):
#   10 iscsi_tcp not loadable       11 iscsid not running        12 discovery failed/target not listed
#   13 node record not created      20 login failed              21 no SCSI disk appeared
#   22 32 MiB write failed          23 32 MiB read failed        24 32 MiB data mismatch
#   25 LUN size not 256 MiB
#   30 HeaderDigest relogin failed  31 HeaderDigest not CRC32C   32 HeaderDigest data test failed
#   40 Hdr+DataDigest relogin fail  41 DataDigest not CRC32C     42 Hdr+DataDigest data test failed
#   50 logout failed                51 session still present after logout
PORTAL=10.0.2.2:3263; IQN_DEFAULT=iqn.2026-11.io.hashbrick:xbrick1
rc=0
up() { cut -d' ' -f1 /proc/uptime; }
fail() { echo "KI-FAIL($1): $2 (uptime $(up))"; [ $rc = 0 ] && rc=$1; }
ok() { echo "KI-OK: $* (uptime $(up))"; }
step() { echo; echo "=== $* (uptime $(up))"; }
finish() { step "result"; dmesg | grep -iE 'iscsi|scsi|sd[a-z]|connection' | tail -25
  [ $rc = 0 ] && echo "KERNEL-INITIATOR-RESULT: PASS" || echo "KERNEL-INITIATOR-RESULT: FAIL rc=$rc"; exit $rc; }
el() { awk "BEGIN{printf \"%.1f\", $(up)-$1}"; }

step "modules"
modprobe -a crc32c_generic libcrc32c scsi_transport_iscsi libiscsi sd_mod 2>&1
if ! modprobe iscsi_tcp 2>/dev/null; then
  KD=/mnt/share/lib/modules/$(uname -r)/kernel/drivers/scsi
  for m in libiscsi_tcp iscsi_tcp; do
    if [ -f $KD/$m.ko ]; then insmod $KD/$m.ko
    elif [ -f $KD/$m.ko.xz ]; then xz -dc $KD/$m.ko.xz > /tmp/$m.ko && insmod /tmp/$m.ko
    else echo "no $m.ko under $KD (run with SHARE=\$W/kroot)"; fi; done
fi
grep -q '^iscsi_tcp ' /proc/modules && ok "iscsi_tcp loaded" || { fail 10 "iscsi_tcp module not loadable"; finish; }
lsmod | grep -E 'iscsi|crc32c'

step "iscsid"
mkdir -p /etc/iscsi /var/lib/iscsi /run/lock/iscsi
echo "InitiatorName=$(iscsi-iname)" > /etc/iscsi/initiatorname.iscsi; cat /etc/iscsi/initiatorname.iscsi
iscsid -f > /tmp/iscsid.log 2>&1 & IPID=$!; sleep 2
kill -0 $IPID 2>/dev/null && ok "iscsid running (pid $IPID)" || { cat /tmp/iscsid.log; fail 11 "iscsid did not start"; finish; }

step "SendTargets discovery against $PORTAL"
t=$(up); timeout 120 iscsiadm -m discovery -t sendtargets -p $PORTAL > /tmp/disc.out 2>&1; d=$?
cat /tmp/disc.out; echo "discovery rc=$d in $(el $t)s"
IQN=$(awk '{print $2}' /tmp/disc.out | grep '^iqn\.' | head -1)
if [ $d = 0 ] && [ -n "$IQN" ]; then ok "discovery lists $IQN"; else fail 12 "discovery rc=$d, no target listed"; IQN=$IQN_DEFAULT; fi
# discovery made records for the advertised TargetAddress (host loopback): drop them, add 10.0.2.2 by hand
for p in $(awk '{print $1}' /tmp/disc.out | grep -v '^10\.0\.2\.2:' | cut -d, -f1 | sort -u); do
  iscsiadm -m node -T $IQN -p $p -o delete 2>/dev/null && echo "deleted discovered record $p (unreachable from guest)"; done
iscsiadm -m node -o new -T $IQN -p $PORTAL >/dev/null 2>&1 || iscsiadm -m node -T $IQN -p $PORTAL >/dev/null 2>&1 \
  && ok "node record $IQN @ $PORTAL" || { fail 13 "cannot create node record"; finish; }
iscsiadm -m node

# login + wait for the sd disk; sets $D
login() {  # $1 = label
  t=$(up); timeout 180 iscsiadm -m node -T $IQN -p $PORTAL --login; l=$?; echo "login($1) rc=$l in $(el $t)s"
  [ $l = 0 ] || { tail -20 /tmp/iscsid.log; dmesg | tail -15; return 1; }
  D=""; i=0; while [ -z "$D" ] && [ $i -lt 60 ]; do
    D=$(iscsiadm -m session -P 3 2>/dev/null | awk '/Attached scsi disk/{print $4; exit}')
    [ -n "$D" ] && [ -b /dev/$D ] || { D=""; sleep 1; i=$((i+1)); }; done
  echo "disk($1)=/dev/$D"; iscsiadm -m session; return 0; }
logout() { timeout 120 iscsiadm -m node -T $IQN -p $PORTAL --logout; o=$?; echo "logout rc=$o"; return $o; }
params() { iscsiadm -m session -P 3 | awk '/Negotiated iSCSI params/{f=1} /Attached SCSI devices/{f=0} f && /: /'; }
# dd+cmp of $1 MiB at MiB offset $2; returns 2 write, 3 read, 4 mismatch
xfer() { n=$1; o=$2
  t=$(up); dd if=/dev/urandom of=/tmp/pat bs=1M count=$n 2>/dev/null; echo "pattern $n MiB from urandom: $(el $t)s"
  t=$(up); dd if=/tmp/pat of=/dev/$D bs=1M seek=$o count=$n oflag=direct 2>/tmp/dd.err || { cat /tmp/dd.err; return 2; }
  tail -1 /tmp/dd.err; echo "write $n MiB @${o}MiB O_DIRECT: $(el $t)s"
  t=$(up); dd if=/dev/$D of=/tmp/back bs=1M skip=$o count=$n iflag=direct 2>/tmp/dd.err || { cat /tmp/dd.err; return 3; }
  tail -1 /tmp/dd.err; echo "read  $n MiB @${o}MiB O_DIRECT: $(el $t)s"
  cmp /tmp/pat /tmp/back || return 4; return 0; }

step "login (no digests)"
login plain || { fail 20 "login failed"; finish; }
[ -n "$D" ] || { dmesg | tail -20; fail 21 "no SCSI disk appeared after login"; logout; finish; }
step "iscsiadm -m session -P 3"; iscsiadm -m session -P 3
sz=$(( $(cat /sys/block/$D/size) * 512 )); echo "/dev/$D size=$sz bytes, logical block $(cat /sys/block/$D/queue/logical_block_size)"
[ $sz = 268435456 ] && ok "LUN size 256 MiB" || fail 25 "LUN size $sz != 268435456"

step "32 MiB O_DIRECT write/read/cmp on /dev/$D"
xfer 32 0; x=$?
case $x in 0) ok "32 MiB O_DIRECT write + read-back + cmp";; 2) fail 22 "32 MiB write";; 3) fail 23 "32 MiB read";; *) fail 24 "32 MiB data mismatch";; esac
cp /tmp/pat /tmp/pat32
logout || fail 50 "logout failed"

step "HeaderDigest=CRC32C"
iscsiadm -m node -T $IQN -p $PORTAL -o update -n 'node.conn[0].iscsi.HeaderDigest' -v CRC32C
if login hdrdigest && [ -n "$D" ]; then
  params | grep -E 'HeaderDigest|DataDigest'
  params | grep -q 'HeaderDigest: CRC32C' && ok "HeaderDigest CRC32C negotiated" || fail 31 "HeaderDigest not CRC32C"
  # re-read the start of the 32 MiB pattern written without digests, then a fresh 4 MiB write/read
  dd if=/dev/$D of=/tmp/back bs=1M count=4 iflag=direct 2>/dev/null; head -c 4194304 /tmp/pat32 | cmp - /tmp/back \
    && ok "earlier data re-read with HeaderDigest" || fail 32 "earlier data differs when re-read with HeaderDigest"
  xfer 4 64 && ok "4 MiB O_DIRECT write/read/cmp with HeaderDigest=CRC32C" || fail 32 "4 MiB data test with HeaderDigest (xfer rc=$?)"
  logout || fail 50 "logout failed"
else fail 30 "relogin with HeaderDigest=CRC32C failed"; fi

step "HeaderDigest=CRC32C + DataDigest=CRC32C"
iscsiadm -m node -T $IQN -p $PORTAL -o update -n 'node.conn[0].iscsi.DataDigest' -v CRC32C
if login datadigest && [ -n "$D" ]; then
  params | grep -E 'HeaderDigest|DataDigest'
  params | grep -q 'DataDigest: CRC32C' && ok "DataDigest CRC32C negotiated" || fail 41 "DataDigest not CRC32C"
  xfer 4 128 && ok "4 MiB O_DIRECT write/read/cmp with Header+DataDigest=CRC32C" || fail 42 "4 MiB data test with Header+DataDigest (xfer rc=$?)"
  logout || fail 50 "logout failed"
else fail 40 "relogin with Header+DataDigest=CRC32C failed"; fi
sleep 1; iscsiadm -m session >/dev/null 2>&1 && { iscsiadm -m session; fail 51 "session still present after logout"; } || ok "no sessions left"
finish
