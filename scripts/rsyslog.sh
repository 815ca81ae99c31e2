#!/usr/bin/env bash
# Makes sure Debian's rsyslog (with its GnuTLS driver) is there for the
# syslog sink's tests against a real daemon (agent, TestSyslogThroughRsyslog),
# installing the distribution's packages when rsyslogd is not found (needs
# root or sudo); the tests start their own rsyslogd on loopback ports and
# never touch the system's. $RSYSLOGD names another binary.
set -euo pipefail

found() {
  [ -n "${RSYSLOGD:-}" ] && [ -x "$RSYSLOGD" ] && return 0
  command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ]
}

if found && { [ -n "${RSYSLOGD:-}" ] || compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null; }; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "rsyslog: not found and no apt-get here; install rsyslog with its gtls driver and set RSYSLOGD=/path/to/rsyslogd" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "rsyslog: installing the distribution's packages (rsyslog, rsyslog-gnutls)"
$sudo apt-get update -qq
# policy-rc.d keeps the package from starting the system's daemon where one
# is set (containers); the tests run their own.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rsyslog rsyslog-gnutls
