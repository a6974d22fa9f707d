#!/bin/sh
# Create the service account before files owned by it are installed.
set -e
if ! getent group tabhook >/dev/null 2>&1; then
  groupadd --system tabhook
fi
if ! getent passwd tabhook >/dev/null 2>&1; then
  useradd --system --gid tabhook --home-dir /var/lib/tabhook --no-create-home \
    --shell /usr/sbin/nologin --comment "tabhook relay" tabhook
fi
