#!/bin/sh
# Written by `hbd export pacemaker` from /etc/ha.d (ha.cf, haresources, authkeys).
# Not carried over, to fill in, or to know (nothing is dropped silently):
# - [dropped] /etc/ha.d/ha.cf:5: warntime 15: Corosync has no late-heartbeat warning (`corosync-cfgtool -s` shows each link's state)
# - [dropped] /etc/ha.d/ha.cf:11: hbd_builtin_ipaddr on: Pacemaker always runs the IPaddr2 agent (a script per action, no in-process path)
# - [dropped] /etc/ha.d/haresources:2: hblab-service::8080::www: arguments 8080 www dropped: an LSB resource takes none (wrap lsb:hblab-service in an OCF agent with parameters to keep them)
# - [warning] no monitor operation on hblab-service, ip-192-168-77-50: as under hbd without hbd_monitor, a failed service is not noticed; add `op monitor interval=...` to have Pacemaker restart it
# - [warning] no stonith_host lines: fencing is disabled (stonith-enabled=false). This is unsafe: Pacemaker cannot make sure a lost node is really dead, so after a network split both nodes run the groups (two owners of a VIP, a shared disk mounted twice). Configure a fence device and set stonith-enabled=true
# - [warning] /etc/ha.d/haresources:2: hblab-service: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-service: install it as /etc/init.d/hblab-service (Pacemaker looks for LSB scripts only there) or write an OCF agent
#
# The nodes and their ids come from corosync.conf (written beside this script).
set -eu
CIB="${CIB:-hbd-export-cib.xml}"
# PCS_OPTS=--force creates resources whose agents are not installed here (yet)
PCS_OPTS="${PCS_OPTS:-}"
pcs cluster cib "$CIB"
# WARNING: fencing disabled (no stonith_host lines): unsafe, see the top of this file
pcs -f "$CIB" property set stonith-enabled=false dc-deadtime=30s
pcs -f "$CIB" $PCS_OPTS resource create hblab-service lsb:hblab-service --group grp-hblab-service --no-default-ops
pcs -f "$CIB" resource op remove hblab-service monitor
pcs -f "$CIB" $PCS_OPTS resource create ip-192-168-77-50 ocf:heartbeat:IPaddr2 ip=192.168.77.50 cidr_netmask=24 nic=eth0 --group grp-hblab-service --no-default-ops
pcs -f "$CIB" resource op remove ip-192-168-77-50 monitor
pcs -f "$CIB" constraint location add loc-grp-hblab-service-home grp-hblab-service bob 100
pcs -f "$CIB" resource defaults update resource-stickiness=0
pcs -f "$CIB" resource op defaults update timeout=60s
pcs cluster cib-push "$CIB" --config
