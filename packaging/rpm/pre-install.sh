# RPM %pre: the service user and group, before the files are laid (the configuration belongs to its group).
# $1 is 1 on a first install, 2 or more on an upgrade.
getent group whatsapi >/dev/null || groupadd --system whatsapi
getent passwd whatsapi >/dev/null || useradd --system --gid whatsapi --home-dir /var/lib/whatsapi \
    --no-create-home --shell /sbin/nologin --comment "WhatsAPI Pro" whatsapi
exit 0
