# hblab-mail.sh: what the mail init scripts (mailer, pop3, imapd) share; sourced, not run.
#
# Where the mail lives: on the shared disk when the node's ha.d has hblab-disk.conf (the topology's
# `shared_disk:`), as <mount point>/mail, the mount point being what hblab-claim made; else a local
# directory (a lone node, or a user's own ha.d without the lab's disk). The mail spool (postfix's queue)
# and the mailboxes both live there, so a mail acknowledged by one node is delivered or read by the other.
# Settings: <config-dir>/hblab-service.conf (NODE=, STATE_DIR=) and hblab-disk.conf (STATE_DIR=, DISK_DIR=),
# both written by the lab; without them the node's host name and /var/lib/hblab-mail.
# shellcheck shell=sh disable=SC2034

here=$(cd "$(dirname "$0")" && pwd)
NODE=$(uname -n)
STATE_DIR=/var/lib/hblab-mail
# shellcheck disable=SC1091
[ -r "$here/../hblab-service.conf" ] && . "$here/../hblab-service.conf"
MAIL_DIR=/var/lib/hblab-mail/mail
MOUNT=""
if [ -r "$here/../hblab-disk.conf" ]; then
  # shellcheck disable=SC1091
  . "$here/../hblab-disk.conf"
  # With one disk per group, the mail group's mount point (the lab writes it into hblab-service.conf).
  MOUNT=${MOUNT_mailer:-$STATE_DIR/disk}
fi
MAIL_DOMAIN=lab.test
MAILBOX=probe           # every address of the domain is delivered into this one Maildir
MAIL_UID=8              # Debian's `mail` user and group own the mailboxes
MAIL_PASSWORD=hblab     # POP3 and IMAP: any user name, this password
LOG_DIR=$STATE_DIR

# The mail dir, or exit 1 (LSB: generic error) when the shared disk is not claimed on this node: a mail
# service must never start on a node whose disk is somebody else's.
# One line per step into <state dir>/hblab-mail.log, with the time: where a takeover's seconds go.
stamp() {
  echo "$(date +%H:%M:%S.%N) $(basename "$0") $*" >>"$LOG_DIR/hblab-mail.log"
}

# The mail dir is the mount's target, not a path through it: the mount point sits in hbd's state dir
# (mode 0700), which postfix's and dovecot's unprivileged processes cannot traverse.
need_mail_dir() {
  if [ -n "$MOUNT" ]; then
    if [ ! -d "$MOUNT/" ]; then
      echo "$(basename "$0"): the shared disk is not mounted here ($MOUNT); start hblab-claim first" >&2
      exit 1
    fi
    MAIL_DIR=$(readlink -f "$MOUNT")/mail
    # Postfix reaches its logger by the full path $queue_directory/public/postlog, which must fit a
    # unix socket's 108 bytes: a long run dir does not (postfix then fails silently), this short link does.
    mkdir -p "$MAIL_DIR" && ln -sfn "$MAIL_DIR" /run/hblab-mail && MAIL_DIR=/run/hblab-mail || exit 1
  fi
  mkdir -p "$MAIL_DIR/vmail" || exit 1
  chown "$MAIL_UID:$MAIL_UID" "$MAIL_DIR/vmail" || exit 1
}

# Wait until something listens on TCP PORT (up to 20 s): the VIP that follows in haresources must not
# send clients to a half-started service.
wait_listening() {
  i=0
  while [ $i -lt 200 ]; do
    if ss -Hltn "sport = :$1" | grep -q LISTEN; then return 0; fi
    sleep 0.1
    i=$((i + 1))
  done
  echo "$(basename "$0"): nothing listens on port $1 after 20 s" >&2
  return 1
}

# One dovecot instance serving one protocol (pop3 or imap) from the shared Maildir: its own config, base
# dir and pid, so hbd starts and stops pop3 and imapd independently, as the article's haresources does.
# The greeting names the node ("+OK <node> pop3 ready."): the client reads who answered from it.
dovecot_conf() {  # PROTO -> path of the instance's config (written on start)
  echo "/etc/dovecot/hblab-$1.conf"
}

dovecot_write_conf() {  # PROTO
  cat >"$(dovecot_conf "$1")" <<CONF
# Written by $(basename "$0") start (lab/node/service/hblab-mail.sh): the $1 instance of the article's mail server.
protocols = $1
listen = *
base_dir = /run/dovecot-$1
instance_name = dovecot-$1
state_dir = /var/lib/dovecot-$1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
login_greeting = $NODE $1 ready.
first_valid_uid = $MAIL_UID
mail_location = maildir:$MAIL_DIR/vmail/$MAILBOX:INDEX=MEMORY
pop3_uidl_format = %08Xu%08Xv
# The lab's one client opens overlapping sessions from one address (a probe every few ms, and the final
# inventory); dovecot's default of 10 per user and IP refused the inventory after a takeover.
protocol $1 {
  mail_max_userip_connections = 1000
}
log_path = $LOG_DIR/dovecot-$1.log
passdb {
  driver = static
  args = password=$MAIL_PASSWORD
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_UID home=$MAIL_DIR/vmail/$MAILBOX
}
CONF
}

# A live process (a zombie is not: where nothing reaps the master, it must not look running).
alive() {  # PID
  [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

dovecot_running() {  # PROTO
  pid=$(cat "/run/dovecot-$1/master.pid" 2>/dev/null) && [ -n "$pid" ] && alive "$pid"
}

dovecot_action() {  # PROTO PORT start|stop|status
  case $3 in
    start)
      if dovecot_running "$1"; then exit 0; fi
      need_mail_dir
      mkdir -p "/var/lib/dovecot-$1" || exit 1
      dovecot_write_conf "$1" || exit 1
      dovecot -c "$(dovecot_conf "$1")" || exit 1
      wait_listening "$2" || exit 1
      exit 0 ;;
    stop)
      if ! dovecot_running "$1"; then exit 0; fi
      pid=$(cat "/run/dovecot-$1/master.pid")
      kill "$pid" 2>/dev/null
      i=0  # dovecot's master exits after its children; LSB stop returns once it is gone
      while alive "$pid"; do
        if [ $i -ge 100 ]; then kill -KILL "$pid" 2>/dev/null; break; fi
        sleep 0.1
        i=$((i + 1))
      done
      exit 0 ;;
    status)
      if dovecot_running "$1"; then echo running; exit 0; fi
      echo "not running"; exit 3 ;;
    *)
      echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
}
