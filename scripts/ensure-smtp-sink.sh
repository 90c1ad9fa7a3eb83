#!/usr/bin/env bash
# Installs Debian's postfix package if Postfix's smtp-sink is missing. The
# tests send mail over SMTP to smtp-sink, a real SMTP server that writes
# what it receives to files. "No configuration": the package only provides
# the binaries; no mail system is set up or started.
set -euo pipefail
[ -x /usr/sbin/smtp-sink ] && exit 0
echo "installing postfix (for smtp-sink)" >&2
if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postfix >/dev/null
[ -x /usr/sbin/smtp-sink ] || { echo "postfix installed but /usr/sbin/smtp-sink is missing" >&2; exit 1; }
