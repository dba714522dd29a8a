# RPM %postun. Erasing keeps the data, the master key and an edited configuration (rpm saves it as
# /etc/whatsapi/config.toml.rpmsave); it deletes them only when WHATSAPI_PURGE_DATA=yes is set.
# $1 is 0 on erase, 1 or more on upgrade.
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 0 ]; then
    if [ "${WHATSAPI_PURGE_DATA:-}" = "yes" ]; then
        rm -rf /etc/whatsapi /var/lib/whatsapi /var/lib/whatsapi-keys /var/lib/whatsapi-backups
        echo "whatsapi: WHATSAPI_PURGE_DATA=yes: deleted the configuration and the master key (/etc/whatsapi)," \
            "the data (/var/lib/whatsapi), the keystore (/var/lib/whatsapi-keys) and the scheduled backups" \
            "(/var/lib/whatsapi-backups). Keystore mirrors ([storage] keystore_mirrors) and backups elsewhere are left as they are." >&2
    else
        echo "whatsapi: kept the master key (/etc/whatsapi/master.key), an edited configuration (/etc/whatsapi/config.toml.rpmsave)," \
            "the data (/var/lib/whatsapi), the keystore (/var/lib/whatsapi-keys) and the scheduled backups" \
            "(/var/lib/whatsapi-backups). The master key and the keystore are the only way into the backups:" \
            "keep a copy before deleting them. To delete all of it: rm -rf /etc/whatsapi /var/lib/whatsapi" \
            "/var/lib/whatsapi-keys /var/lib/whatsapi-backups (erasing with WHATSAPI_PURGE_DATA=yes set does it)." >&2
    fi
fi
exit 0
