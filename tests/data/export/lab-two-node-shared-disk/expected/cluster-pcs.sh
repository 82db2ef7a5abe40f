#!/bin/sh
# Written by `hbd export pacemaker` from /etc/ha.d (ha.cf, haresources, authkeys).
# Not carried over, to fill in, or to know (nothing is dropped silently):
# - [dropped] /etc/ha.d/ha.cf:5: warntime 15: Corosync has no late-heartbeat warning (`corosync-cfgtool -s` shows each link's state)
# - [dropped] /etc/ha.d/ha.cf:12: serial:/dev/ttyS0: knet has no serial links; give the nodes another network path instead
# - [dropped] /etc/ha.d/ha.cf:14: hbd_builtin_ipaddr on: Pacemaker always runs the IPaddr2 agent (a script per action, no in-process path)
# - [dropped] /etc/ha.d/haresources:2: hblab-service::8080::www: arguments 8080 www dropped: an LSB resource takes none (wrap lsb:hblab-service in an OCF agent with parameters to keep them)
# - [warning] no monitor operation on hblab-claim, hblab-writer, hblab-service, ip-192-168-77-50: as under hbd without hbd_monitor, a failed service is not noticed; add `op monitor interval=...` to have Pacemaker restart it
# - [warning] /etc/ha.d/haresources:2: hblab-claim: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-claim: install it as /etc/init.d/hblab-claim (Pacemaker looks for LSB scripts only there) or write an OCF agent
# - [warning] /etc/ha.d/haresources:2: hblab-writer: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-writer: install it as /etc/init.d/hblab-writer (Pacemaker looks for LSB scripts only there) or write an OCF agent
# - [warning] /etc/ha.d/haresources:2: hblab-service: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-service: install it as /etc/init.d/hblab-service (Pacemaker looks for LSB scripts only there) or write an OCF agent
#
# The nodes and their ids come from corosync.conf (written beside this script).
set -eu
CIB="${CIB:-hbd-export-cib.xml}"
# PCS_OPTS=--force creates resources whose agents are not installed here (yet)
PCS_OPTS="${PCS_OPTS:-}"
pcs cluster cib "$CIB"
pcs -f "$CIB" property set stonith-enabled=true dc-deadtime=30s priority-fencing-delay=1s
pcs -f "$CIB" $PCS_OPTS resource create hblab-claim lsb:hblab-claim --group grp-hblab-claim --no-default-ops
pcs -f "$CIB" resource op remove hblab-claim monitor
pcs -f "$CIB" $PCS_OPTS resource create hblab-writer lsb:hblab-writer --group grp-hblab-claim --no-default-ops
pcs -f "$CIB" resource op remove hblab-writer monitor
pcs -f "$CIB" $PCS_OPTS resource create hblab-service lsb:hblab-service --group grp-hblab-claim --no-default-ops
pcs -f "$CIB" resource op remove hblab-service monitor
pcs -f "$CIB" $PCS_OPTS resource create ip-192-168-77-50 ocf:heartbeat:IPaddr2 ip=192.168.77.50 cidr_netmask=24 nic=eth0 --group grp-hblab-claim --no-default-ops
pcs -f "$CIB" resource op remove ip-192-168-77-50 monitor
pcs -f "$CIB" $PCS_OPTS stonith create fence-fence_lab-all fence_lab socket=/run/hblab/power.sock 'pcmk_host_list=bob bobek' --no-default-ops
pcs -f "$CIB" stonith op delete fence-fence_lab-all monitor
pcs -f "$CIB" resource meta grp-hblab-claim priority=1
pcs -f "$CIB" constraint location add loc-grp-hblab-claim-home grp-hblab-claim bob 100
pcs -f "$CIB" resource defaults update resource-stickiness=200
pcs -f "$CIB" resource op defaults update timeout=60s
pcs cluster cib-push "$CIB" --config
