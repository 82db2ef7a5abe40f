#!/bin/sh
# Written by `hbd export pacemaker` from /etc/ha.d (ha.cf, haresources, authkeys).
# Not carried over, to fill in, or to know (nothing is dropped silently):
# - [dropped] /etc/ha.d/authkeys: authkeys index 1 (sha1): Corosync has one authkey, derived from index 2, which signs
# - [dropped] /etc/ha.d/ha.cf:6: warntime 2: Corosync has no late-heartbeat warning (`corosync-cfgtool -s` shows each link's state)
# - [dropped] /etc/ha.d/ha.cf:10: udpport 694: Corosync uses its own port (5405 by default), so hbd and Corosync can run side by side during the move
# - [dropped] /etc/ha.d/ha.cf:12: mcast:eth2:225.0.0.7: group 225.0.0.7, port 694, ttl 1, loop 0 not used: knet sends unicast to each node's ring address
# - [dropped] /etc/ha.d/ha.cf:13: baud 38400: serial media have no knet equivalent
# - [dropped] /etc/ha.d/ha.cf:14: serial:/dev/ttyS1: knet has no serial links; give the nodes another network path instead
# - [dropped] /etc/ha.d/ha.cf:23: hbd_builtin_ipaddr off: Pacemaker always runs the IPaddr2 agent (a script per action, no in-process path)
# - [dropped] /etc/ha.d/ha.cf:26: watchdog /dev/watchdog: under Pacemaker a watchdog is sbd's job (package sbd)
# - [dropped] /etc/ha.d/ha.cf:27: respawn hacluster /usr/lib/heartbeat/ipfail: ipfail's job is done by the ping clone's location rule; run other programs as systemd units or cluster resources
# - [dropped] /etc/ha.d/haresources:1: drbddisk::r0: not a group member under Pacemaker. DRBD is a promotable clone: `primitive drbd-r0 ocf:linbit:drbd params drbd_resource=r0` (package drbd-utils), `clone ms-drbd-r0 drbd-r0 meta promotable=true promoted-max=1 notify=true`, then colocate this group with the clone's Promoted role and order promote before its start
# - [dropped] /etc/ha.d/haresources:1: appctl::web::8080: arguments web 8080 dropped: an LSB resource takes none (wrap lsb:appctl in an OCF agent with parameters to keep them)
# - [placeholder] @PLACEHOLDER:alice:eth1@: alice's address on eth1 (the ucast lines name only the peer's); replace it (or give the export's address option alice:eth1=IP)
# - [placeholder] @PLACEHOLDER:alice:eth2@: alice's address on eth2 (hbd's files give no address for it); replace it (or give the export's address option alice:eth2=IP)
# - [placeholder] @PLACEHOLDER:bert:eth2@: bert's address on eth2 (hbd's files give no address for it); replace it (or give the export's address option bert:eth2=IP)
# - [warning] token 2272 ms (from deadtime) is below Corosync's default 3000 ms: a loaded node may lose membership; raise deadtime if that happens
# - [warning] no monitor operation on Filesystem, MailTo, ip-10-9-1-11, nginx: as under hbd without hbd_monitor, a failed service is not noticed; add `op monitor interval=...` to have Pacemaker restart it
# - [warning] /etc/ha.d/haresources:1: appctl: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:appctl: install it as /etc/init.d/appctl (Pacemaker looks for LSB scripts only there) or write an OCF agent
# - [mapped] /etc/ha.d/ha.cf:24: hbd_monitor IPaddr2::10.9.1.10/24/eth0:web/10.9.1.255 5 timeout=10 restarts=2 window=600: a monitor operation; on failure Pacemaker restarts the failed resource and those after it in the group (hbd: the whole group), and failure-timeout forgets all failures at once (hbd: a sliding window)
# - [mapped] /etc/ha.d/ha.cf:25: hbd_monitor appctl 15: a monitor operation; on failure Pacemaker restarts the failed resource and those after it in the group (hbd: the whole group), and failure-timeout forgets all failures at once (hbd: a sliding window)
#
# The nodes and their ids come from corosync.conf (written beside this script).
set -eu
CIB="${CIB:-hbd-export-cib.xml}"
# PCS_OPTS=--force creates resources whose agents are not installed here (yet)
PCS_OPTS="${PCS_OPTS:-}"
pcs cluster cib "$CIB"
pcs -f "$CIB" property set stonith-enabled=true dc-deadtime=30s priority-fencing-delay=2s
pcs -f "$CIB" $PCS_OPTS resource create Filesystem ocf:heartbeat:Filesystem device=/dev/drbd0 directory=/srv/data fstype=ext4 --group grp-Filesystem --no-default-ops
pcs -f "$CIB" resource op remove Filesystem monitor
pcs -f "$CIB" $PCS_OPTS resource create appctl lsb:appctl meta migration-threshold=4 failure-timeout=300s op monitor interval=15s timeout=30s --group grp-Filesystem --no-default-ops
pcs -f "$CIB" $PCS_OPTS resource create ip-10-9-1-10 ocf:heartbeat:IPaddr2 ip=10.9.1.10 cidr_netmask=24 nic=eth0 iflabel=web broadcast=10.9.1.255 arp_count=8 arp_interval=100 meta migration-threshold=3 failure-timeout=600s op monitor interval=5s timeout=10s --group grp-Filesystem --no-default-ops
pcs -f "$CIB" $PCS_OPTS resource create MailTo ocf:heartbeat:MailTo email=ops@example.org subject=web --group grp-Filesystem --no-default-ops
pcs -f "$CIB" resource op remove MailTo monitor
pcs -f "$CIB" $PCS_OPTS resource create ip-10-9-1-11 ocf:heartbeat:IPaddr2 ip=10.9.1.11 arp_count=8 arp_interval=100 --group grp-ip-10-9-1-11 --no-default-ops
pcs -f "$CIB" resource op remove ip-10-9-1-11 monitor
pcs -f "$CIB" $PCS_OPTS resource create nginx lsb:nginx --group grp-ip-10-9-1-11 --no-default-ops
pcs -f "$CIB" resource op remove nginx monitor
pcs -f "$CIB" $PCS_OPTS stonith create fence-fence_ipmilan-alice fence_ipmilan ip=10.9.8.2 username=admin password=s3cret lanplus=1 pcmk_host_list=bert --no-default-ops
pcs -f "$CIB" stonith op delete fence-fence_ipmilan-alice monitor
pcs -f "$CIB" $PCS_OPTS stonith create fence-fence_ipmilan-bert fence_ipmilan ip=10.9.8.1 username=admin password=s3cret pcmk_host_map=alice:bmc-1 --no-default-ops
pcs -f "$CIB" stonith op delete fence-fence_ipmilan-bert monitor
pcs -f "$CIB" $PCS_OPTS stonith create fence-fence_virsh-all fence_virsh ip=kvmhost username=root identity_file=/root/.ssh/id_rsa 'pcmk_host_map=alice:vm-alice;bert:vm-bert' --no-default-ops
pcs -f "$CIB" stonith op delete fence-fence_virsh-all monitor
pcs -f "$CIB" $PCS_OPTS resource create ping ocf:pacemaker:ping 'host_list=10.9.9.254 10.9.9.253' multiplier=1000 dampen=8s op monitor interval=500ms --no-default-ops
pcs -f "$CIB" resource meta grp-Filesystem priority=1
pcs -f "$CIB" resource meta grp-ip-10-9-1-11 priority=1
pcs -f "$CIB" resource clone ping
pcs -f "$CIB" constraint location add loc-grp-Filesystem-home grp-Filesystem alice 100
pcs -f "$CIB" constraint location add loc-grp-ip-10-9-1-11-home grp-ip-10-9-1-11 bert 100
pcs -f "$CIB" constraint location grp-Filesystem rule constraint-id=loc-grp-Filesystem-ping score-attribute=pingd defined pingd
pcs -f "$CIB" constraint location grp-ip-10-9-1-11 rule constraint-id=loc-grp-ip-10-9-1-11-ping score-attribute=pingd defined pingd
pcs -f "$CIB" constraint location add loc-fence-fence_ipmilan-alice-avoid fence-fence_ipmilan-alice bert -- -INFINITY
pcs -f "$CIB" constraint location add loc-fence-fence_ipmilan-bert-avoid fence-fence_ipmilan-bert alice -- -INFINITY
pcs -f "$CIB" resource defaults update resource-stickiness=0
pcs -f "$CIB" resource op defaults update timeout=30s
pcs cluster cib-push "$CIB" --config
