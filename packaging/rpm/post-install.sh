# RPM %post: the directories, and the master key, created on the first install and never replaced. The
# configuration is %config(noreplace): rpm keeps an edited one on upgrade (the new default goes beside it
# as config.toml.rpmnew). Needs no running systemd: every systemctl call may fail.
# $1 is 1 on a first install, 2 or more on an upgrade.
install -d -m 0750 -o root -g whatsapi /etc/whatsapi
install -d -m 0700 -o whatsapi -g whatsapi /var/lib/whatsapi
# The keystore (the accounts' data keys) is written by the service, outside the data directory.
install -d -m 0700 -o whatsapi -g whatsapi /var/lib/whatsapi-keys
# Scheduled backups ([backup] dir of the packaged configuration), outside the data directory.
install -d -m 0700 -o whatsapi -g whatsapi /var/lib/whatsapi-backups
# Writes only what is missing: the key on the first install (and the configuration, had it been deleted);
# an existing key is read to check it, never replaced.
whatsapi init --config /etc/whatsapi/config.toml --key-file /etc/whatsapi/master.key \
    --data-dir /var/lib/whatsapi --keystore /var/lib/whatsapi-keys/master.keystore \
        --backup-dir /var/lib/whatsapi-backups >/dev/null || exit 1
chown root:whatsapi /etc/whatsapi/config.toml && chmod 0640 /etc/whatsapi/config.toml
chown whatsapi:whatsapi /etc/whatsapi/master.key && chmod 0600 /etc/whatsapi/master.key
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
    # Enabled, not started, as with the .deb: start it once the configuration is reviewed.
    systemctl --no-reload enable whatsapi.service >/dev/null 2>&1 || :
    echo "whatsapi: installed and enabled, not started. Keep a copy of /etc/whatsapi/master.key apart from" \
        "the backups (it is the only way into them), review /etc/whatsapi/config.toml (at least" \
        "[server] public_url and [smtp]), then: systemctl start whatsapi; the link that creates the first" \
        "operator is in: journalctl -u whatsapi"
else
    # Upgrade: restart the service only if it is running; the database is migrated as it starts.
    systemctl try-restart whatsapi.service >/dev/null 2>&1 || :
    echo "whatsapi: upgraded; the configuration, the key and the data are kept. The database is migrated" \
        "when the service next starts; a running service is restarted now, a stopped one stays stopped."
fi
exit 0
