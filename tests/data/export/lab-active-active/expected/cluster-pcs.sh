#!/bin/sh
# Written by `hbd export pacemaker` from /etc/ha.d (ha.cf, haresources, authkeys).
# Not carried over, to fill in, or to know (nothing is dropped silently):
# - [dropped] /etc/ha.d/ha.cf:5: warntime 500ms: Corosync has no late-heartbeat warning (`corosync-cfgtool -s` shows each link's state)
# - [dropped] /etc/ha.d/ha.cf:12: serial:/dev/ttyS0: knet has no serial links; give the nodes another network path instead
# - [dropped] /etc/ha.d/ha.cf:14: hbd_builtin_ipaddr on: Pacemaker always runs the IPaddr2 agent (a script per action, no in-process path)
# - [dropped] /etc/ha.d/haresources:2: hblab-service::2525::mail: arguments 2525 mail dropped: an LSB resource takes none (wrap lsb:hblab-service in an OCF agent with parameters to keep them)
# - [dropped] /etc/ha.d/haresources:3: hblab-service::8080::web: arguments 8080 web dropped: an LSB resource takes none (wrap lsb:hblab-service in an OCF agent with parameters to keep them)
# - [dropped] /etc/ha.d/haresources:3: hblab-service::5432::db: arguments 5432 db dropped: an LSB resource takes none (wrap lsb:hblab-service in an OCF agent with parameters to keep them)
# - [warning] token 454 ms (from deadtime) is below Corosync's default 3000 ms: a loaded node may lose membership; raise deadtime if that happens
# - [warning] no monitor operation on hblab-service-2525-mail, ip-192-168-77-51, hblab-service-8080-web, hblab-service-5432-db, ip-192-168-77-52: as under hbd without hbd_monitor, a failed service is not noticed; add `op monitor interval=...` to have Pacemaker restart it
# - [warning] no stonith_host lines: fencing is disabled (stonith-enabled=false). This is unsafe: Pacemaker cannot make sure a lost node is really dead, so after a network split both nodes run the groups (two owners of a VIP, a shared disk mounted twice). Configure a fence device and set stonith-enabled=true
# - [warning] /etc/ha.d/haresources:2: hblab-service: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-service: install it as /etc/init.d/hblab-service (Pacemaker looks for LSB scripts only there) or write an OCF agent
# - [warning] /etc/ha.d/haresources:3: hblab-service: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-service: install it as /etc/init.d/hblab-service (Pacemaker looks for LSB scripts only there) or write an OCF agent
# - [warning] /etc/ha.d/haresources:3: hblab-service: a script of /etc/ha.d/resource.d with no OCF equivalent, exported as lsb:hblab-service: install it as /etc/init.d/hblab-service (Pacemaker looks for LSB scripts only there) or write an OCF agent
#
# The nodes and their ids come from corosync.conf (written beside this script).
set -eu
CIB="${CIB:-hbd-export-cib.xml}"
# PCS_OPTS=--force creates resources whose agents are not installed here (yet)
PCS_OPTS="${PCS_OPTS:-}"
pcs cluster cib "$CIB"
# WARNING: fencing disabled (no stonith_host lines): unsafe, see the top of this file
pcs -f "$CIB" property set stonith-enabled=false dc-deadtime=12s
pcs -f "$CIB" $PCS_OPTS resource create hblab-service-2525-mail lsb:hblab-service --group grp-hblab-service-2525-mail --no-default-ops
pcs -f "$CIB" resource op remove hblab-service-2525-mail monitor
pcs -f "$CIB" $PCS_OPTS resource create ip-192-168-77-51 ocf:heartbeat:IPaddr2 ip=192.168.77.51 cidr_netmask=24 nic=eth0 --group grp-hblab-service-2525-mail --no-default-ops
pcs -f "$CIB" resource op remove ip-192-168-77-51 monitor
pcs -f "$CIB" $PCS_OPTS resource create hblab-service-8080-web lsb:hblab-service --group grp-hblab-service-8080-web --no-default-ops
pcs -f "$CIB" resource op remove hblab-service-8080-web monitor
pcs -f "$CIB" $PCS_OPTS resource create hblab-service-5432-db lsb:hblab-service --group grp-hblab-service-8080-web --no-default-ops
pcs -f "$CIB" resource op remove hblab-service-5432-db monitor
pcs -f "$CIB" $PCS_OPTS resource create ip-192-168-77-52 ocf:heartbeat:IPaddr2 ip=192.168.77.52 cidr_netmask=24 nic=eth0 --group grp-hblab-service-8080-web --no-default-ops
pcs -f "$CIB" resource op remove ip-192-168-77-52 monitor
pcs -f "$CIB" $PCS_OPTS resource create ping ocf:pacemaker:ping host_list=192.168.77.100 multiplier=1000 dampen=1s op monitor interval=200ms --no-default-ops
pcs -f "$CIB" resource clone ping
pcs -f "$CIB" constraint location add loc-grp-hblab-service-2525-mail-home grp-hblab-service-2525-mail bob 100
pcs -f "$CIB" constraint location add loc-grp-hblab-service-8080-web-home grp-hblab-service-8080-web bobek 100
pcs -f "$CIB" constraint location grp-hblab-service-2525-mail rule constraint-id=loc-grp-hblab-service-2525-mail-ping score-attribute=pingd defined pingd
pcs -f "$CIB" constraint location grp-hblab-service-8080-web rule constraint-id=loc-grp-hblab-service-8080-web-ping score-attribute=pingd defined pingd
pcs -f "$CIB" resource defaults update resource-stickiness=200
pcs -f "$CIB" resource op defaults update timeout=60s
pcs cluster cib-push "$CIB" --config
