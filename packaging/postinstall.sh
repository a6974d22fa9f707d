#!/bin/sh
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
cat <<'MSG'
tabhook installed. Next:
  1. edit /etc/tabhook/config.yaml
  2. put the Tableau PAT secret in /etc/tabhook/credentials/tableau-pat-secret
     and the Slack bot token in /etc/tabhook/credentials/slack-token (mode 0600)
  3. sudo -u tabhook tabhook doctor --config /etc/tabhook/config.yaml
  4. systemctl enable --now tabhook
MSG
