#!/bin/sh
# Written by `hbd export pacemaker` from /etc/ha.d (ha.cf, haresources, authkeys).
# Not carried over, to fill in, or to know (nothing is dropped silently):
# - [dropped] /etc/ha.d/ha.cf:2: debugfile /var/log/ha-debug: Corosync logs to /var/log/corosync/corosync.log, Pacemaker to /var/log/pacemaker/pacemaker.log
# - [dropped] /etc/ha.d/ha.cf:3: logfile /var/log/ha-log: Corosync logs to /var/log/corosync/corosync.log, Pacemaker to /var/log/pacemaker/pacemaker.log
# - [dropped] /etc/ha.d/ha.cf:7: serial:/dev/ttyS0: knet has no serial links; give the nodes another network path instead
# - [dropped] /etc/ha.d/ha.cf:8: baud 19200: serial media have no knet equivalent
# - [dropped] /etc/ha.d/ha.cf:9: udpport 694: Corosync uses its own port (5405 by default), so hbd and Corosync can run side by side during the move
# - [placeholder] @PLACEHOLDER:bob:eth1@: bob's address on eth1 (hbd's files give no address for it); replace it (or give the export's address option bob:eth1=IP)
# - [placeholder] @PLACEHOLDER:bobek:eth1@: bobek's address on eth1 (hbd's files give no address for it); replace it (or give the export's address option bobek:eth1=IP)
# - [warning] no monitor operation on mailer, pop3, imapd, ip-192-168-0-250: as under hbd without hbd_monitor, a failed service is not noticed; add `op monitor interval=...` to have Pacemaker restart it
# - [warning] no stonith_host lines: fencing is disabled (stonith-enabled=false). This is unsafe: Pacemaker cannot make sure a lost node is really dead, so after a network split both nodes run the groups (two owners of a VIP, a shared disk mounted twice). Configure a fence device and set stonith-enabled=true
#
# The nodes and their ids come from corosync.conf (written beside this script).
set -eu
CIB="${CIB:-hbd-export-cib.xml}"
# PCS_OPTS=--force creates resources whose agents are not installed here (yet)
PCS_OPTS="${PCS_OPTS:-}"
pcs cluster cib "$CIB"
# WARNING: fencing disabled (no stonith_host lines): unsafe, see the top of this file
pcs -f "$CIB" property set stonith-enabled=false dc-deadtime=20s
pcs -f "$CIB" $PCS_OPTS resource create mailer lsb:mailer --group grp-mailer --no-default-ops
pcs -f "$CIB" resource op remove mailer monitor
pcs -f "$CIB" $PCS_OPTS resource create pop3 lsb:pop3 --group grp-mailer --no-default-ops
pcs -f "$CIB" resource op remove pop3 monitor
pcs -f "$CIB" $PCS_OPTS resource create imapd lsb:imapd --group grp-mailer --no-default-ops
pcs -f "$CIB" resource op remove imapd monitor
pcs -f "$CIB" $PCS_OPTS resource create ip-192-168-0-250 ocf:heartbeat:IPaddr2 ip=192.168.0.250 cidr_netmask=24 --group grp-mailer --no-default-ops
pcs -f "$CIB" resource op remove ip-192-168-0-250 monitor
pcs -f "$CIB" constraint location add loc-grp-mailer-home grp-mailer bob 100
pcs -f "$CIB" resource defaults update resource-stickiness=200
pcs -f "$CIB" resource op defaults update timeout=60s
pcs cluster cib-push "$CIB" --config
