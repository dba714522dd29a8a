# RPM %post: create the service user and, on first install, the configuration and the master key.
# $1 is 1 on a first install, 2 or more on an upgrade.
getent group whatsapi >/dev/null || groupadd --system whatsapi
getent passwd whatsapi >/dev/null || useradd --system --gid whatsapi --home-dir /var/lib/whatsapi \
    --no-create-home --shell /sbin/nologin --comment "WhatsAPI Pro" whatsapi
install -d -m 0750 -o root -g whatsapi /etc/whatsapi
install -d -m 0700 -o whatsapi -g whatsapi /var/lib/whatsapi
# The keystore (the accounts' data keys) is written by the service, outside the data directory.
install -d -m 0700 -o whatsapi -g whatsapi /var/lib/whatsapi-keys
# Creates only what is missing: an upgrade never replaces the configuration or the key.
/usr/bin/whatsapi init --config /etc/whatsapi/config.toml --key-file /etc/whatsapi/master.key \
    --data-dir /var/lib/whatsapi --keystore /var/lib/whatsapi-keys/master.keystore
# A configuration written before the keystore existed gets its place (the default, beside the key in
# /etc/whatsapi, is not writable by the service).
grep -q '^keystore *=' /etc/whatsapi/config.toml ||
    sed -i '/^key_file *=/a keystore = "/var/lib/whatsapi-keys/master.keystore"' /etc/whatsapi/config.toml
chown root:whatsapi /etc/whatsapi/config.toml && chmod 0640 /etc/whatsapi/config.toml
chown whatsapi:whatsapi /etc/whatsapi/master.key && chmod 0600 /etc/whatsapi/master.key
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
    # Enabled, not started, as with the .deb: start it once the configuration is reviewed.
    systemctl --no-reload enable whatsapi.service >/dev/null 2>&1 || :
else
    # Upgrade: restart the service only if it is running.
    systemctl try-restart whatsapi.service >/dev/null 2>&1 || :
fi
